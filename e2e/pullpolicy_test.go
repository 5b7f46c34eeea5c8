//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPullPolicyDaily: pull_policy daily pulls an image never pulled, not
// again within the day, and again once its last pull (recorded by the
// image store) is older than a day.
func TestPullPolicyDaily(t *testing.T) {
	h := newHarness(t)
	ref := serveRegistry(t, "tools/daily")
	dir := t.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	compose := "services:\n  app:\n    image: " + ref + "\n    pull_policy: daily\n    init: true\n    command: [\"sleep\", \"3600\"]\n"
	if err := os.WriteFile(file, []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.berth("-f", file, "down", "-v") })
	pulls := func() bool {
		r := h.berth("-f", file, "up", "-d")
		if r.code != 0 {
			t.Fatalf("up: exit %d: %s", r.code, r.stderr)
		}
		h.mustBerth("-f", file, "down")
		return strings.Contains(r.stderr, "Pulled")
	}
	if !pulls() {
		t.Error("the first up did not pull the image")
	}
	if pulls() {
		t.Error("an up within the day pulled again")
	}
	records, _ := filepath.Glob(filepath.Join(h.root, "images", "pulled", "*.json"))
	if len(records) != 1 {
		t.Fatalf("pull records: %v, want one", records)
	}
	var rec map[string]any
	b, err := os.ReadFile(records[0])
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil {
		t.Fatal(err)
	}
	rec["time"] = time.Now().Add(-25 * time.Hour).UTC().Format(time.RFC3339Nano)
	b, _ = json.Marshal(rec)
	if err := os.WriteFile(records[0], b, 0o644); err != nil {
		t.Fatal(err)
	}
	if !pulls() {
		t.Error("an up a day after the last pull did not pull")
	}
}
