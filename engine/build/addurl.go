package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
)

// isURL tells whether an ADD source is an http(s) URL to download.
func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// isGitSource tells whether an ADD source names a git repository, as
// BuildKit reads it.
func isGitSource(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "ssh://") {
		return true
	}
	if !isURL(s) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && strings.HasSuffix(u.Path, ".git")
}

// checkChecksum checks ADD --checksum: one source, a URL, and a digest.
func checkChecksum(cp *copyStep) error {
	if len(cp.URLs) != 1 || len(cp.Sources)+len(cp.Inline) > 0 {
		return fmt.Errorf("--checksum=%s: ADD --checksum takes a single http(s) URL source", cp.Checksum)
	}
	if _, err := digest.Parse(cp.Checksum); err != nil {
		return fmt.Errorf("--checksum=%s: not a digest (sha256:<64 hex digits>): %w", cp.Checksum, err)
	}
	return nil
}

// urlName is the name of a downloaded file: the last element of the URL's
// path, as BuildKit names it.
func urlName(raw string) string {
	u, err := url.Parse(raw)
	if err == nil {
		if b := path.Base(u.Path); b != "." && b != "/" {
			return b
		}
	}
	return "__unnamed__"
}

// download fetches the URL of an ADD into a new scratch file of the cache
// and returns it as a source file: named after the URL, mode 0600 and
// modified at the response's Last-Modified (the epoch when it has none),
// as BuildKit writes it. A --checksum that does not match is an error, and
// so is any answer but 200. With BERTH_NO_OUTBOUND=1 (the image store
// keeps to local registries) only loopback hosts are reached.
func (b *Builder) download(ctx context.Context, raw, checksum string, extract bool) (_ srcFile, retErr error) {
	fail := func(err error) (srcFile, error) { return srcFile{}, fmt.Errorf("ADD %s: %w", raw, err) }
	u, err := url.Parse(raw)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", err, errdefs.ErrInvalidArgument))
	}
	if b.images.LocalRegistriesOnly() && !isLoopbackHost(u.Hostname()) {
		return fail(fmt.Errorf("host %s is off this machine, and BERTH_NO_OUTBOUND=1 keeps downloads on it: %w", u.Hostname(), errdefs.ErrUnavailable))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return fail(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(fmt.Errorf("%w: %w", err, errdefs.ErrUnavailable))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("the server answered %s: %w", resp.Status, errdefs.ErrNotFound))
	}
	tmp := b.cache.tempName()
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fail(err)
	}
	defer func() {
		if retErr != nil {
			_ = os.Remove(tmp)
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if checksum != "" && got != checksum {
		return fail(fmt.Errorf("checksum mismatch: the download is %s, --checksum wants %s: %w", got, checksum, errdefs.ErrDataLoss))
	}
	mtime := time.Unix(0, 0).UTC()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		mtime = lm.UTC()
	}
	fi := &looseInfo{name: urlName(raw), size: n, mode: 0o600, mtime: mtime}
	return srcFile{abs: tmp, fi: fi, extract: extract && isArchive(tmp)}, nil
}

// isLoopbackHost tells whether host is this machine's loopback.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// looseSources are the files of a COPY or ADD that are not in its source
// tree: its heredocs (mode 0644) and its downloads. The cleanup function
// removes the downloads.
func (r *run) looseSources(ctx context.Context, cp *copyStep) ([]srcFile, func() error, error) {
	var out []srcFile
	var tmps []string
	cleanup := func() error {
		var errs []error
		for _, t := range tmps {
			errs = append(errs, os.Remove(t))
		}
		return errors.Join(errs...)
	}
	for _, raw := range cp.URLs {
		f, err := r.b.download(ctx, raw, cp.Checksum, cp.Unpack != nil && *cp.Unpack)
		if err != nil {
			return nil, nil, errors.Join(err, cleanup())
		}
		tmps = append(tmps, f.abs)
		out = append(out, f)
	}
	for _, in := range cp.Inline {
		fi := &looseInfo{name: path.Base("/" + in.Name), size: int64(len(in.Data)), mode: 0o644, mtime: time.Unix(0, 0).UTC()}
		out = append(out, srcFile{data: []byte(in.Data), fi: fi})
	}
	return out, cleanup, nil
}

var _ fs.FileInfo = (*looseInfo)(nil)
