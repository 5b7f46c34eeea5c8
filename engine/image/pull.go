package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// pullJobs is how many layers a pull downloads at once (Docker does 3).
const pullJobs = 4

// downloadAttempts is how many times a layer download that broke off
// (connection reset, truncated body, 5xx) is tried before the pull fails.
const downloadAttempts = 3

// retryDelay is the wait before the second attempt; it grows linearly.
var retryDelay = 250 * time.Millisecond

// progressEvery is the least time between two PullDownloading events of
// one layer.
const progressEvery = 100 * time.Millisecond

// PullStatus is the state of one layer during a pull.
type PullStatus string

// A layer goes from waiting to downloading (events repeat as bytes arrive),
// verifying and done, or straight to already exists. Retrying means a
// download broke off and starts again from its first byte.
const (
	PullWaiting     PullStatus = "waiting"
	PullDownloading PullStatus = "downloading"
	PullRetrying    PullStatus = "retrying"
	PullVerifying   PullStatus = "verifying"
	PullDone        PullStatus = "done"
	PullExists      PullStatus = "already exists"
)

// PullEvent reports the progress of one layer of a pull.
type PullEvent struct {
	Digest string // the layer blob's digest, "sha256:…"
	Size   int64  // its size in bytes, from the manifest
	Done   int64  // bytes downloaded so far
	Status PullStatus
}

// PullOptions change what Pull fetches and report its progress.
type PullOptions struct {
	// Platform chooses the image of a multi-platform index, as
	// "os/arch[/variant]"; "" is DefaultPlatform.
	Platform string
	// Progress, if set, receives the events of every layer. Calls are
	// serialised (never two at once) and come from several goroutines;
	// Progress must return quickly, it holds up the downloads.
	Progress func(PullEvent)
	// Keychain finds credentials; nil is authn.DefaultKeychain
	// (~/.docker/config.json and its credential helpers).
	Keychain authn.Keychain
	// Transport carries the requests; nil is go-containerregistry's
	// default (proxy from the environment, TLS).
	Transport http.RoundTripper
}

// doPull is Pull, without recording its event.
func (s *Store) doPull(ctx context.Context, ref string, opt PullOptions) (*Image, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, fmt.Errorf("pull: %w", err)
	}
	norm := canonical(r)
	if err := s.checkRegistry(norm); err != nil {
		return nil, fmt.Errorf("pull %q: %w", ref, err)
	}
	img, err := s.pull(ctx, norm, opt)
	if err != nil {
		return nil, fmt.Errorf("pull %q: %w", norm, err)
	}
	if err := s.recordPull(norm, time.Now()); err != nil {
		return nil, err
	}
	return img, nil
}

