package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/smallfile"
)

// Brief is a container in brief, as ListBrief reports it: who it is, what
// it mounts, which image it runs and its status. Each field is what List
// reports in the container's Config, ImageID and State.Status.
type Brief struct {
	ID      ContainerID
	Name    string
	Labels  map[string]string
	Mounts  []Mount
	ImageID string
	Status  Status
}

// briefRecord is the part of container.json (record, of recordVersion)
// that ListBrief reads, under the same keys. Decoding it rather than the
// whole record spares encoding/json the set-up of the record's every type
// (the image configuration, the resources, …), which costs a short-lived
// process more than reading the files.
type briefRecord struct {
	Version int         `json:"version"`
	ID      ContainerID `json:"id"`
	Config  struct {
		Name            string            `json:"name"`
		Labels          map[string]string `json:"labels"`
		Mounts          []Mount           `json:"mounts"`
		AutoRemove      bool              `json:"auto_remove"`
		AutoRemoveOwner *ProcRef          `json:"auto_remove_owner"`
	} `json:"config"`
	ImageID string `json:"image_id"`
}

// readBriefRecord reads dir's container.json as a briefRecord. A record
// of another version, or one that does not decode as this version, is
// read as readRecord reads it, which upgrades it or names what is wrong.
func readBriefRecord(dir string) (*briefRecord, error) {
	p := filepath.Join(dir, ctrstate.RecordFile)
	b, err := smallfile.Read(p)
	if err != nil {
		return nil, err
	}
	return decodeBriefRecord(dir, p, b)
}

// decodeBriefRecord is readBriefRecord of b, read from dir's container.json
// at p.
func decodeBriefRecord(dir, p string, b []byte) (*briefRecord, error) {
	var r briefRecord
	if decodeJSON(p, b, &r) == nil && r.Version == recordVersion {
		return &r, nil
	}
	rec, err := readRecord(dir)
	if err != nil {
		return nil, err
	}
	r = briefRecord{Version: rec.Version, ID: rec.ID, ImageID: rec.ImageID}
	r.Config.Name, r.Config.Labels, r.Config.Mounts = rec.Config.Name, rec.Config.Labels, rec.Config.Mounts
	r.Config.AutoRemove, r.Config.AutoRemoveOwner = rec.Config.AutoRemove, rec.Config.AutoRemoveOwner
	return &r, nil
}

// ListBrief returns the containers List(ctx, labels) returns, in brief, in
// the same order. It reads less than List (no health, no networks, the
// record's other fields not decoded), for a caller that needs no more,
// such as a plan's observation of a project. It finishes the removal of
// exited AutoRemove containers as List does.
func (e *Engine) ListBrief(ctx context.Context, labels map[string]string) ([]Brief, error) {
	dirs, err := e.containerDirs()
	if err != nil {
		return nil, err
	}
	got := make([]*Brief, len(dirs))
	err = eachParallel(len(dirs), func(i int) error {
		dir := dirs[i]
		r, err := readBriefRecord(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a removal that was interrupted
		}
		if err != nil {
			return err
		}
		if !hasLabels(r.Config.Labels, labels) {
			return nil
		}
		gone, err := e.finishAutoRemove(ctx, dir, r.ID, r.Config.AutoRemove, r.Config.AutoRemoveOwner)
		if err != nil {
			e.log.WarnContext(ctx, "removing an exited auto-remove container", "container", r.Config.Name, "err", err)
		}
		if gone {
			return nil
		}
		_, st, err := e.readObserved(ctx, dir)
		if err != nil {
			return fmt.Errorf("container %q: %w", r.Config.Name, err)
		}
		got[i] = &Brief{ID: r.ID, Name: r.Config.Name, Labels: r.Config.Labels, Mounts: r.Config.Mounts,
			ImageID: r.ImageID, Status: st.Status}
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make([]Brief, 0, len(got))
	for _, b := range got {
		if b != nil {
			out = append(out, *b)
		}
	}
	slices.SortFunc(out, func(a, b Brief) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// namedRecord is a container's ID and name, as readRecordName reads them.
type namedRecord struct {
	ID   ContainerID
	Name string
}

// readRecordName reads the ID and name of dir's container.json. Every
// Create reads them of every container, under the name lock: a cold up of
// n services n² times. So they are read from the first fields of the
// record, which is json.Marshal of a record (of recordVersion) and so
// begins with its version, its ID and its configuration's name, each once;
// the rest is only checked to be JSON (a corrupt record is an error, as
// readBriefRecord's), not decoded. A record that begins otherwise is read
// as readBriefRecord reads it.
func readRecordName(dir string) (*namedRecord, error) {
	p := filepath.Join(dir, ctrstate.RecordFile)
	b, err := smallfile.Read(p)
	if err != nil {
		return nil, err
	}
	if r, ok := leadingName(b); ok && json.Valid(b) {
		return r, nil
	}
	r, err := decodeBriefRecord(dir, p, b)
	if err != nil {
		return nil, err
	}
	return &namedRecord{ID: r.ID, Name: r.Config.Name}, nil
}

// leadingName reads the ID and name from the start of a record b of
// recordVersion: {"version": 2, "id": "…", "config": {"name": "…", …;
// ok is false for a record that does not begin so.
func leadingName(b []byte) (*namedRecord, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var id, name string
	for _, want := range []any{json.Delim('{'), "version", float64(recordVersion), "id", &id, "config", json.Delim('{'), "name", &name} {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if to, ok := want.(*string); ok {
			if *to, ok = tok.(string); !ok {
				return nil, false
			}
		} else if tok != want {
			return nil, false
		}
	}
	return &namedRecord{ID: ContainerID(id), Name: name}, isID(id) && name != ""
}
