package reconciler

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchOptions configure Watch.
type WatchOptions struct {
	// Files returns the files whose change means the project may have
	// changed (Compose files, included and extended files, env files). It is
	// asked again after every reload, so new includes are picked up.
	Files func() []string
	// Debounce is how long the files must stay quiet before a reload.
	Debounce time.Duration
	// Converge reloads and converges the project. An error is reported
	// through OnError and the watch goes on: what runs is left as it is.
	Converge func(ctx context.Context) error
	OnError  func(error)
}

// Watch calls opt.Converge each time the watched files change (debounced)
// until ctx is done, and returns ctx's cause. It watches the files'
// directories, so editors that replace a file by renaming are seen.
func Watch(ctx context.Context, opt WatchOptions) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer w.Close()
	files := map[string]bool{}
	watchDirs := func() {
		files = map[string]bool{}
		for _, f := range opt.Files() {
			abs, err := filepath.Abs(f)
			if err != nil {
				continue
			}
			files[abs] = true
			dir := filepath.Dir(abs)
			if !slices.Contains(w.WatchList(), dir) {
				if err := w.Add(dir); err != nil {
					opt.OnError(fmt.Errorf("watch %s: %w", dir, err))
				}
			}
		}
	}
	watchDirs()
	var timer <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case ev, ok := <-w.Events:
			if !ok {
				return fmt.Errorf("watch: watcher closed")
			}
			if files[filepath.Clean(ev.Name)] && !ev.Has(fsnotify.Chmod) {
				timer = time.After(opt.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("watch: watcher closed")
			}
			opt.OnError(fmt.Errorf("watch: %w", err))
		case <-timer:
			timer = nil
			if err := opt.Converge(ctx); err != nil {
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				opt.OnError(err)
			}
			watchDirs()
		}
	}
}
