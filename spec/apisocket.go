package spec

import (
	"bytes"
	"fmt"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
)

// The paths use_api_socket gives a container, Docker Compose's.
const (
	apiSocketPath      = "/var/run/docker.sock"
	apiSocketConfigKey = "#apisocket"
	apiSocketConfigDir = "/run/secrets/docker"
)

// withAPISocket does for use_api_socket what Docker Compose does before it
// creates containers: the engine's socket (/var/run/docker.sock, which
// must exist: `berth serve -H unix:///var/run/docker.sock` gives berth's)
// is bind-mounted at the same path, and the credentials of the docker
// config (~/.docker/config.json and its helpers, as `docker login` left
// them) are mounted as /run/secrets/docker/config.json with DOCKER_CONFIG
// pointing there, unless the service sets DOCKER_CONFIG itself. cp is
// left as it is (berth config prints the file, not this); the result is
// a copy.
func withAPISocket(cp *types.Project) (*types.Project, error) {
	use := false
	for _, s := range cp.Services {
		use = use || s.UseAPISocket
	}
	if !use {
		return cp, nil
	}
	cf, err := config.Load(config.Dir())
	if err != nil {
		return nil, fmt.Errorf("use_api_socket: docker config: %w", err)
	}
	creds, err := cf.GetAllCredentials()
	if err != nil {
		return nil, fmt.Errorf("use_api_socket: resolving credentials: %w: %w", err, errdefs.ErrUnavailable)
	}
	var buf bytes.Buffer
	if err := (&configfile.ConfigFile{AuthConfigs: creds}).SaveToWriter(&buf); err != nil {
		return nil, fmt.Errorf("use_api_socket: credentials: %w", err)
	}
	out, err := cp.WithServicesTransform(func(_ string, s types.ServiceConfig) (types.ServiceConfig, error) {
		if !s.UseAPISocket {
			return s, nil
		}
		s.Volumes = append(s.Volumes, types.ServiceVolumeConfig{Type: types.VolumeTypeBind, Source: apiSocketPath, Target: apiSocketPath})
		if _, set := s.Environment["DOCKER_CONFIG"]; !set {
			dir := apiSocketConfigDir
			if s.Environment == nil {
				s.Environment = types.MappingWithEquals{}
			}
			s.Environment["DOCKER_CONFIG"] = &dir
		}
		s.Configs = append(s.Configs, types.ServiceConfigObjConfig{Source: apiSocketConfigKey, Target: apiSocketConfigDir + "/config.json"})
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if out.Configs == nil {
		out.Configs = types.Configs{}
	}
	out.Configs[apiSocketConfigKey] = types.ConfigObjConfig{Name: cp.Name + "_apisocket", Content: buf.String()}
	return out, nil
}
