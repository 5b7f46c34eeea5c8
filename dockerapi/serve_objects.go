package dockerapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/netmgr"
)

// NetworkConfig is the network manager's configuration of the network
// `POST /networks/create` asks for.
func NetworkConfig(req network.CreateRequest) (netmgr.NetworkConfig, error) {
	cfg := netmgr.NetworkConfig{Name: req.Name, Internal: req.Internal, Labels: maps.Clone(req.Labels)}
	switch req.Name {
	case "":
		return cfg, fmt.Errorf("network name is required: %w", errdefs.ErrInvalidArgument)
	case engine.DefaultNetwork, "host", "none", "default":
		return cfg, fmt.Errorf("network %q: a pre-defined network's name: %w", req.Name, errdefs.ErrConflict)
	}
	if req.Driver != "" && req.Driver != "bridge" {
		return cfg, fmt.Errorf("driver %q: only bridge is supported: %w", req.Driver, errdefs.ErrInvalidArgument)
	}
	cfg.EnableIPv6 = req.EnableIPv6 != nil && *req.EnableIPv6
	if req.IPAM != nil {
		for _, c := range req.IPAM.Config {
			if c.Subnet.Addr().Is6() {
				cfg.Subnet6, cfg.Gateway6, cfg.IPRange6 = c.Subnet, c.Gateway, c.IPRange
			} else {
				cfg.Subnet, cfg.Gateway, cfg.IPRange = c.Subnet, c.Gateway, c.IPRange
			}
			// --aux-address: taken, never given to a container.
			for _, name := range slices.Sorted(maps.Keys(c.AuxAddress)) {
				cfg.AuxAddresses = append(cfg.AuxAddresses, c.AuxAddress[name])
			}
		}
	}
	if err := cfg.SetDriverOptions(req.Options); err != nil {
		return cfg, fmt.Errorf("option %w", err)
	}
	return cfg, nil
}

