package bench

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// envCleanup names the working directory of a BenchmarkCompose run that was
// killed before its teardown.
const envCleanup = "BERTH_BENCH_CLEANUP"

// TestInterruptedBenchCleanup removes from the host what the peers of a
// killed BenchmarkCompose run created outside their working directories, as
// their set-ups recorded it there (*.host.json): directories under /run and
// /var/lib, the CNI firewall chains. hack/bench-compose.sh runs it from its
// exit trap, after taking down the containers; without BERTH_BENCH_CLEANUP it
// skips.
func TestInterruptedBenchCleanup(t *testing.T) {
	dir := os.Getenv(envCleanup)
	if dir == "" {
		t.Skipf("%s not set: no interrupted run to clean up", envCleanup)
	}
	files, err := filepath.Glob(footprintFile(filepath.Join(dir, "*")))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), footprintFile("")), func(t *testing.T) {
			f, err := loadFootprint(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.clean(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(file); err != nil {
				t.Fatal(err)
			}
		})
	}
}
