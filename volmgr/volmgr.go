// Package volmgr keeps named volumes: a directory per volume under
// <root>/volumes/<name>/_data with its record in <root>/volumes/<name>/volume.json.
// A volume with the local driver's options (type, o, device: a tmpfs, a
// bind of a host directory) has that file system mounted on _data by Mount
// and unmounted by Unmount and Remove, which never deletes through a mount.
// Seed copies an image's content into a volume once, and never over data.
// It knows nothing about services or containers; whether a volume is in use
// is for its callers to decide.
//
// Lock order: the volume lock (<root>/volumes/lock) is taken for every change
// of a record, after any project lock.
package volmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/eventlog"
	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/internal/lazyregexp"
	"github.com/berth-dev/berth/internal/smallfile"
	"github.com/berth-dev/berth/internal/topdir"
)

// recordVersion is the version of volume.json this code reads and writes.
const recordVersion = 1

// validName is what Docker accepts as a volume name.
var validName = lazyregexp.New(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Volume is a named volume, as recorded.
type Volume struct {
	Version int               `json:"version"`
	Name    string            `json:"name"`
	Driver  string            `json:"driver"`
	Labels  map[string]string `json:"labels,omitempty"`
	// Options are the local driver's options (Docker's driver_opts):
	// "type", "o" and "device", mounted on the data directory while a
	// container uses the volume. Empty: a plain directory.
	Options map[string]string `json:"options,omitempty"`
	// Seeded is set once the volume has held data (the image's content
	// copied in, or anything a container wrote): it is never seeded again.
	Seeded     bool      `json:"seeded,omitempty"`
	Created    time.Time `json:"created"`
	Mountpoint string    `json:"mountpoint"` // derived from the root; not trusted from disk
}

// LabelAnonymous marks an anonymous volume, as Docker does.
const LabelAnonymous = "com.docker.volume.anonymous"

// CreateOptions are what a volume is made with besides its name.
type CreateOptions struct {
	Labels map[string]string
	Driver string            // "" or "local"
	Opts   map[string]string // the local driver's options: type, o, device
}

// Store keeps the volumes under one state root. Safe for concurrent use by
// several goroutines and processes.
type Store struct {
	dir string // <root>/volumes; immutable
	log *slog.Logger
	// events is the state root's event journal: volume create and
	// destroy are recorded there for `GET /events`.
	events *eventlog.Log
}

// Open returns the store under root, creating its directory.
func Open(root string, log *slog.Logger) (*Store, error) {
	dir := filepath.Join(root, "volumes")
	if err := topdir.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	return &Store{dir: dir, log: log, events: eventlog.Open(root)}, nil
}

// Path returns the host directory holding the data of volume name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name, "_data") }

func (s *Store) lock(ctx context.Context) (func(), error) {
	return flock.Lock(ctx, filepath.Join(s.dir, "lock"))
}

// ValidateName returns an errdefs.ErrInvalidArgument error when name cannot
// name a volume (empty, path separators, "..", …).
func ValidateName(name string) error {
	if !validName.MatchString(name) {
		return fmt.Errorf("volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed: %w", name, errdefs.ErrInvalidArgument)
	}
	return nil
}

// Create makes the volume with the labels given. errdefs.ErrAlreadyExists if
// a volume of that name exists (its data is never touched).
func (s *Store) Create(ctx context.Context, name string, labels map[string]string) (*Volume, error) {
	return s.CreateWithOptions(ctx, name, CreateOptions{Labels: labels})
}

// CreateWithOptions makes the volume as opt says. errdefs.ErrAlreadyExists
// if a volume of that name exists (its data is never touched);
// errdefs.ErrInvalidArgument for a bad name, driver or option.
func (s *Store) CreateWithOptions(ctx context.Context, name string, opt CreateOptions) (_ *Volume, retErr error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	if opt.Driver != "" && opt.Driver != "local" {
		return nil, fmt.Errorf("volume %q: driver %q: only local is supported: %w", name, opt.Driver, errdefs.ErrInvalidArgument)
	}
	if err := validateOptions(opt.Opts); err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	labels := opt.Labels
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	dir := filepath.Join(s.dir, name)
	if _, err := os.Lstat(filepath.Join(dir, "volume.json")); err == nil {
		return nil, fmt.Errorf("volume %q: %w", name, errdefs.ErrAlreadyExists)
	}
	if err := os.MkdirAll(filepath.Join(dir, "_data"), 0o755); err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, os.RemoveAll(dir))
		}
	}()
	v := &Volume{Version: recordVersion, Name: name, Driver: "local", Labels: maps.Clone(labels), Options: maps.Clone(opt.Opts), Created: time.Now().UTC()}
	if err := atomicfile.WriteJSON(filepath.Join(dir, "volume.json"), v, 0o600); err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	v.Mountpoint = s.Path(name)
	s.event(ctx, "create", v)
	return v, nil
}

// Get returns the volume's record. errdefs.ErrNotFound if there is none.
func (s *Store) Get(ctx context.Context, name string) (*Volume, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	return s.read(name)
}

func (s *Store) read(name string) (*Volume, error) {
	p := filepath.Join(s.dir, name, "volume.json")
	b, err := smallfile.Read(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("volume %q: %w", name, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	var v Volume
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("volume %q: corrupt record %s: %w", name, p, err)
	}
	if v.Version != recordVersion {
		return nil, fmt.Errorf("volume %q: record %s has version %d, this berth reads %d: %w", name, p, v.Version, recordVersion, errdefs.ErrFailedPrecondition)
	}
	v.Mountpoint = s.Path(v.Name)
	return &v, nil
}

// List returns the volumes whose labels include every pair in labels, sorted
// by name. A corrupt record is an error naming its path.
func (s *Store) List(ctx context.Context, labels map[string]string) ([]*Volume, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("volume store: %w", err)
	}
	var out []*Volume
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		v, err := s.read(e.Name())
		if errdefs.IsNotFound(err) {
			continue // half-made by a process that died before writing the record
		}
		if err != nil {
			return nil, err
		}
		if hasLabels(v.Labels, labels) {
			out = append(out, v)
		}
	}
	slices.SortFunc(out, func(a, b *Volume) int { return compareStrings(a.Name, b.Name) })
	return out, nil
}

// Remove deletes the volume and its data. errdefs.ErrNotFound if it does not
// exist. Whether it is in use is for the caller to check first.
func (s *Store) Remove(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := s.read(name)
	if err != nil {
		return err
	}
	dir := filepath.Join(s.dir, name)
	// A driver_opts volume may still be mounted (on a host directory of
	// the user's): never delete through a mount.
	if err := unmountData(s.Path(name)); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if err := checkNoMountsUnder(dir); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	// Remove the record first so a crash half-way leaves no volume that looks whole.
	if err := os.Remove(filepath.Join(dir, "volume.json")); err != nil {
		return fmt.Errorf("volume %q: %w", name, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("volume %q: remove data: %w", name, err)
	}
	s.event(ctx, "destroy", v)
	return nil
}

// event records action on volume v in the event journal, with Docker's
// attributes (driver) and its labels.
func (s *Store) event(ctx context.Context, action string, v *Volume) {
	s.events.Record(ctx, s.log, eventlog.Event{Type: "volume", Action: action, ID: v.Name, Name: v.Name,
		Labels: v.Labels, Attributes: map[string]string{"driver": v.Driver}})
}

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
