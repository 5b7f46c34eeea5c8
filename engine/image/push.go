package image

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PushOptions change how Push reaches the registry and report its
// progress.
type PushOptions struct {
	// Progress, if set, receives the bytes uploaded so far and the total
	// to upload (blobs the registry has already are not counted), at most
	// every tenth of a second and once at the end. Calls are serialised.
	Progress func(done, total int64)
	// Keychain finds credentials; nil is authn.DefaultKeychain.
	Keychain authn.Keychain
	// Transport carries the requests; nil is go-containerregistry's
	// default.
	Transport http.RoundTripper
}

// doPush is Push, without recording its event.
func (s *Store) doPush(ctx context.Context, ref string, opt PushOptions) (string, error) {
	norm, err := normalizeTag(ref)
	if err != nil {
		return "", fmt.Errorf("push: %w", err)
	}
	if err := s.checkRegistry(norm); err != nil {
		return "", fmt.Errorf("push %q: %w", ref, err)
	}
	d, err := s.push(ctx, norm, opt)
	if err != nil {
		return "", fmt.Errorf("push %q: %w", norm, err)
	}
	return d, nil
}

func (s *Store) push(ctx context.Context, norm string, opt PushOptions) (string, error) {
	img, err := s.Resolve(ctx, norm)
	if err != nil {
		return "", err
	}
	v, err := s.V1Image(ctx, img)
	if err != nil {
		return "", err
	}
	rref, err := remoteRef(norm)
	if err != nil {
		return "", err
	}
	rc, err := newRegistryClient(ctx, rref.Context(), opt.Keychain, opt.Transport, transport.PushScope)
	if err != nil {
		return "", err
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(rc.tr), remote.WithJobs(pullJobs)}
	done := make(chan struct{})
	if opt.Progress != nil {
		updates := make(chan v1.Update, 64)
		opts = append(opts, remote.WithProgress(updates))
		go func() { // ends when remote.Write closes updates
			defer close(done)
			var last time.Time
			var u v1.Update
			for u = range updates {
				if now := time.Now(); now.Sub(last) >= progressEvery && u.Error == nil {
					last = now
					opt.Progress(u.Complete, u.Total)
				}
			}
			if u.Error == nil {
				opt.Progress(u.Complete, u.Total)
			}
		}()
	} else {
		close(done)
	}
	err = remote.Write(rref, v, opts...)
	<-done
	if err != nil {
		return "", registryError(ctx, err)
	}
	return img.Digest, nil
}