// network finds a network by name, ID or ID prefix: 404 when none.
func (s *Server) network(ctx context.Context, ref string) (*netmgr.Network, error) {
	if s.opt.Networks == nil {
		return nil, fmt.Errorf("no network manager: %w", errdefs.ErrNotImplemented)
	}
	n, err := s.opt.Networks.Get(ctx, ref)
	if errdefs.IsInvalidArgument(err) {
		// Not a network's name (an image's, asked by docker inspect).
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	if err == nil || !errdefs.IsNotFound(err) {
		return n, err
	}
	nets, err := s.opt.Networks.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var found *netmgr.Network
	for _, n := range nets {
		if strings.HasPrefix(n.ID, ref) {
			if found != nil {
				return nil, fmt.Errorf("network %s is ambiguous: %w", ref, errdefs.ErrInvalidArgument)
			}
			found = n
		}
	}
	if found == nil {
		return nil, fmt.Errorf("network %s not found: %w", ref, errdefs.ErrNotFound)
	}
	return found, nil
}

func (s *Server) networkList(w http.ResponseWriter, r *http.Request) error {
	filters, err := listFilters(r)
	if err != nil {
		return err
	}
	out := []network.Summary{}
	if s.opt.Networks != nil {
		nets, err := s.opt.Networks.List(r.Context(), nil)
		if err != nil {
			return err
		}
		for _, n := range nets {
			if engine.LabelsMatch(n.Labels, filters["label"]) && nameMatches(n.Name, n.ID, filters) {
				out = append(out, NetworkSummary(n))
			}
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

// nameMatches applies the name and id filters of network and volume lists.
func nameMatches(name, id string, f map[string][]string) bool {
	if vs := f["name"]; len(vs) > 0 && !slices.ContainsFunc(vs, func(v string) bool { return strings.Contains(name, v) }) {
		return false
	}
	if vs := f["id"]; len(vs) > 0 && !slices.ContainsFunc(vs, func(v string) bool { return strings.HasPrefix(id, v) }) {
		return false
	}
	return true
}

func (s *Server) networkCreate(w http.ResponseWriter, r *http.Request) error {
	var req network.CreateRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	cfg, err := NetworkConfig(req)
	if err != nil {
		return err
	}
	if s.opt.Networks == nil {
		return fmt.Errorf("no network manager: %w", errdefs.ErrNotImplemented)
	}
	n, err := s.opt.Networks.Create(r.Context(), cfg)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, network.CreateResponse{ID: n.ID})
}

func (s *Server) networkInspect(w http.ResponseWriter, r *http.Request) error {
	n, err := s.network(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, NetworkInspect(n))
}

func (s *Server) networkDelete(w http.ResponseWriter, r *http.Request) error {
	n, err := s.network(r.Context(), r.PathValue("id"))
	if err == nil {
		err = s.opt.Networks.Remove(r.Context(), n.Name)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) volumeList(w http.ResponseWriter, r *http.Request) error {
	filters, err := listFilters(r)
	if err != nil {
		return err
	}
	vols, err := s.eng.Volumes().List(r.Context(), nil)
	if err != nil {
		return err
	}
	out := volume.ListResponse{Volumes: []volume.Volume{}, Warnings: []string{}}
	for _, v := range vols {
		if engine.LabelsMatch(v.Labels, filters["label"]) && nameMatches(v.Name, v.Name, filters) {
			out.Volumes = append(out.Volumes, Volume(v))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) volumeCreate(w http.ResponseWriter, r *http.Request) error {
	var req volume.CreateRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	if req.Name == "" {
		req.Name = newExecID() // an anonymous volume: 64 hex digits, as Docker names it
	}
	v, err := s.eng.Volumes().CreateWithOptions(r.Context(), req.Name,
		engine.VolumeOptions{Labels: req.Labels, Driver: req.Driver, Opts: req.DriverOpts})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, Volume(v))
}

func (s *Server) volumeInspect(w http.ResponseWriter, r *http.Request) error {
	v, err := s.eng.Volumes().Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, Volume(v))
}

func (s *Server) volumeDelete(w http.ResponseWriter, r *http.Request) error {
	if err := s.eng.Volumes().Remove(r.Context(), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) imageList(w http.ResponseWriter, r *http.Request) error {
	filters, err := listFilters(r)
	if err != nil {
		return err
	}
	imgs, err := s.eng.Images().List(r.Context())
	if err != nil {
		return err
	}
	out := []imagetypes.Summary{}
	for _, img := range imgs {
		if engine.LabelsMatch(img.Config.Labels, filters["label"]) && imageRefMatches(img, filters["reference"]) {
			out = append(out, ImageSummary(img, -1))
		}
	}
	return writeJSON(w, http.StatusOK, out)
}

func imageRefMatches(img *image.Image, refs []string) bool {
	if len(refs) == 0 {
		return true
	}
	for _, t := range img.RepoTags {
		name := image.FamiliarName(t)
		repo, _, _ := strings.Cut(name, ":")
		if slices.Contains(refs, name) || slices.Contains(refs, repo) {
			return true
		}
	}
	return false
}

// imageGet is `GET /images/{name}/json` and `GET /images/{name}/get`;
// other GETs under /images are not served.
func (s *Server) imageGet(w http.ResponseWriter, r *http.Request) error {
	if name, ok := strings.CutSuffix(r.PathValue("name"), "/get"); ok {
		return s.imageSave(w, r, []string{name})
	}
	name, ok := strings.CutSuffix(r.PathValue("name"), "/json")
	if !ok {
		return s.notImplemented(w, r)
	}
	img, err := s.image(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ImageInspect(img))
}

func (s *Server) image(ctx context.Context, ref string) (*image.Image, error) {
	img, err := s.eng.Images().Resolve(ctx, ref)
	if errdefs.IsNotFound(err) {
		return nil, fmt.Errorf("No such image: %s: %w", ref, errdefs.ErrNotFound)
	}
	return img, err
}

// imagePost is `POST /images/{name}/tag?repo=&tag=` and
// `POST /images/{name}/push`; other POSTs under /images are not served.
func (s *Server) imagePost(w http.ResponseWriter, r *http.Request) error {
	if name, ok := strings.CutSuffix(r.PathValue("name"), "/push"); ok {
		return s.imagePush(w, r, name)
	}
	name, ok := strings.CutSuffix(r.PathValue("name"), "/tag")
	if !ok {
		return s.notImplemented(w, r)
	}
	repo, tag := r.URL.Query().Get("repo"), r.URL.Query().Get("tag")
	if repo == "" {
		return fmt.Errorf("repository name is required: %w", errdefs.ErrInvalidArgument)
	}
	if tag != "" {
		repo += ":" + tag
	}
	if _, err := s.image(r.Context(), name); err != nil {
		return err
	}
	if err := s.eng.Images().Tag(r.Context(), name, repo); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// imageDelete is `DELETE /images/{name}`: the name is untagged, and the
// image goes with its last name unless a container uses it (409).
func (s *Server) imageDelete(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	img, err := s.image(r.Context(), name)
	if err != nil {
		return err
	}
	// A name of an image with others, or with force, is only untagged (as
	// Docker): the image stays for its other names and its containers.
	remove := s.eng.Images().Remove
	if len(img.RepoTags) > 1 || boolParam(r, "force") {
		remove = s.eng.Images().Untag
	}
	if err := remove(r.Context(), name); err != nil {
		return err
	}
	out := []imagetypes.DeleteResponse{{Untagged: image.FamiliarName(name)}}
	if _, err := s.eng.Images().Resolve(r.Context(), img.ID); errdefs.IsNotFound(err) {
		out = append(out, imagetypes.DeleteResponse{Deleted: img.ID})
	}
	return writeJSON(w, http.StatusOK, out)
}

// imageCreate is `POST /images/create?fromImage=&tag=` (pull), answered
// with Docker's JSON progress stream; a failure after the stream began is
// its last message.
func (s *Server) imageCreate(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	from := q.Get("fromImage")
	if from == "" {
		return fmt.Errorf("POST /images/create: only pulls (fromImage) are implemented by berth: %w", errdefs.ErrNotImplemented)
	}
	ref := from
	if tag := q.Get("tag"); tag != "" {
		if strings.HasPrefix(tag, "sha256:") {
			ref += "@" + tag
		} else {
			ref += ":" + tag
		}
	}
	keys, err := clientKeychain(r)
	if err != nil {
		return err
	}
	send := jsonStream(w)
	send(jsonstream.Message{Status: "Pulling from " + image.FamiliarName(from), ID: q.Get("tag")})
	img, err := s.eng.Images().Pull(r.Context(), ref, image.PullOptions{Platform: q.Get("platform"), Keychain: keys, Progress: func(e image.PullEvent) {
		m := jsonstream.Message{ID: shortDigest(e.Digest), Status: pullStatus(e.Status)}
		if e.Status == image.PullDownloading {
			m.Progress = &jsonstream.Progress{Current: e.Done, Total: e.Size}
		}
		send(m)
	}})
	if err != nil {
		send(streamError(err))
		return nil
	}
	if len(img.RepoDigests) > 0 {
		_, d, _ := strings.Cut(img.RepoDigests[0], "@")
		send(jsonstream.Message{Status: "Digest: " + d})
	}
	send(jsonstream.Message{Status: "Status: Downloaded newer image for " + image.FamiliarName(ref)})
	return nil
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	return d[:min(12, len(d))]
}

// pullStatus words a layer's status as Docker's pull stream does.
func pullStatus(st image.PullStatus) string {
	switch st {
	case image.PullWaiting:
		return "Waiting"
	case image.PullDownloading:
		return "Downloading"
	case image.PullRetrying:
		return "Retrying"
	case image.PullVerifying:
		return "Verifying Checksum"
	case image.PullDone:
		return "Pull complete"
	case image.PullExists:
		return "Already exists"
	}
	return string(st)
}
