package spec

import (
	"errors"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

const digestsProject = `name: pin
services:
  web:
    image: busybox
    environment: {A: "1"}
    volumes:
      - {type: image, source: "registry.example:5000/assets:2", target: /assets}
      - ./data:/data
  pinned:
    image: busybox@` + digestB + `
  hooked:
    image: registry.example:5000/app:1
    pre_start: [{image: busybox, command: ["true"]}]
  built:
    build: .
`

// TestWithImageDigests: --resolve-image-digests pins every reference in
// full, keeping the rest of the document; a reference with a digest is
// kept; --lock-image-digests keeps only the references and warns about
// the pre_start images an override cannot pin.
func TestWithImageDigests(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", digestsProject)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	asked := map[string]int{}
	resolve := func(ref string) (string, error) {
		asked[ref]++
		if strings.Contains(ref, "registry.example") {
			return digestB, nil
		}
		return digestA, nil
	}
	rp, warnings, err := p.WithImageDigests(resolve, false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := rp.Render("yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"image: docker.io/library/busybox:latest@" + digestA,
		"image: docker.io/library/busybox@" + digestB,
		"source: registry.example:5000/assets:2@" + digestB,
		"image: registry.example:5000/app:1@" + digestB,
		"A: \"1\"",
		"target: /data",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendering lacks %q:\n%s", want, out)
		}
	}
	if len(warnings) != 0 {
		t.Errorf("warnings without lock: %q", warnings)
	}
	if asked["docker.io/library/busybox:latest"] != 1 || len(asked) != 3 {
		t.Errorf("resolved %v: want each reference without a digest asked once", asked)
	}
	if plain, _ := p.Render("yaml"); strings.Contains(string(plain), digestA) {
		t.Error("WithImageDigests changed the project it was called on")
	}

	lp, warnings, err := p.WithImageDigests(resolve, true)
	if err != nil {
		t.Fatal(err)
	}
	out, err = lp.Render("yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := `services:
  built: {}
  hooked:
    image: registry.example:5000/app:1@` + digestB + `
  pinned:
    image: docker.io/library/busybox@` + digestB + `
  web:
    image: docker.io/library/busybox:latest@` + digestA + `
    volumes:
      - type: image
        source: registry.example:5000/assets:2@` + digestB + `
        target: /assets
`
	if string(out) != want {
		t.Errorf("lock file:\n%s\nwant:\n%s", out, want)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], `service "hooked": pre_start hook images are not pinned`) {
		t.Errorf("warnings %q, want one about hooked's pre_start", warnings)
	}
}

// TestWithImageDigestsErrors: a reference resolve cannot pin is an error
// naming it; a project not interpolated is not supported.
func TestWithImageDigestsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/compose.yaml", digestsProject)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	boom := errors.New("no such manifest")
	_, _, err := p.WithImageDigests(func(ref string) (string, error) {
		if strings.Contains(ref, "assets") {
			return "", boom
		}
		return digestA, nil
	}, false)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), `image "registry.example:5000/assets:2"`) {
		t.Errorf("err = %v, want one naming the image", err)
	}
	raw := mustLoad(t, LoadOptions{WorkingDir: dir, NoInterpolate: true})
	if _, _, err := raw.WithImageDigests(func(string) (string, error) { return digestA, nil }, false); !errdefs.IsNotImplemented(err) {
		t.Errorf("not interpolated: err = %v, want NotImplemented", err)
	}
}
