package spec

import (
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestLoadDevelop(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "compose.yaml"), `
services:
  web:
    image: busybox
    build: .
    develop:
      watch:
        - {path: ./src, action: sync, target: /app/src, ignore: [node_modules/], include: ["*.py"], initial_sync: true}
        - {path: ./requirements.txt, action: rebuild}
        - {path: ./conf, action: sync+exec, target: /etc/app, exec: {command: [kill, -HUP, "1"], user: root, privileged: true, working_dir: /etc, environment: {B: "2", A: "1"}}}
  old:
    image: busybox
    x-develop:
      watch:
        - {path: ./old, action: sync+restart, target: /old, x-initialSync: true}
  plain:
    image: busybox
`)
	p := mustLoad(t, LoadOptions{WorkingDir: dir})
	want := &Develop{Watch: []WatchRule{
		{Path: filepath.Join(dir, "src"), Action: WatchSync, Target: "/app/src", Ignore: []string{"node_modules/"}, Include: []string{"*.py"}, InitialSync: true},
		{Path: filepath.Join(dir, "requirements.txt"), Action: WatchRebuild},
		{Path: filepath.Join(dir, "conf"), Action: WatchSyncExec, Target: "/etc/app", Exec: &WatchExec{
			Command: []string{"kill", "-HUP", "1"}, User: "root", Privileged: true, WorkingDir: "/etc", Environment: []string{"A=1", "B=2"}}},
	}}
	if got := service(t, p, "web").Develop; !reflect.DeepEqual(got, want) {
		t.Errorf("web develop = %+v, want %+v", got, want)
	}
	wantOld := &Develop{Watch: []WatchRule{{Path: filepath.Join(dir, "old"), Action: WatchSyncRestart, Target: "/old", InitialSync: true}}}
	if got := service(t, p, "old").Develop; !reflect.DeepEqual(got, wantOld) {
		t.Errorf("x-develop = %+v, want %+v", got, wantOld)
	}
	if got := service(t, p, "plain").Develop; got != nil {
		t.Errorf("plain develop = %+v, want nil", got)
	}
	if err := p.CheckSupported(); err != nil && strings.Contains(err.Error(), "develop") {
		t.Errorf("CheckSupported: %v", err)
	}
	if err := p.CheckWatch(nil); err != nil {
		t.Errorf("CheckWatch: %v", err)
	}
}

func TestCheckWatch(t *testing.T) {
	tests := []struct {
		name     string
		services string
		only     []string
		want     string // "" no error
	}{
		{name: "rebuild without build", services: `
  web:
    image: busybox
    develop: {watch: [{path: ., action: rebuild}]}
`, want: `compose.yaml: services.web.develop.watch[0].action: "rebuild" needs a build: section to rebuild the image from`},
		{name: "sync+exec without command", services: `
  web:
    image: busybox
    develop: {watch: [{path: ., action: sync+exec, target: /app}]}
`, want: `compose.yaml: services.web.develop.watch[0].exec.command: "sync+exec" needs a command`},
		{name: "no watched service", services: `
  web:
    image: busybox
`, want: "compose.yaml: none of the selected services is configured for watch, consider setting a 'develop' section"},
		{name: "only an unwatched service selected", only: []string{"db"}, services: `
  web:
    image: busybox
    develop: {watch: [{path: ., action: restart}]}
  db:
    image: busybox
`, want: "none of the selected services is configured for watch"},
		{name: "a bad rule of an unselected service", only: []string{"db"}, services: `
  web:
    image: busybox
    develop: {watch: [{path: ., action: rebuild}]}
  db:
    image: busybox
    develop: {watch: [{path: ., action: restart}]}
`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "compose.yaml"), "services:"+tc.services)
			p := mustLoad(t, LoadOptions{WorkingDir: dir})
			err := p.CheckWatch(tc.only)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("CheckWatch: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("CheckWatch = %v, want one line with %q", err, tc.want)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error class: %v", err)
			}
		})
	}
}
