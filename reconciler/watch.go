package reconciler

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/inotify"
)

// DefaultWatchSettle is WatchOptions.Settle's default.
const DefaultWatchSettle = 20 * time.Millisecond

// WatchOptions configure Watch.
type WatchOptions struct {
	// Files returns the files whose change means the project may have
	// changed (Compose files, included and extended files, env files). It is
	// asked again after every reload, so new includes are picked up.
	Files func() []string
	// Settle is how long the files must stay quiet after the writes to them
	// are complete (each writer closed its file, or renamed it into place)
	// before a reload, so that files saved together (a checkout, an
	// editor's "save all") make one reload; 0: DefaultWatchSettle.
	Settle time.Duration
	// Debounce is how long the files must stay quiet before a reload while
	// a write is not known to be complete: a file is still open for
	// writing, or was removed and not replaced. A reload then could act on
	// half a file.
	Debounce time.Duration
	// Converge reloads and converges the project. An error is reported
	// through OnError and the watch goes on: what runs is left as it is.
	Converge func(ctx context.Context) error
	OnError  func(error)
	// Watching, if set, is called once the files are watched: a change
	// made after it returns is seen.
	Watching func()
}

// Watch calls opt.Converge each time the watched files change until ctx
// is done, and returns ctx's cause. It watches the files' directories, so
// editors that replace a file by renaming are seen. A change is acted on
// once every write to the files is complete and they have been quiet for
// opt.Settle, or, while a write may still be under way, once they have
// been quiet for opt.Debounce.
func Watch(ctx context.Context, opt WatchOptions) error {
	if opt.Settle <= 0 {
		opt.Settle = DefaultWatchSettle
	}
	w, err := inotify.New()
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
			if dir := filepath.Dir(abs); !w.Watching(dir) {
				if err := w.Add(dir); err != nil {
					opt.OnError(fmt.Errorf("watch %s: %w", dir, err))
				}
			}
		}
	}
	watchDirs()
	if opt.Watching != nil {
		opt.Watching()
	}
	// open are the files written to, or removed, since their write was
	// last complete; "" stands for files unknown (events were lost).
	open := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case ev, ok := <-w.Events:
			if !ok {
				if err := <-w.Errors; err != nil {
					return fmt.Errorf("watch: %w", err)
				}
				return fmt.Errorf("watch: watcher closed")
			}
			name := filepath.Clean(ev.Name)
			switch {
			case ev.Op.Has(inotify.Overflow):
				open[""] = true
			case !files[name]:
				continue
			case ev.Op.Has(inotify.MovedTo):
				delete(open, name)
			case ev.Op.Has(inotify.CloseWrite):
				if !open[name] {
					continue // opened for writing, closed unwritten
				}
				delete(open, name)
			default: // created, written or removed
				open[name] = true
			}
			if len(open) > 0 {
				timer.Reset(opt.Debounce)
			} else {
				timer.Reset(opt.Settle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return fmt.Errorf("watch: watcher closed")
			}
			opt.OnError(fmt.Errorf("watch: %w", err))
		case <-timer.C:
			clear(open)
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
