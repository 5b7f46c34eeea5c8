package dockerapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/registry"

	"github.com/berth-dev/berth/engine/image"
)

// jsonStream starts Docker's JSON message stream (pull, push, load,
// build) on w and returns the function that sends one message. Once it
// began, a failure is its last message, not a status.
func jsonStream(w http.ResponseWriter) func(jsonstream.Message) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	fl, _ := w.(http.Flusher)
	return func(m jsonstream.Message) {
		_ = enc.Encode(m)
		if fl != nil {
			fl.Flush()
		}
	}
}

// streamError is the last message of a stream that failed.
func streamError(err error) jsonstream.Message {
	return jsonstream.Message{Error: &jsonstream.Error{Message: err.Error()}}
}

// auxMessage is a stream message with out-of-band data (a pushed digest,
// a built image's ID).
func auxMessage(v any) jsonstream.Message {
	b, _ := json.Marshal(v) // plain data
	raw := json.RawMessage(b)
	return jsonstream.Message{Aux: &raw}
}

// imageLoad is `POST /images/load?quiet=`: a docker-archive or OCI layout
// tarball into the store, answered with a stream naming what was loaded.
func (s *Server) imageLoad(w http.ResponseWriter, r *http.Request) error {
	body, err := decompressed(r.Body)
	if err != nil {
		return err
	}
	imgs, err := s.eng.Images().Load(r.Context(), body)
	if err != nil {
		return err
	}
	send := jsonStream(w)
	for _, img := range imgs {
		if len(img.RepoTags) == 0 {
			send(jsonstream.Message{Stream: "Loaded image ID: " + img.ID + "\n"})
		}
		for _, t := range img.RepoTags {
			send(jsonstream.Message{Stream: "Loaded image: " + image.FamiliarName(t) + "\n"})
		}
	}
	return nil
}

// imageSave is `GET /images/get?names=…` and `GET /images/{name}/get`: the
// images as a docker-archive.
func (s *Server) imageSave(w http.ResponseWriter, r *http.Request, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no image names given: %w", errdefs.ErrInvalidArgument)
	}
	for _, n := range names {
		if _, err := s.image(r.Context(), n); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Type", "application/x-tar")
	w.WriteHeader(http.StatusOK)
	if err := s.eng.Images().Save(r.Context(), w, names); err != nil {
		// The header is out: the client sees a truncated archive.
		s.log.Warn("image save", "images", strings.Join(names, " "), "err", err)
		return nil
	}
	for _, n := range names {
		s.emitObject(events.ImageEventType, events.ActionSave, n, n)
	}
	return nil
}

// imagePush is `POST /images/{name}/push?tag=`: the image to its
// registry, answered with Docker's push stream ending with the digest.
// Credentials are the request's (X-Registry-Auth), else the server's.
func (s *Server) imagePush(w http.ResponseWriter, r *http.Request, name string) error {
	ref := name
	if tag := r.URL.Query().Get("tag"); tag != "" {
		ref += ":" + tag
	}
	img, err := s.image(r.Context(), ref)
	if err != nil {
		return err
	}
	norm, err := image.Normalize(ref)
	if err != nil {
		return err
	}
	// The repository as the client named it, and the tag.
	repo, tag := norm, ""
	if i := strings.LastIndex(norm, ":"); i > strings.LastIndex(norm, "/") {
		repo, tag = norm[:i], norm[i+1:]
	}
	keys, err := clientKeychain(r)
	if err != nil {
		return err
	}
	send := jsonStream(w)
	send(jsonstream.Message{Status: "The push refers to repository [" + repo + "]"})
	digest, err := s.eng.Images().Push(r.Context(), norm, image.PushOptions{Keychain: keys, Progress: func(done, total int64) {
		send(jsonstream.Message{Status: "Pushing", ID: shortDigest(img.ID), Progress: &jsonstream.Progress{Current: done, Total: total}})
	}})
	if err != nil {
		send(streamError(err))
		return nil
	}
	send(jsonstream.Message{Status: tag + ": digest: " + digest})
	send(auxMessage(map[string]any{"Tag": tag, "Digest": digest}))
	return nil
}

// registryAuthHeader is the header a client sends its registry credentials in.
const registryAuthHeader = "X-Registry-Auth"

// clientKeychain is the credentials of a request's X-Registry-Auth header
// (base64url of Docker's AuthConfig), for the registry the request names:
// nil when it has none, so that the server's own (its docker config) serve.
func clientKeychain(r *http.Request) (authn.Keychain, error) {
	h := r.Header.Get(registryAuthHeader)
	if h == "" {
		return nil, nil
	}
	b, err := base64.URLEncoding.DecodeString(h)
	if err != nil {
		if b, err = base64.RawURLEncoding.DecodeString(h); err != nil {
			return nil, fmt.Errorf("%s: not base64: %w", registryAuthHeader, errdefs.ErrInvalidArgument)
		}
	}
	var ac registry.AuthConfig
	if err := json.Unmarshal(b, &ac); err != nil {
		return nil, fmt.Errorf("%s: %v: %w", registryAuthHeader, err, errdefs.ErrInvalidArgument)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return nil, nil
	}
	return staticKeychain{authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken})}, nil
}

// staticKeychain answers every registry with one authenticator.
type staticKeychain struct{ a authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.a, nil }
