package dockerapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
)

// pruneFilters reads the filters of a prune endpoint: the label ones as
// the pairs the engine selects by ("key" matches any value), and the
// values of the other keys it allows; any other key is refused.
func pruneFilters(r *http.Request, allowed ...string) (labels map[string]string, other map[string][]string, err error) {
	f, err := listFilters(r)
	if err != nil {
		return nil, nil, err
	}
	labels, other = map[string]string{}, map[string][]string{}
	for key, vals := range f {
		switch {
		case key == "label":
			for _, l := range vals {
				k, v, _ := strings.Cut(l, "=")
				labels[k] = v
			}
		case slices.Contains(allowed, key):
			other[key] = vals
		default:
			return nil, nil, fmt.Errorf("filter %q: not supported by berth for prune: %w", key, errdefs.ErrInvalidArgument)
		}
	}
	return labels, other, nil
}

// volumePrune is `POST /volumes/prune`: the unused anonymous volumes, or
// all unused ones with the filter all=true (API 1.42 and later).
func (s *Server) volumePrune(w http.ResponseWriter, r *http.Request) error {
	labels, other, err := pruneFilters(r, "all")
	if err != nil {
		return err
	}
	all := slices.ContainsFunc(other["all"], func(v string) bool { return v == "true" || v == "1" })
	removed, err := s.eng.Volumes().Prune(r.Context(), engine.VolumePruneOptions{All: all, Labels: labels})
	if err != nil {
		return err
	}
	s.emit(events.VolumeEventType, events.ActionPrune, "", map[string]string{"reclaimed": "0"})
	return writeJSON(w, http.StatusOK, volume.PruneReport{VolumesDeleted: nonNil(removed)})
}

// networkPrune is `POST /networks/prune`: the networks no container (running
// or not) is attached to.
func (s *Server) networkPrune(w http.ResponseWriter, r *http.Request) error {
	labels, _, err := pruneFilters(r)
	if err != nil {
		return err
	}
	if s.opt.Networks == nil {
		return fmt.Errorf("no network manager: %w", errdefs.ErrNotImplemented)
	}
	keep, err := s.eng.NetworksInUse(r.Context())
	if err != nil {
		return err
	}
	rep, err := s.opt.Networks.Prune(r.Context(), netmgr.PruneOptions{Labels: labels, Keep: keep})
	var removed []string
	if rep != nil {
		removed = rep.Networks
	}
	if err != nil {
		return err
	}
	s.emit(events.NetworkEventType, events.ActionPrune, "", nil)
	return writeJSON(w, http.StatusOK, network.PruneReport{NetworksDeleted: nonNil(removed)})
}

// nonNil is l, or an empty list: Docker's reports say [] rather than null.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// networkConnect is `POST /networks/{id}/connect`: a running container
// gets the interface at once, one that does not run at its next start.
func (s *Server) networkConnect(w http.ResponseWriter, r *http.Request) error {
	var req network.ConnectRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	return s.networkAttach(w, r, req.Container, func(ctx context.Context, n *netmgr.Network, c *engine.Container) error {
		return s.eng.ConnectNetwork(ctx, c.ID, EndpointConfig(n.Name, req.EndpointConfig))
	})
}

// networkDisconnect is `POST /networks/{id}/disconnect`.
func (s *Server) networkDisconnect(w http.ResponseWriter, r *http.Request) error {
	var req network.DisconnectRequest
	if err := decodeBody(r, &req, false); err != nil {
		return err
	}
	return s.networkAttach(w, r, req.Container, func(ctx context.Context, n *netmgr.Network, c *engine.Container) error {
		return s.eng.DisconnectNetwork(ctx, c.ID, n.Name)
	})
}

// networkAttach finds the network of the path and the container ref,
// runs op on them and answers 200 (the engine records the event).
func (s *Server) networkAttach(w http.ResponseWriter, r *http.Request, ref string, op func(context.Context, *netmgr.Network, *engine.Container) error) error {
	if ref == "" {
		return fmt.Errorf("Container is required: %w", errdefs.ErrInvalidArgument)
	}
	n, err := s.network(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	c, err := s.container(r.Context(), ref)
	if err != nil {
		return err
	}
	if err := op(r.Context(), n, c); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}
