package main

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// releaseStartupMemory gives back what only start-up needed before the
// server idles: the heap the packages' init allocated (compose-go's JSON
// schema, reference grammars) and the pages of berth's own binary that
// start-up touched (every package's init, the command tree), which the
// kernel maps 64 KiB around each touched page. The pages the server goes
// on using come back on their first use, from the page cache. Best effort:
// the server works the same without it.
func releaseStartupMemory() { releaseMemory() }

// releaseMemory returns the heap's free pages to the system and pages out
// the binary's pages (see releaseStartupMemory).
func releaseMemory() {
	debug.FreeOSMemory()
	exe, err := os.Executable()
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fs := strings.Fields(sc.Text())
		if len(fs) < 6 || fs[5] != exe || strings.Contains(fs[1], "w") {
			continue
		}
		start, end, ok := strings.Cut(fs[0], "-")
		if !ok {
			continue
		}
		lo, err1 := strconv.ParseUint(start, 16, 64)
		hi, err2 := strconv.ParseUint(end, 16, 64)
		if err1 != nil || err2 != nil || hi <= lo {
			continue
		}
		// A raw call: the range is the binary's mapping, not Go memory.
		_, _, _ = unix.Syscall(unix.SYS_MADVISE, uintptr(lo), uintptr(hi-lo), unix.MADV_PAGEOUT)
	}
}

// idleAfter is how long the server must see no request begin or end
// before it gives memory back.
const idleAfter = 2 * time.Second

// idleReleaser hands requests on to the handler it wraps and, once no
// request has begun or ended for idleAfter, gives back what the burst of
// work before left resident (releaseMemory): the server idles at about
// its start-up size after any work, not at its high-water mark. Open
// streams (events, logs -f, attach) do not count as activity.
type idleReleaser struct {
	next  http.Handler
	after time.Duration // idleAfter, shorter in tests
	last  atomic.Int64  // when a request last began or ended, Unix ns
	poke  chan struct{} // a request began or ended since the last release
}

// newIdleReleaser wraps next; release runs after each burst, until ctx
// ends, once no request has begun or ended for after.
func newIdleReleaser(ctx context.Context, next http.Handler, after time.Duration, release func()) *idleReleaser {
	ir := &idleReleaser{next: next, after: after, poke: make(chan struct{}, 1)}
	go ir.run(ctx, release)
	return ir
}

func (ir *idleReleaser) touch() {
	ir.last.Store(time.Now().UnixNano())
	select {
	case ir.poke <- struct{}{}:
	default:
	}
}

func (ir *idleReleaser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ir.touch()
	defer ir.touch()
	ir.next.ServeHTTP(w, r)
}

// run calls release once after each burst of requests, when it has been
// idle for idleAfter.
func (ir *idleReleaser) run(ctx context.Context, release func()) {
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-ir.poke:
		}
		for {
			wait := time.Until(time.Unix(0, ir.last.Load()).Add(ir.after))
			if wait <= 0 {
				break
			}
			t.Reset(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		// Pokes of the burst just over: this release covers them.
		select {
		case <-ir.poke:
		default:
		}
		release()
	}
}
