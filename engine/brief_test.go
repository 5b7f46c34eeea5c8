package engine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
)

// briefOf is what readBriefRecord must make of rec.
func briefOf(rec *record) *briefRecord {
	b := &briefRecord{Version: rec.Version, ID: rec.ID, ImageID: rec.ImageID}
	b.Config.Name, b.Config.Labels, b.Config.Mounts = rec.Config.Name, rec.Config.Labels, rec.Config.Mounts
	b.Config.AutoRemove, b.Config.AutoRemoveOwner = rec.Config.AutoRemove, rec.Config.AutoRemoveOwner
	return b
}

// TestReadBriefRecord: the brief of a record is its fields as readRecord
// reads them, under the keys the record is written with, for this version
// and the one before; a corrupt record is an error naming it.
func TestReadBriefRecord(t *testing.T) {
	grace := 3 * time.Second
	full := &record{
		Version: recordVersion,
		ID:      ContainerID(strings.Repeat("ef", 32)),
		Config: ContainerConfig{
			Name: "p-web-1", Image: "nginx", Labels: map[string]string{"com.docker.compose.service": "web", "empty": ""},
			Cmd: []string{"nginx"}, Env: []string{"A=1"},
			Mounts: []Mount{
				{Type: "volume", Source: "p_data", Target: "/data", ReadOnly: true, Subpath: "sub", NoCopy: true},
				{Type: "file", Target: "/etc/app.conf", Content: []byte("x=1\n"), FileUID: 1, FileGID: 2, FileMode: 0o600},
				{Type: "tmpfs", Target: "/tmp", TmpfsSize: 1 << 20, TmpfsMode: 0o1777, Options: []string{"noexec"}},
			},
			Networks:   []EndpointConfig{{Network: "p_default", Aliases: []string{"web"}}},
			AutoRemove: true, AutoRemoveOwner: &ProcRef{Pid: 42, Start: 4242},
			StopTimeout: &grace, Healthcheck: &Healthcheck{Test: []string{"CMD", "true"}},
		},
		ImageID:    "sha256:" + strings.Repeat("cd", 32),
		StopSignal: "SIGQUIT",
		Created:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("this version", func(t *testing.T) {
		got, err := readBriefRecord(writeRecordFile(t, string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if want := briefOf(full); !reflect.DeepEqual(got, want) {
			t.Errorf("brief %+v\nwant  %+v", got, want)
		}
	})
	t.Run("version 1", func(t *testing.T) {
		dir := writeRecordFile(t, v1Record(`[{"host_port":"8080","container_port":80}]`))
		rec, err := readRecord(dir)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readBriefRecord(dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := briefOf(rec); !reflect.DeepEqual(got, want) || got.Version != recordVersion {
			t.Errorf("brief %+v\nwant  %+v", got, want)
		}
	})
	for name, content := range map[string]string{
		"corrupt":         `{"version":2,`,
		"unknown version": strings.Replace(string(b), `"version":2`, `"version":9`, 1),
		"a wrong type":    strings.Replace(string(b), `"name":"p-web-1"`, `"name":7`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeRecordFile(t, content)
			_, err := readBriefRecord(dir)
			if p := filepath.Join(dir, "container.json"); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), p) {
				t.Errorf("readBriefRecord = %v, want DataLoss naming %s", err, p)
			}
		})
	}
}

// TestListBriefIsListInBrief: ListBrief lists what List lists, with the
// same filter, in brief; a corrupt record is an error naming it.
func TestListBriefIsListInBrief(t *testing.T) {
	e := newUnprivEngine(t, "/bin/true", true)
	for _, c := range []ContainerConfig{
		{Name: "b", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"tier": "web"},
			Mounts: []Mount{{Type: "tmpfs", Target: "/scratch"}}},
		{Name: "a", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"tier": "web", "team": "x"}},
		{Name: "c", Image: "busybox", Cmd: []string{"true"}, Labels: map[string]string{"tier": "db"}},
	} {
		if _, err := e.Create(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	for _, filter := range []map[string]string{nil, {"tier": "web"}, {"team": "x"}, {"tier": "none"}} {
		all, err := e.List(t.Context(), filter)
		if err != nil {
			t.Fatal(err)
		}
		var want []Brief
		for _, c := range all {
			want = append(want, Brief{ID: c.ID, Name: c.Config.Name, Labels: c.Config.Labels, Mounts: c.Config.Mounts,
				ImageID: c.ImageID, Status: c.State.Status})
		}
		got, err := e.ListBrief(t.Context(), filter)
		if err != nil {
			t.Fatal(err)
		}
		if (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
			t.Errorf("ListBrief(%v) = %+v\nwant %+v", filter, got, want)
		}
	}

	all, _ := e.List(t.Context(), map[string]string{"tier": "db"})
	p := filepath.Join(e.containerDir(all[0].ID), "container.json")
	if err := os.WriteFile(p, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ListBrief(t.Context(), nil); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), p) {
		t.Errorf("ListBrief: %v, want DataLoss naming %s", err, p)
	}
}
