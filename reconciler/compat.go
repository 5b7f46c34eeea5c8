package reconciler

import (
	"slices"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/spec"
)

// hooksOf are the lifecycle hooks of s, as the engine runs them.
func hooksOf(s *spec.Service) Hooks {
	h := Hooks{Service: s.Name}
	for _, x := range s.PostStart {
		h.PostStart = append(h.PostStart, execConfig(x))
	}
	for _, x := range s.PreStop {
		h.PreStop = append(h.PreStop, execConfig(x))
	}
	return h
}

func execConfig(x spec.Hook) engine.ExecConfig {
	return engine.ExecConfig{
		Cmd: slices.Clone(x.Command), Env: slices.Clone(x.Environment), User: x.User,
		WorkingDir: x.WorkingDir, Privileged: x.Privileged,
	}
}

// hooksOfName are the hooks of the service called name in the file; none
// for a container whose service the file no longer has (or without a file).
func (b *builder) hooksOfName(name string) Hooks {
	if b.desired != nil {
		if i := slices.IndexFunc(b.desired.Services, func(s spec.Service) bool { return s.Name == name }); i >= 0 {
			return hooksOf(&b.desired.Services[i])
		}
	}
	return Hooks{Service: name}
}

// imageMountRefs are the images s mounts (volumes of type image), in file
// order.
func imageMountRefs(s *spec.Service) []string {
	var out []string
	for _, m := range s.Mounts {
		if m.Type == "image" && m.Source != "" {
			out = append(out, m.Source)
		}
	}
	return out
}
