package reconciler

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/spec"
)

// TestComposeDataFieldsRun loads a Compose file using every data field
// berth runs: it passes CheckSupported and translates.
func TestComposeDataFieldsRun(t *testing.T) {
	dir := t.TempDir()
	file := `name: p
services:
  web:
    image: busybox
    volumes:
      - ./src:/src:z
      - /anon
      - type: volume
        source: data
        target: /data
        volume: {nocopy: true, subpath: sub}
      - type: bind
        source: ./strict
        target: /strict
        read_only: true
        bind: {create_host_path: false, propagation: rshared, selinux: Z}
      - type: tmpfs
        target: /scratch
        tmpfs: {size: 64m, mode: 01777}
      - mem:/mem
    tmpfs: ["/run:size=1m,mode=0700"]
    volumes_from: ["db:ro"]
    configs:
      - app
      - source: inline
        target: /etc/inline.conf
        mode: 0440
    secrets:
      - source: token
        uid: "33"
        gid: "33"
        mode: 0400
  db:
    image: busybox
volumes:
  data:
    name: custom-data
    labels: {team: a}
  mem:
    driver: local
    driver_opts: {type: tmpfs, device: tmpfs, o: size=10m}
configs:
  app:
    file: ./app.conf
  inline:
    content: hello
secrets:
  token:
    environment: TOKEN
`
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := spec.Load(t.Context(), spec.LoadOptions{WorkingDir: dir, Environ: []string{"TOKEN=s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckSupported(); err != nil {
		t.Fatalf("CheckSupported: %v", err)
	}
	c, err := ContainerConfig(p, service(p, "web"), 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range c.Mounts {
		got = append(got, m.Type+":"+m.Target)
	}
	want := "bind:/src volume:/anon volume:/data bind:/strict tmpfs:/scratch volume:/mem tmpfs:/run file:/app file:/etc/inline.conf file:/run/secrets/token"
	if strings.Join(got, " ") != want {
		t.Errorf("mounts %s\nwant   %s", strings.Join(got, " "), want)
	}
	if m := c.Mounts[2]; m.Source != "custom-data" || m.Subpath != "sub" || !m.NoCopy {
		t.Errorf("named volume mount %+v", m)
	}
	if m := c.Mounts[3]; m.CreateHostPath || m.Propagation != "rshared" || !m.ReadOnly || m.Source != filepath.Join(dir, "strict") {
		t.Errorf("strict bind %+v", m)
	}
	if m := c.Mounts[0]; !m.CreateHostPath {
		t.Errorf("short bind %+v: want create_host_path", m)
	}
	if m := c.Mounts[9]; string(m.Content) != "s3cret" || m.FileUID != 33 || m.FileMode != 0o400 {
		t.Errorf("secret %+v", m)
	}
	if strings.Join(c.VolumesFrom, ",") != "p-db-1:ro" {
		t.Errorf("volumes_from %v", c.VolumesFrom)
	}

	// The plan makes the volumes with their options, labels and names.
	st, err := Observe(t.Context(), deps(newFake()), p.Name, p)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Compute(p, st, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, s := range plan.Steps {
		if a, ok := s.Action.(CreateVolume); ok {
			made = append(made, a.Name)
			if a.Name == "p_mem" && a.DriverOpts["type"] != "tmpfs" {
				t.Errorf("p_mem made without its options: %+v", a)
			}
			if a.Name == "custom-data" && a.Labels["team"] != "a" {
				t.Errorf("custom-data made without its labels: %+v", a)
			}
		}
	}
	if len(made) != 3 {
		t.Errorf("volumes made: %v, want custom-data, p_mem and one anonymous", made)
	}
}