func (s *Store) pull(ctx context.Context, norm string, opt PullOptions) (_ *Image, retErr error) {
	want, err := parsePlatform(opt.Platform)
	if err != nil {
		return nil, err
	}
	if isDigestRef(norm) {
		// Content named by digest cannot have changed: no need to ask.
		if img, err := s.Resolve(ctx, norm); err == nil {
			return img, nil
		}
	}
	rref, err := remoteRef(norm)
	if err != nil {
		return nil, err
	}
	rc, err := newRegistryClient(ctx, rref.Context(), opt.Keychain, opt.Transport, transport.PullScope)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(rref, remote.WithContext(ctx), remote.WithTransport(rc.tr))
	if err != nil {
		return nil, registryError(ctx, err)
	}
	img, err := chooseImage(desc, want, opt.Platform != "")
	if err != nil {
		return nil, registryError(ctx, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, registryError(ctx, err)
	}
	if _, err := img.RawConfigFile(); err != nil { // fetched and checked now, before the layers
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, registryError(ctx, err))
	}

	p := &puller{s: s, rc: rc, lease: s.newLease(), progress: opt.Progress}
	defer func() { retErr = errors.Join(retErr, p.lease.release()) }()
	var layers []v1.Descriptor
	seen := map[v1.Hash]bool{}
	for _, l := range m.Layers {
		if !seen[l.Digest] {
			seen[l.Digest] = true
			layers = append(layers, l)
			p.emit(PullEvent{Digest: l.Digest.String(), Size: l.Size, Status: PullWaiting})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(pullJobs)
	for _, l := range layers {
		g.Go(func() error { return p.layer(gctx, l) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	ps := make([]*pending, len(m.Layers))
	for i, l := range m.Layers {
		ps[i] = &pending{digest: l.Digest} // in blobs/, held by the lease
	}
	return s.commit(ctx, norm, img, ps)
}

// chooseImage returns the image desc describes, or, for an index, its image
// for want. A single image made for another platform is refused; strict
// says the caller asked for want (the message differs).
func chooseImage(desc *remote.Descriptor, want v1.Platform, strict bool) (v1.Image, error) {
	switch mt := desc.MediaType; {
	case mt.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		d, err := pickManifest(im, want)
		if err != nil {
			return nil, err
		}
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("manifest %s for %s: media type %s is not an image manifest: %w", d.Digest, platformString(want), d.MediaType, errdefs.ErrNotImplemented)
		}
		return idx.Image(d.Digest)
	case mt == types.DockerManifestSchema1 || mt == types.DockerManifestSchema1Signed:
		return nil, fmt.Errorf("image manifest schema 1 is not supported (the image must be rebuilt or pushed again): %w", errdefs.ErrNotImplemented)
	case !mt.IsImage():
		return nil, fmt.Errorf("media type %s is not an image: %w", mt, errdefs.ErrNotImplemented)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	have := v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	if have.Architecture == "" || platformMatches(have, want) {
		return img, nil
	}
	hint := "; pull it with --platform " + platformString(have) + " to use it anyway"
	if strict {
		hint = ""
	}
	return nil, fmt.Errorf("no image for platform %s (the image has %s%s): %w", platformString(want), platformString(have), hint, errdefs.ErrNotFound)
}

// puller is one Pull's layer downloads.
type puller struct {
	s     *Store
	rc    *registryClient
	lease *lease // holds the blobs until the image is committed

	mu       sync.Mutex // serialises calls of progress
	progress func(PullEvent)
}

func (p *puller) emit(e PullEvent) {
	if p.progress == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.progress(e)
}

// layer makes sure the blob of l is in the store and held by the lease,
// downloading it if needed.
func (p *puller) layer(ctx context.Context, l v1.Descriptor) error {
	fetched := false
	failures := 0
	for range 2 * (downloadAttempts + 1) {
		ok, err := p.s.holdBlob(ctx, p.lease, l.Digest)
		if err != nil {
			return err
		}
		if ok {
			st := PullExists
			if fetched {
				st = PullDone
			}
			p.emit(PullEvent{Digest: l.Digest.String(), Size: l.Size, Done: l.Size, Status: st})
			return nil
		}
		err = p.download(ctx, l)
		switch {
		case err == nil:
			fetched = true
			continue // a Remove may collect it before the lease holds it
		case errors.Is(err, errLeaderStopped):
			continue // another pull gave up this download: take it over
		case !errdefs.IsUnavailable(err) || ctx.Err() != nil:
			return err
		}
		if failures++; failures >= downloadAttempts {
			return err
		}
		p.s.log.Warn("image pull: layer download failed, retrying", "layer", l.Digest.String(), "err", err)
		p.emit(PullEvent{Digest: l.Digest.String(), Size: l.Size, Status: PullRetrying})
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(time.Duration(failures) * retryDelay):
		}
	}
	return fmt.Errorf("layer %s: removed from the store as often as it was downloaded: %w", l.Digest, errdefs.ErrAborted)
}

// errLeaderStopped is what a pull gets when the pull it waited on for a
// shared blob was cancelled.
var errLeaderStopped = errors.New("shared download cancelled")

// download fetches l into the store's blobs, or waits for the pull of this
// process already fetching it.
func (p *puller) download(ctx context.Context, l v1.Descriptor) error {
	var mine atomic.Bool
	ch := p.s.downloads.DoChan(l.Digest.Hex, func() (any, error) {
		mine.Store(true)
		return nil, p.fetchBlob(ctx, l)
	})
	select {
	case res := <-ch:
		if res.Err != nil && !mine.Load() && (errors.Is(res.Err, context.Canceled) || errors.Is(res.Err, context.DeadlineExceeded)) {
			return errLeaderStopped
		}
		return res.Err
	case <-ctx.Done():
		if mine.Load() {
			<-ch // our own download: let it clean up before returning
		}
		return context.Cause(ctx)
	}
}

// fetchBlob downloads the blob l into scratch space, checking its size and
// digest as it goes, and renames it into blobs/ (unless it is there
// already: another process may have won the race).
func (p *puller) fetchBlob(ctx context.Context, l v1.Descriptor) (retErr error) {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if _, err := os.Stat(p.s.blobPath(l.Digest)); err == nil {
		return nil
	}
	if l.Digest.Algorithm != "sha256" {
		return fmt.Errorf("layer %s: unsupported digest algorithm: %w", l.Digest, errdefs.ErrNotImplemented)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.rc.blobURL(l.Digest), nil)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	resp, err := p.rc.http.Do(req)
	if err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, registryError(ctx, err))
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, registryError(ctx, err))
	}
	if cl := resp.ContentLength; cl >= 0 && cl != l.Size {
		return fmt.Errorf("layer %s: the registry sends %d bytes, the manifest says %d: %w", l.Digest, cl, l.Size, errdefs.ErrDataLoss)
	}
	t, err := newScratchFile(p.s.ingestDir())
	if err != nil {
		return err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, t.discard())
		}
	}()
	if err := p.copyBlob(ctx, t.f, resp.Body, l); err != nil {
		return err
	}
	p.emit(PullEvent{Digest: l.Digest.String(), Size: l.Size, Done: l.Size, Status: PullVerifying})
	unlock, err := p.s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	// Held by this pull's lease at once, so that no Remove can collect it
	// before the loop in layer holds it again.
	return errors.Join(p.s.placeBlobLocked(t, l.Digest), p.lease.addLocked(l.Digest))
}

