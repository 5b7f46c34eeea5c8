package engine

import (
	"strings"
	"testing"
)

func TestRedactedHidesFileContent(t *testing.T) {
	c := &Container{Config: ContainerConfig{Mounts: []Mount{
		{Type: "file", Target: "/run/secrets/token", Content: []byte("s3cret")},
		{Type: "bind", Source: "/src", Target: "/dst"},
	}}}
	r := c.Redacted()
	if r.Config.Mounts[0].Content != nil || !strings.Contains(r.Config.Mounts[0].Source, "not shown") {
		t.Fatalf("secret content still shown: %+v", r.Config.Mounts[0])
	}
	if r.Config.Mounts[1].Source != "/src" {
		t.Fatalf("a bind mount changed: %+v", r.Config.Mounts[1])
	}
	if string(c.Config.Mounts[0].Content) != "s3cret" {
		t.Fatal("Redacted changed the original")
	}
}
