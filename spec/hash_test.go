package spec

import (
	"regexp"
	"testing"
	"time"
)

func baseService() Service {
	grace := 10 * time.Second
	return Service{
		Name:            "web",
		Image:           "nginx:1.27",
		Command:         []string{"nginx", "-g", "daemon off;"},
		Environment:     []string{"A=1", "B=2", "C=3"},
		Labels:          map[string]string{"x": "1", "y": "2"},
		Networks:        []ServiceNetwork{{Name: "back", Aliases: []string{"a", "b"}}, {Name: "front"}},
		Mounts:          []Mount{{Type: "volume", Source: "data", Target: "/data"}},
		ExtraHosts:      []string{"a=10.0.0.1", "b=10.0.0.2"},
		Scale:           1,
		StopGracePeriod: &grace,
	}
}

func TestConfigHash(t *testing.T) {
	base := ConfigHash(baseService())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(base) {
		t.Fatalf("ConfigHash = %q, want 64 hex digits", base)
	}
	// Pinned: if this changes, bump hashVersion, since every container
	// made before will be recreated.
	const pinned = "742d87739b9c3811df0fe5714d6618a4140cd4ae49433bb12b6e1f212c05d9c8"
	if base != pinned {
		t.Errorf("ConfigHash(baseService()) = %s, want %s: did hashInput change without a new hashVersion?", base, pinned)
	}
	tests := []struct {
		name   string
		change func(*Service)
		same   bool
	}{
		{name: "environment reordered", same: true, change: func(s *Service) { s.Environment = []string{"C=3", "A=1", "B=2"} }},
		{name: "labels rebuilt", same: true, change: func(s *Service) { s.Labels = map[string]string{"y": "2", "x": "1"} }},
		{name: "networks and aliases reordered", same: true, change: func(s *Service) {
			s.Networks = []ServiceNetwork{{Name: "front"}, {Name: "back", Aliases: []string{"b", "a"}}}
		}},
		{name: "extra hosts reordered", same: true, change: func(s *Service) { s.ExtraHosts = []string{"b=10.0.0.2", "a=10.0.0.1"} }},
		{name: "empty aliases rather than nil", same: true, change: func(s *Service) { s.Networks[1].Aliases = []string{} }},
		{name: "scale", same: true, change: func(s *Service) { s.Scale = 5 }},
		{name: "depends_on", same: true, change: func(s *Service) { s.DependsOn = []Dependency{{Service: "db", Condition: "service_started"}} }},
		{name: "profiles and pull_policy", same: true, change: func(s *Service) { s.Profiles = []string{"p"}; s.PullPolicy = "never" }},
		{name: "command", change: func(s *Service) { s.Command = []string{"nginx"} }},
		{name: "command cleared rather than the image's", change: func(s *Service) { s.Command = []string{} }},
		{name: "image", change: func(s *Service) { s.Image = "nginx:1.28" }},
		{name: "environment value", change: func(s *Service) { s.Environment = []string{"A=1", "B=2", "C=4"} }},
		{name: "label", change: func(s *Service) { s.Labels = map[string]string{"x": "1"} }},
		{name: "alias", change: func(s *Service) { s.Networks[0].Aliases = []string{"a"} }},
		{name: "mount read-only", change: func(s *Service) {
			s.Mounts = []Mount{{Type: "volume", Source: "data", Target: "/data", ReadOnly: true}}
		}},
		{name: "stop grace period", change: func(s *Service) { d := time.Second; s.StopGracePeriod = &d }},
		{name: "init", change: func(s *Service) { s.Init = true }},
		{name: "container name", change: func(s *Service) { s.ContainerName = "web" }},
	}
	t.Run("empty rather than nil", func(t *testing.T) {
		a := Service{Name: "a", Image: "x"}
		b := Service{Name: "a", Image: "x", Labels: map[string]string{}, Environment: []string{}, ExtraHosts: []string{}, Mounts: []Mount{}}
		if ConfigHash(a) != ConfigHash(b) {
			t.Error("empty slices and maps hash differently from nil ones")
		}
	})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := baseService()
			tc.change(&s)
			if got := ConfigHash(s); (got == base) != tc.same {
				t.Errorf("ConfigHash changed = %v, want %v", got != base, !tc.same)
			}
		})
	}
}
