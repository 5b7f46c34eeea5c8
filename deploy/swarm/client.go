package swarm

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/errdefs"
)

// maxAPIVersion is the newest Engine API version berth asks for; a daemon
// that speaks an older one is talked to in its own.
const maxAPIVersion = "1.47"

// Endpoint is how to reach a Docker Engine: Host is "unix:///path" or
// "tcp://host:port"; TLSDir, when set, holds ca.pem, cert.pem and key.pem.
type Endpoint struct {
	Host          string
	TLSDir        string
	SkipTLSVerify bool
}

// client speaks the Engine API over HTTP. It is safe for concurrent use.
type client struct {
	http    *http.Client
	base    string // scheme://host, without the version
	version string // "v1.41"
}

// dial makes a client for e and negotiates the API version with the daemon.
func dial(ctx context.Context, e Endpoint) (*client, error) {
	u, err := url.Parse(e.Host)
	if err != nil || u.Scheme == "" {
		return nil, fmt.Errorf("docker host %q: want unix:///path or tcp://host:port: %w", e.Host, errdefs.ErrInvalidArgument)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 30 * time.Second}
	c := &client{http: &http.Client{Transport: tr}}
	switch u.Scheme {
	case "unix":
		path := u.Path
		tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.base = "http://docker"
	case "tcp", "http", "https":
		scheme := "http"
		if e.TLSDir != "" || u.Scheme == "https" {
			scheme = "https"
			cfg, err := tlsConfig(e)
			if err != nil {
				return nil, err
			}
			tr.TLSClientConfig = cfg
		}
		c.base = scheme + "://" + u.Host
	default:
		return nil, fmt.Errorf("docker host %q: scheme %q: want unix or tcp: %w", e.Host, u.Scheme, errdefs.ErrInvalidArgument)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/_ping", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("docker host %s: %w", e.Host, err)
	}
	_ = resp.Body.Close()
	v := resp.Header.Get("Api-Version")
	if v == "" || versionLess(maxAPIVersion, v) {
		v = maxAPIVersion
	}
	c.version = "v" + v
	return c, nil
}

func tlsConfig(e Endpoint) (*tls.Config, error) {
	cfg := &tls.Config{InsecureSkipVerify: e.SkipTLSVerify} //nolint:gosec // the user's choice, as the docker CLI's
	if e.TLSDir == "" {
		return cfg, nil
	}
	if ca, err := os.ReadFile(filepath.Join(e.TLSDir, "ca.pem")); err == nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		cfg.RootCAs = pool
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.TLSDir, "cert.pem"), filepath.Join(e.TLSDir, "key.pem"))
	if err == nil {
		cfg.Certificates = []tls.Certificate{cert}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("TLS client certificate in %s: %w", e.TLSDir, err)
	}
	return cfg, nil
}

// versionLess compares API versions "1.41" < "1.47".
func versionLess(a, b string) bool {
	var am, an, bm, bn int
	_, _ = fmt.Sscanf(a, "%d.%d", &am, &an)
	_, _ = fmt.Sscanf(b, "%d.%d", &bm, &bn)
	return am < bm || am == bm && an < bn
}

// do sends a request with body encoded as JSON (nil: none) and decodes the
// response into out (nil: discarded). A non-2xx answer is an error with
// the daemon's message, classified with errdefs by status code.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	resp, err := c.send(ctx, method, path, query, rd, body != nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// stream is a GET whose answer the caller reads as it comes (logs) and
// must close.
func (c *client) stream(ctx context.Context, path string, query url.Values) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, query, nil, false)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// send makes the request and turns a non-2xx answer into an error with the
// daemon's message, classified with errdefs by status code.
func (c *client) send(ctx context.Context, method, path string, query url.Values, body io.Reader, isJSON bool) (*http.Response, error) {
	u := c.base + "/" + c.version + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var msg struct{ Message string }
		if json.Unmarshal(b, &msg) != nil || msg.Message == "" {
			msg.Message = strings.TrimSpace(string(b))
		}
		class := statusClass(resp.StatusCode)
		if strings.Contains(msg.Message, "update out of sequence") {
			// Swarm answers a stale version with a 500: another client
			// changed the object since it was read.
			class = errdefs.ErrConflict
		}
		return nil, fmt.Errorf("%s: %w", msg.Message, class)
	}
	return resp, nil
}

func statusClass(code int) error {
	switch code {
	case http.StatusNotFound:
		return errdefs.ErrNotFound
	case http.StatusConflict:
		return errdefs.ErrConflict
	case http.StatusBadRequest:
		return errdefs.ErrInvalidArgument
	case http.StatusServiceUnavailable:
		return errdefs.ErrUnavailable
	case http.StatusNotImplemented:
		return errdefs.ErrNotImplemented
	}
	return errdefs.ErrUnknown
}

// filters encodes Engine API filters: {"label": ["a=b"]}.
func filters(kv ...string) url.Values {
	f := map[string][]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = append(f[kv[i]], kv[i+1])
	}
	b, _ := json.Marshal(f)
	return url.Values{"filters": {string(b)}}
}
