package spec

import (
	"bytes"
	"fmt"
	"os"
	"strings"

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

// apiSocketSource is the engine's socket on the host, as Docker Compose
// finds it: DOCKER_HOST when set (a unix socket only: berth serve -H
// unix://PATH gives berth's), else /var/run/docker.sock.
func apiSocketSource() (string, error) {
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return apiSocketPath, nil
	}
	path, ok := strings.CutPrefix(host, "unix://")
	if !ok || !strings.HasPrefix(path, "/") {
		// Docker Compose's words.
		return "", fmt.Errorf("use_api_socket can only be used with unix sockets: docker endpoint %s is incompatible: %w", host, errdefs.ErrInvalidArgument)
	}
	return path, nil
}

// withAPISocket does for use_api_socket what Docker Compose does before it
// creates containers: the engine's socket (apiSocketSource, which must
// exist) is bind-mounted at /var/run/docker.sock, and the credentials of the docker
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
	socket, err := apiSocketSource()
	if err != nil {
		return nil, err
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
		s.Volumes = append(s.Volumes, types.ServiceVolumeConfig{Type: types.VolumeTypeBind, Source: socket, Target: apiSocketPath})
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
