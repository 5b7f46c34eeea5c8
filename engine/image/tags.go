package image

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// NormalizeRepository reads the name of a repository, as pull and push
// --all-tags take it: "busybox" is "docker.io/library/busybox". A name
// with a tag or a digest is an errdefs.ErrInvalidArgument error, as with
// docker.
func NormalizeRepository(repo string) (string, error) {
	r, err := parseRef(repo)
	if err != nil {
		return "", err
	}
	last := repo[strings.LastIndex(repo, "/")+1:]
	if strings.Contains(repo, "@") || strings.Contains(last, ":") {
		return "", fmt.Errorf("reference %q: a tag cannot be used with --all-tags: %w", repo, errdefs.ErrInvalidArgument)
	}
	norm := canonical(r)
	return norm[:strings.LastIndex(norm, ":")], nil
}

// RemoteTags lists the tags of repository repo (normalised, as
// NormalizeRepository makes it) in its registry, sorted. Errors are
// Pull's: the registry's answers classified, ErrUnavailable for an
// unreachable one.
func (s *Store) RemoteTags(ctx context.Context, repo string, opt PullOptions) ([]string, error) {
	ref := repo + ":latest"
	if err := s.checkRegistry(ref); err != nil {
		return nil, fmt.Errorf("list tags of %q: %w", repo, err)
	}
	rref, err := remoteRef(ref)
	if err != nil {
		return nil, err
	}
	rc, err := newRegistryClient(ctx, rref.Context(), opt.Keychain, opt.Transport, transport.PullScope)
	if err != nil {
		return nil, fmt.Errorf("list tags of %q: %w", repo, err)
	}
	tags, err := remote.List(rref.Context(), remote.WithContext(ctx), remote.WithTransport(rc.tr))
	if err != nil {
		return nil, fmt.Errorf("list tags of %q: %w", repo, registryError(ctx, err))
	}
	slices.Sort(tags)
	return tags, nil
}

// LocalTags are the names in the store of the images of repository repo
// (normalised), as "repo:tag", sorted. errdefs.ErrNotFound when there is
// none.
func (s *Store) LocalTags(ctx context.Context, repo string) ([]string, error) {
	imgs, err := s.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range imgs {
		for _, t := range img.RepoTags {
			if tag, ok := strings.CutPrefix(t, repo+":"); ok && isTag(tag) {
				out = append(out, t)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no image of repository %q in the store: %w", repo, errdefs.ErrNotFound)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// RemoteDigest is the digest the registry gives for ref's manifest (an
// index's for a multi-platform image), as `docker buildx imagetools
// inspect` or Compose's --resolve-image-digests ask it: nothing is pulled.
// Errors are Pull's.
func (s *Store) RemoteDigest(ctx context.Context, ref string, opt PullOptions) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", err
	}
	norm := canonical(r)
	if err := s.checkRegistry(norm); err != nil {
		return "", fmt.Errorf("digest of %q: %w", ref, err)
	}
	rref, err := remoteRef(norm)
	if err != nil {
		return "", err
	}
	rc, err := newRegistryClient(ctx, rref.Context(), opt.Keychain, opt.Transport, transport.PullScope)
	if err != nil {
		return "", fmt.Errorf("digest of %q: %w", norm, err)
	}
	desc, err := remote.Head(rref, remote.WithContext(ctx), remote.WithTransport(rc.tr))
	if err != nil {
		// Some registries answer no HEAD of a manifest: ask for it.
		full, gerr := remote.Get(rref, remote.WithContext(ctx), remote.WithTransport(rc.tr))
		if gerr != nil {
			return "", fmt.Errorf("digest of %q: %w", norm, registryError(ctx, gerr))
		}
		return full.Digest.String(), nil
	}
	return desc.Digest.String(), nil
}
