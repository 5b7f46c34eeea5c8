package swarm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/containerd/errdefs"
)

// DefaultHost is the Docker Engine's default socket.
const DefaultHost = "unix:///var/run/docker.sock"

// EndpointOptions are what the CLI knows about where the cluster is.
type EndpointOptions struct {
	Host    string // --host
	Context string // --context
	// Env is the environment as KEY=VALUE entries (DOCKER_HOST,
	// DOCKER_CONTEXT, DOCKER_CERT_PATH, DOCKER_TLS_VERIFY, DOCKER_CONFIG).
	Env []string
	// HomeDir is the user's home; the docker CLI's configuration is
	// HomeDir/.docker unless DOCKER_CONFIG says otherwise.
	HomeDir string
}

// ResolveEndpoint finds the Engine to talk to as the docker CLI does:
// --host, then --context, then DOCKER_HOST, then DOCKER_CONTEXT, then the
// current context of the CLI's config.json, else DefaultHost. A context is
// read from <config>/contexts/meta/<sha256 of its name>/meta.json, its TLS
// material from <config>/contexts/tls/<same>/docker.
func ResolveEndpoint(o EndpointOptions) (Endpoint, error) {
	env := func(k string) string {
		for _, kv := range o.Env {
			if len(kv) > len(k) && kv[:len(k)] == k && kv[len(k)] == '=' {
				return kv[len(k)+1:]
			}
		}
		return ""
	}
	cfgDir := env("DOCKER_CONFIG")
	if cfgDir == "" {
		cfgDir = filepath.Join(o.HomeDir, ".docker")
	}
	if o.Host != "" {
		return Endpoint{Host: o.Host}, nil
	}
	if o.Context != "" {
		return readContext(cfgDir, o.Context)
	}
	if h := env("DOCKER_HOST"); h != "" {
		e := Endpoint{Host: h}
		if env("DOCKER_TLS_VERIFY") != "" {
			e.TLSDir = env("DOCKER_CERT_PATH")
			if e.TLSDir == "" {
				e.TLSDir = cfgDir
			}
		}
		return e, nil
	}
	name := env("DOCKER_CONTEXT")
	if name == "" {
		var cfg struct{ CurrentContext string }
		b, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
		if err == nil {
			if err := json.Unmarshal(b, &cfg); err != nil {
				return Endpoint{}, fmt.Errorf("%s: %w", filepath.Join(cfgDir, "config.json"), err)
			}
		}
		name = cfg.CurrentContext
	}
	if name == "" || name == "default" {
		return Endpoint{Host: DefaultHost}, nil
	}
	return readContext(cfgDir, name)
}

func readContext(cfgDir, name string) (Endpoint, error) {
	if name == "default" {
		return Endpoint{Host: DefaultHost}, nil
	}
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	path := filepath.Join(cfgDir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Endpoint{}, fmt.Errorf("context %q: not found (no %s): %w", name, path, errdefs.ErrNotFound)
	} else if err != nil {
		return Endpoint{}, fmt.Errorf("context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string
			SkipTLSVerify bool
		}
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("context %q: %s: %w", name, path, err)
	}
	ep, ok := meta.Endpoints["docker"]
	if !ok || ep.Host == "" {
		return Endpoint{}, fmt.Errorf("context %q: no docker endpoint in %s: %w", name, path, errdefs.ErrInvalidArgument)
	}
	e := Endpoint{Host: ep.Host, SkipTLSVerify: ep.SkipTLSVerify}
	tlsDir := filepath.Join(cfgDir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(tlsDir); err == nil {
		e.TLSDir = tlsDir
	}
	return e, nil
}
