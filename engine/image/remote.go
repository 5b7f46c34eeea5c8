package image

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DefaultPlatform is the platform Pull picks from a multi-platform image
// when PullOptions.Platform is empty: Linux on the host's architecture
// (linux/amd64 on an amd64 host).
var DefaultPlatform = "linux/" + runtime.GOARCH

// userAgent is sent to registries.
const userAgent = "berth"

// registryClient talks to one repository of a registry with credentials
// resolved once: the authentication handshake (ping, token) is done when
// it is made, and every request of a pull or push reuses it.
type registryClient struct {
	repo name.Repository
	tr   http.RoundTripper // authenticated; a *transport.Wrapper, so ggcr adds nothing
	http *http.Client
}

// remoteRef turns a normalised reference into go-containerregistry's,
// letting registries on this machine (isLocalRegistry) speak plain HTTP:
// Docker allows that for loopback; berth also for the addresses of its own
// interfaces, where a test or CI registry serves a bridge.
func remoteRef(norm string) (name.Reference, error) {
	r, err := name.ParseReference(norm)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w (%w)", norm, err, errdefs.ErrInvalidArgument)
	}
	if !isLocalRegistry(r.Context().RegistryStr()) {
		return r, nil
	}
	r, err = name.ParseReference(norm, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w (%w)", norm, err, errdefs.ErrInvalidArgument)
	}
	return r, nil
}

// isLocalRegistry reports whether host ("name[:port]") is on this machine:
// localhost, a loopback address, or an address of one of its interfaces (a
// registry on a bridge of its own). Such a registry may speak plain HTTP:
// ggcr tries HTTPS first and falls back.
func isLocalRegistry(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	if ip == nil {
		return false
	}
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// newRegistryClient resolves credentials for repo from kc (nil: the Docker
// keychain, ~/.docker/config.json and credential helpers) and does the
// authentication handshake for scope (transport.PullScope or PushScope).
// base nil is ggcr's default transport. Requests that fail on the way
// (connection reset, 5xx, 429) are retried a few times.
func newRegistryClient(ctx context.Context, repo name.Repository, kc authn.Keychain, base http.RoundTripper, scope string) (*registryClient, error) {
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	auth, err := authn.Resolve(ctx, kc, repo)
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", repo.RegistryStr(), err)
	}
	if base == nil {
		base = remote.DefaultTransport
	}
	base = transport.NewRetry(base, transport.WithRetryStatusCodes(
		http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout))
	base = transport.NewUserAgent(base, userAgent)
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, base, []string{repo.Scope(scope)})
	if err != nil {
		return nil, registryError(ctx, err)
	}
	return &registryClient{repo: repo, tr: tr, http: &http.Client{Transport: tr}}, nil
}

// blobURL is where the registry serves the blob h.
func (c *registryClient) blobURL(h v1.Hash) string {
	return fmt.Sprintf("%s://%s/v2/%s/blobs/%s", c.repo.Scheme(), c.repo.RegistryStr(), c.repo.RepositoryStr(), h)
}

// registryError classifies an error of a registry request with errdefs and
// shortens the registry's answer to what a user needs: "manifest unknown"
// rather than the request line and JSON body. Context errors pass through.
func registryError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var te *transport.Error
	if !errors.As(err, &te) {
		// The ping tries HTTPS and HTTP and joins both failures: the
		// first network error says enough.
		if oe := (*net.OpError)(nil); errors.As(err, &oe) {
			return fmt.Errorf("registry unreachable: %w (%w)", oe, errdefs.ErrUnavailable)
		}
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("%w (%w)", err, errdefs.ErrUnavailable)
		}
		return err
	}
	for _, d := range te.Errors {
		switch d.Code {
		case transport.ManifestUnknownErrorCode:
			return fmt.Errorf("manifest unknown: %w", errdefs.ErrNotFound)
		case transport.NameUnknownErrorCode:
			// Registries differ: distribution says MANIFEST_UNKNOWN for a
			// tag of an unknown repository, others NAME_UNKNOWN.
			return fmt.Errorf("manifest unknown: no such repository: %w", errdefs.ErrNotFound)
		case transport.BlobUnknownErrorCode:
			return fmt.Errorf("blob unknown: %w", errdefs.ErrNotFound)
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return fmt.Errorf("access denied: the repository does not exist or needs credentials (docker login): %s: %w", d.Message, errdefs.ErrPermissionDenied)
		case transport.TooManyRequestsErrorCode:
			return fmt.Errorf("too many requests: %s: %w", d.Message, errdefs.ErrResourceExhausted)
		case transport.UnsupportedErrorCode:
			return fmt.Errorf("unsupported by the registry: %s: %w", d.Message, errdefs.ErrNotImplemented)
		}
	}
	msg := te.Error()
	if te.Request != nil {
		// Drop "GET https://…: ", the reference is named by the caller.
		msg = strings.TrimPrefix(msg, te.Request.Method+" ")
		if i := strings.Index(msg, ": "); i >= 0 {
			msg = msg[i+2:]
		}
	}
	switch code := te.StatusCode; {
	case code == http.StatusNotFound:
		return fmt.Errorf("%s: %w", msg, errdefs.ErrNotFound)
	case code == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w", msg, errdefs.ErrUnauthenticated)
	case code == http.StatusForbidden:
		return fmt.Errorf("%s: %w", msg, errdefs.ErrPermissionDenied)
	case code == http.StatusTooManyRequests:
		return fmt.Errorf("%s: %w", msg, errdefs.ErrResourceExhausted)
	case code >= 500:
		return fmt.Errorf("%s: %w", msg, errdefs.ErrUnavailable)
	}
	return fmt.Errorf("%s: %w", msg, errdefs.ErrUnknown)
}

// parsePlatform parses "os/arch[/variant]"; "" is DefaultPlatform.
func parsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		s = DefaultPlatform
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/amd64: %w", s, errdefs.ErrInvalidArgument)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// platformString formats p as os/arch[/variant].
func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// platformMatches reports whether an image for have runs on want; a want
// without variant takes any variant.
func platformMatches(have v1.Platform, want v1.Platform) bool {
	return have.OS == want.OS && have.Architecture == want.Architecture &&
		(want.Variant == "" || have.Variant == want.Variant)
}

// pickManifest chooses the image manifest for want among the manifests of
// a multi-platform index: an exact variant match first, then the first
// match. None is an errdefs.ErrNotFound error listing the platforms the
// index has (attestation manifests, "unknown/unknown", left out).
func pickManifest(im *v1.IndexManifest, want v1.Platform) (v1.Descriptor, error) {
	var (
		found     *v1.Descriptor
		available []string
	)
	for i, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS != "unknown" {
			available = append(available, platformString(*d.Platform))
		}
		if !platformMatches(*d.Platform, want) {
			continue
		}
		if found == nil || (d.Platform.Variant == want.Variant && found.Platform.Variant != want.Variant) {
			found = &im.Manifests[i]
		}
	}
	if found != nil {
		return *found, nil
	}
	slices.Sort(available)
	available = slices.Compact(available)
	return v1.Descriptor{}, fmt.Errorf("no image for platform %s (the image has %s): %w",
		platformString(want), cmpOrNone(strings.Join(available, ", ")), errdefs.ErrNotFound)
}

func cmpOrNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