// copyBlob copies the body of a blob download to f, hashing it, and checks
// its size and digest.
func (p *puller) copyBlob(ctx context.Context, f *os.File, body io.Reader, l v1.Descriptor) error {
	h := sha256.New()
	bw := bufio.NewWriterSize(f, copyBufSize)
	buf := make([]byte, 256<<10)
	var n int64
	last := time.Time{}
	for {
		k, rerr := body.Read(buf)
		if k > 0 {
			if n += int64(k); n > l.Size {
				return fmt.Errorf("layer %s: the registry sends more than the %d bytes of the manifest: %w", l.Digest, l.Size, errdefs.ErrDataLoss)
			}
			h.Write(buf[:k])
			if _, err := bw.Write(buf[:k]); err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			if now := time.Now(); now.Sub(last) >= progressEvery {
				last = now
				p.emit(PullEvent{Digest: l.Digest.String(), Size: l.Size, Done: n, Status: PullDownloading})
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return fmt.Errorf("layer %s: download broke off after %d of %d bytes: %w (%w)", l.Digest, n, l.Size, rerr, errdefs.ErrUnavailable)
		}
	}
	if n < l.Size {
		return fmt.Errorf("layer %s: download broke off after %d of %d bytes (%w)", l.Digest, n, l.Size, errdefs.ErrUnavailable)
	}
	if got := digestOf(h); got != l.Digest {
		return fmt.Errorf("layer %s: digest mismatch (the registry sent %s): %w", l.Digest, got, errdefs.ErrDataLoss)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("layer %s: %w", l.Digest, err)
	}
	return nil
}
