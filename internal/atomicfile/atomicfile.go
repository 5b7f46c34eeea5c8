// Package atomicfile writes files so that readers see either the old content
// or the new content, never a torn write: a temporary file in the same
// directory is written, synced and renamed over the target, and the directory
// is synced after the rename.
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, with permissions perm.
// The parent directory must exist. It is safe for concurrent use: the last
// rename wins and no reader sees partial content.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, func(f *os.File) error { _, err := f.Write(data); return err }, perm, true)
}

// WriteFrom is WriteFile with the content read from r to its end: an error
// of r leaves path as it was.
func WriteFrom(path string, r io.Reader, perm os.FileMode) error {
	return write(path, func(f *os.File) error { _, err := io.Copy(f, r); return err }, perm, true)
}

// Replace is WriteFile without its syncs: readers see the old content or
// the new, never a torn write, but after a crash of the machine the file
// may hold either, or nothing. Only for files made again before every use
// (a container bundle's config.json, written at each start).
func Replace(path string, data []byte, perm os.FileMode) error {
	return write(path, func(f *os.File) error { _, err := f.Write(data); return err }, perm, false)
}

func write(path string, fill func(*os.File) error, perm os.FileMode, sync bool) (retErr error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if retErr != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := fill(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			_ = f.Close()
			return fmt.Errorf("write %s: sync: %w", path, err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !sync {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write %s: open dir: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("write %s: sync dir: %w", path, err)
	}
	return nil
}

// WriteJSON marshals v with indentation and writes it atomically to path.
func WriteJSON(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: encode: %w", path, err)
	}
	return WriteFile(path, append(b, '\n'), perm)
}

// RemoveTemps removes the temporary files WriteFile left beside path when
// its process died mid-write. Only call it while holding whatever lock
// serialises the writers of path: a live writer's temporary file would go too.
func RemoveTemps(path string) error {
	matches, err := filepath.Glob(filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp*"))
	if err != nil {
		return fmt.Errorf("remove temporary files of %s: %w", path, err)
	}
	var errs []error
	for _, m := range matches {
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
