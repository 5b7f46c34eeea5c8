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

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/atomicfile"
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

// TestReadRecordName: the ID and name of a record as this version writes
// it are read from its first fields; those of any other record (the
// version before, fields in another order) as readBriefRecord reads them;
// a corrupt record is an error naming it.
func TestReadRecordName(t *testing.T) {
	rec := &record{
		Version: recordVersion,
		ID:      ContainerID(strings.Repeat("ef", 32)),
		Config: ContainerConfig{Name: "p-web-1", Image: "nginx", Labels: map[string]string{"com.docker.compose.service": "web"},
			Cmd: []string{"nginx"}, Mounts: []Mount{{Type: "volume", Source: "p_data", Target: "/data"}}},
		ImageID: "sha256:" + strings.Repeat("cd", 32),
	}
	written := filepath.Join(t.TempDir(), ctrstate.RecordFile)
	if err := atomicfile.WriteJSON(written, rec, 0o600); err != nil { // as Create writes it
		t.Fatal(err)
	}
	indented, err := os.ReadFile(written)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	v1ID := ContainerID(strings.Repeat("ab", 32))
	for _, tc := range []struct {
		name, content string
		want          namedRecord
		leading       bool // read from the first fields
	}{
		{name: "as Create writes it", content: string(indented), want: namedRecord{rec.ID, "p-web-1"}, leading: true},
		{name: "compact", content: string(compact), want: namedRecord{rec.ID, "p-web-1"}, leading: true},
		{name: "version 1", content: v1Record(`[]`), want: namedRecord{v1ID, "p-web-1"}},
		{name: "name not first", content: `{"version":2,"id":"` + string(rec.ID) + `","config":{"image":"x","name":"q-1"}}`, want: namedRecord{rec.ID, "q-1"}},
		{name: "id after config", content: `{"version":2,"config":{"name":"q-1"},"id":"` + string(rec.ID) + `"}`, want: namedRecord{rec.ID, "q-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := leadingName([]byte(tc.content)); ok != tc.leading {
				t.Errorf("leadingName ok = %v, want %v", ok, tc.leading)
			}
			got, err := readRecordName(writeRecordFile(t, tc.content))
			if err != nil || *got != tc.want {
				t.Errorf("readRecordName = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	for name, content := range map[string]string{
		"corrupt":         `{"version":2,`,
		"cut after name":  string(compact[:strings.Index(string(compact), `"p-web-1"`)+len(`"p-web-1"`)]),
		"unknown version": strings.Replace(string(compact), `"version":2`, `"version":9`, 1),
		"a wrong type":    strings.Replace(string(compact), `"name":"p-web-1"`, `"name":7`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeRecordFile(t, content)
			_, err := readRecordName(dir)
			if p := filepath.Join(dir, ctrstate.RecordFile); !errdefs.IsDataLoss(err) || !strings.Contains(err.Error(), p) {
				t.Errorf("readRecordName = %v, want DataLoss naming %s", err, p)
			}
		})
	}
}
