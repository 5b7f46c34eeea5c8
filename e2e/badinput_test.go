//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInputHarmsNothing: each bad project fails with exit 1 and one
// line naming the problem, makes nothing, and the project already running
// is untouched.
func TestBadInputHarmsNothing(t *testing.T) {
	h := newHarness(t)
	hello := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	h.mustBerth("-f", hello, "up", "-d")
	t.Cleanup(func() { h.mustBerth("-f", hello, "down", "-v") })
	before := h.ps(hello)

	cases := []struct {
		name, compose, want string
	}{
		{"unknown image, never pulled", "services:\n  a:\n    image: nosuch:latest\n    pull_policy: never\n",
			`image "nosuch:latest" is not present and pull_policy is never`},
		{"unsupported field", "services:\n  a:\n    image: busybox\n    deploy: {mode: global}\n",
			"services.a.deploy.mode: \"global\" is not supported by berth yet"},
		{"refused field", "services:\n  a:\n    image: busybox\n    storage_opt: {size: 1G}\n",
			"services.a.storage_opt: not supported: per-container storage options"},
		{"wrong type", "services:\n  a:\n    image: busybox\n    command: {a: b}\n", "services.a.command"},
		{"unknown dependency", "services:\n  a:\n    image: busybox\n    depends_on: [nope]\n", "nope"},
		{"undefined volume", "services:\n  a:\n    image: busybox\n    volumes: [data:/data]\n", "data"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(tc.compose), 0o644); err != nil {
				t.Fatal(err)
			}
			r := h.berthIn(dir, "-p", h.project+"bad", "up", "-d")
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			last := lines[len(lines)-1]
			if r.code != 1 || !strings.Contains(last, tc.want) {
				t.Fatalf("exit %d, last line %q; want exit 1 and a line naming %q\n%s", r.code, last, tc.want, r.stderr)
			}
			if out := h.mustBerth("network", "ls"); strings.Contains(out, h.project+"bad") {
				t.Errorf("a failed up left a network:\n%s", out)
			}
			h.berthIn(dir, "-p", h.project+"bad", "down", "-v")
		})
	}
	after := h.ps(hello)
	if len(after) != len(before) {
		t.Fatalf("the running project changed: %d containers, was %d", len(after), len(before))
	}
	for i := range before {
		if before[i].ID != after[i].ID || after[i].State != "running" {
			t.Errorf("container %s was touched: %+v", before[i].Name, after[i])
		}
	}
}
