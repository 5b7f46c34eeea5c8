package reconciler

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/spec"
	"github.com/berth-dev/berth/volmgr"
)

// State is what exists on the machine for one project, read once.
type State struct {
	Project    string
	Containers []ObservedContainer        // sorted by name
	Networks   map[string]*netmgr.Network // by full name: the project's and those the file names
	Volumes    map[string]*volmgr.Volume  // by full name: the project's and those the file names
	Images     map[string]bool            // the desired services' image references (and their image mounts'): present or not
	// ImageIDs is the ID of each present image of the desired services,
	// by reference: a container made from another image is recreated.
	ImageIDs map[string]string
	// PullAge is, for the present images of services with pull_policy
	// refresh (daily, weekly, every_<d>), how long ago they were last
	// pulled when observed; an image never pulled is absent.
	PullAge map[string]time.Duration
	// ImageUsers is observed for down --rmi only: per image ID, the
	// containers of other projects (or of none) that use it.
	ImageUsers map[string][]string
}

// ObservedContainer is a container carrying the project's label.
type ObservedContainer struct {
	ID      engine.ContainerID
	Name    string
	Service string
	Number  int
	OneOff  bool
	Hash    string
	Status  engine.Status
	Volumes []string // the named volumes it mounts
	ImageID string   // the image it was made from
}

// Observe reads the state of project name. desired, when not nil, adds the
// networks and volumes its file names (external ones among them) that carry
// no project label. The caller holds the project lock.
func Observe(ctx context.Context, d Deps, name string, desired *spec.Project) (*State, error) {
	st := &State{Project: name, Networks: map[string]*netmgr.Network{}, Volumes: map[string]*volmgr.Volume{},
		Images: map[string]bool{}, ImageIDs: map[string]string{}}
	byProject := map[string]string{spec.LabelProject: name}
	// The containers are read beside the rest (reading every record is
	// most of a no-op up); they go into st once both are done.
	type listed struct {
		ctrs []engine.Brief
		err  error
	}
	ctrsDone := make(chan listed, 1)
	go func() {
		ctrs, err := d.Runtime.ListBrief(ctx, byProject)
		ctrsDone <- listed{ctrs, err}
	}()
	if err := observeObjects(ctx, d, st, byProject, desired); err != nil {
		<-ctrsDone
		return nil, err
	}
	got := <-ctrsDone
	if got.err != nil {
		return nil, fmt.Errorf("project %q: list containers: %w", name, got.err)
	}
	for _, c := range got.ctrs {
		l := c.Labels
		n, _ := strconv.Atoi(l[spec.LabelContainerNumber])
		st.Containers = append(st.Containers, ObservedContainer{
			ID:      c.ID,
			Name:    c.Name,
			Service: l[spec.LabelService],
			Number:  n,
			OneOff:  l[spec.LabelOneOff] == spec.LabelTrue,
			Hash:    l[spec.LabelConfigHash],
			Status:  c.Status,
			Volumes: mountedVolumes(c.Mounts),
			ImageID: c.ImageID,
		})
	}
	slices.SortFunc(st.Containers, func(a, b ObservedContainer) int { return strings.Compare(a.Name, b.Name) })
	return st, nil
}

// observeObjects fills st with what Observe reads beside the containers:
// the project's networks and volumes, the desired ones that exist outside
// it, and the desired images.
func observeObjects(ctx context.Context, d Deps, st *State, byProject map[string]string, desired *spec.Project) error {
	name := st.Project
	nets, err := d.Networks.List(ctx, byProject)
	if err != nil {
		return fmt.Errorf("project %q: list networks: %w", name, err)
	}
	for _, n := range nets {
		st.Networks[n.Name] = n
	}
	vols, err := d.Volumes.List(ctx, byProject)
	if err != nil {
		return fmt.Errorf("project %q: list volumes: %w", name, err)
	}
	for _, v := range vols {
		st.Volumes[v.Name] = v
	}
	if desired == nil {
		return nil
	}
	for _, n := range desired.Networks {
		if _, ok := st.Networks[n.Name]; ok {
			continue
		}
		got, err := d.Networks.Get(ctx, n.Name)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		st.Networks[n.Name] = got
	}
	for _, s := range desired.Services {
		for _, ref := range append([]string{s.Image}, imageMountRefs(&s)...) {
			if _, seen := st.Images[ref]; seen || d.Images == nil {
				continue
			}
			img, err := d.Images.Resolve(ctx, ref)
			switch {
			case err == nil:
				st.Images[ref] = true
				st.ImageIDs[ref] = img.ID
				if s.PullPolicy == "refresh" && ref == s.Image {
					if err := observePull(ctx, d, st, ref); err != nil {
						return fmt.Errorf("service %q: %w", s.Name, err)
					}
				}
			case errdefs.IsNotFound(err):
				st.Images[ref] = false
			default:
				return fmt.Errorf("service %q: %w", s.Name, err)
			}
		}
	}
	for _, v := range desired.Volumes {
		if _, ok := st.Volumes[v.Name]; ok {
			continue
		}
		if volmgr.ValidateName(v.Name) != nil {
			continue // no store holds it: Compute reports it with its field
		}
		got, err := d.Volumes.Get(ctx, v.Name)
		if errdefs.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		st.Volumes[v.Name] = got
	}
	return nil
}

// mountedVolumes names the volumes among mounts.
func mountedVolumes(mounts []engine.Mount) []string {
	var out []string
	for _, m := range mounts {
		if m.Type == "volume" && m.Source != "" {
			out = append(out, m.Source)
		}
	}
	return out
}

// observeImageUsers fills st.ImageUsers for down --rmi: which containers
// outside the project use an image.
func observeImageUsers(ctx context.Context, d Deps, st *State) error {
	st.ImageUsers = map[string][]string{}
	all, err := d.Runtime.List(ctx, nil)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for _, c := range all {
		if c.Config.Labels[spec.LabelProject] == st.Project {
			continue // this plan removes them first
		}
		st.ImageUsers[c.ImageID] = append(st.ImageUsers[c.ImageID], c.Config.Name)
	}
	for _, u := range st.ImageUsers {
		slices.Sort(u)
	}
	return nil
}

// observePull notes how long ago ref was last pulled, if it ever was.
func observePull(ctx context.Context, d Deps, st *State, ref string) error {
	at, err := d.Images.LastPulled(ctx, ref)
	if err != nil || at.IsZero() {
		return err
	}
	if st.PullAge == nil {
		st.PullAge = map[string]time.Duration{}
	}
	st.PullAge[ref] = time.Since(at)
	return nil
}
