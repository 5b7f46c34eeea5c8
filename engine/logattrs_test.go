package engine

import (
	"maps"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/image"
)

func TestLogAttrs(t *testing.T) {
	rec := &record{
		ID: "0123456789abcdef0123", ImageID: "sha256:fedcba9876543210",
		ImageConfig: image.Config{Env: []string{"FROM_IMAGE=1", "APP_ENV=image"}},
		Config: ContainerConfig{Name: "p-web-1", Image: "web:1",
			Labels: map[string]string{"team": "core", "com.example.a": "x", "other": "y"},
			Env:    []string{"APP_ENV=test", "SECRET=s"},
			Logging: LogConfig{Labels: []string{"team"}, LabelsRegex: `^com\.example\.`, Env: []string{"APP_ENV", "FROM_IMAGE"},
				Tag: "{{.Name}}/{{.ID}}/{{.ImageID}}"}},
	}
	got, err := logAttrs(rec)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"team": "core", "com.example.a": "x", "APP_ENV": "test", "FROM_IMAGE": "1", "tag": "p-web-1/0123456789ab/fedcba987654"}
	if !maps.Equal(got, want) {
		t.Errorf("attrs = %v, want %v", got, want)
	}
	for _, bad := range []LogConfig{{EnvRegex: "("}, {Tag: "{{.Name"}} {
		if err := CheckLogAttrs(bad); !errdefs.IsInvalidArgument(err) {
			t.Errorf("CheckLogAttrs(%+v) = %v, want invalid", bad, err)
		}
	}
}
