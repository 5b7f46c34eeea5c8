package dockerapi

import (
	"maps"
	"slices"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	imagetypes "github.com/moby/moby/api/types/image"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-dev/berth/engine/image"
)

// ImageInspect is `GET /images/{name}/json`: img as `docker image inspect`
// shows it.
func ImageInspect(img *image.Image) imagetypes.InspectResponse {
	out := imagetypes.InspectResponse{
		ID:           img.ID,
		RepoTags:     familiar(img.RepoTags),
		RepoDigests:  familiar(img.RepoDigests),
		Config:       imageConfig(img.Config),
		Architecture: img.Architecture,
		Os:           img.OS,
		Size:         img.Size,
		RootFS:       imagetypes.RootFS{Type: "layers", Layers: slices.Clone(img.DiffIDs)},
	}
	if !img.Created.IsZero() {
		out.Created = Time(img.Created)
	}
	return out
}

// ImageSummary is one element of `GET /images/json` (`docker image ls`);
// containers is how many containers use it, -1 when not counted (as
// Docker).
func ImageSummary(img *image.Image, containers int) imagetypes.Summary {
	s := imagetypes.Summary{
		ID:          img.ID,
		RepoTags:    familiar(img.RepoTags),
		RepoDigests: familiar(img.RepoDigests),
		Size:        img.Size,
		SharedSize:  -1,
		Containers:  int64(containers),
		Labels:      maps.Clone(img.Config.Labels),
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	if !img.Created.IsZero() {
		s.Created = img.Created.Unix()
	}
	return s
}

// familiar names references as Docker prints them ("busybox:latest").
func familiar(refs []string) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = image.FamiliarName(r)
	}
	return out
}

func imageConfig(c image.Config) *dockerspec.DockerOCIImageConfig {
	out := &dockerspec.DockerOCIImageConfig{
		ImageConfig: ocispec.ImageConfig{
			User:       c.User,
			Env:        slices.Clone(c.Env),
			Entrypoint: slices.Clone(c.Entrypoint),
			Cmd:        slices.Clone(c.Cmd),
			WorkingDir: c.WorkingDir,
			Labels:     maps.Clone(c.Labels),
			StopSignal: c.StopSignal,
		},
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for _, p := range c.ExposedPorts {
			out.ExposedPorts[p] = struct{}{}
		}
	}
	if len(c.Volumes) > 0 {
		out.Volumes = map[string]struct{}{}
		for _, v := range c.Volumes {
			out.Volumes[v] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &dockerspec.HealthcheckConfig{Test: slices.Clone(h.Test), Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return out
}
