//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKilledUpConverges: berth up killed with SIGKILL at several points;
// the next up converges the project and down -v still leaves nothing.
func TestKilledUpConverges(t *testing.T) {
	file := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	for _, delay := range []time.Duration{2 * time.Millisecond, 10 * time.Millisecond, 30 * time.Millisecond, 60 * time.Millisecond, 120 * time.Millisecond} {
		t.Run(fmt.Sprint(delay), func(t *testing.T) {
			h := newHarness(t)
			cmd := exec.Command(berthBin, "--root", h.root, "-f", file, "up", "-d")
			cmd.Env = append(os.Environ(), "COMPOSE_PROJECT_NAME="+h.project)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(delay) // the point of interruption is the variable under test
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
			r := h.berth("-f", file, "up", "-d")
			if r.code != 0 {
				t.Fatalf("up after a killed up: exit %d: %s", r.code, r.stderr)
			}
			rows := h.ps(file)
			if len(rows) != 2 {
				t.Fatalf("%d running containers, want 2: %+v", len(rows), rows)
			}
		})
	}
}

// TestLostBridgeIsRepaired: a network whose bridge vanished (a crash
// between record and bridge, or a reboot) is made whole again by the next
// start of a container on it.
func TestLostBridgeIsRepaired(t *testing.T) {
	h := newHarness(t)
	file := filepath.Join(repoRoot, "examples", "hello", "compose.yaml")
	h.mustBerth("-f", file, "up", "-d")
	t.Cleanup(func() { h.mustBerth("-f", file, "down", "-v") })
	h.mustBerth("-f", file, "stop")
	bridge := h.bridgeOf(h.project + "_default")
	if out, err := exec.Command("ip", "link", "del", bridge).CombinedOutput(); err != nil {
		t.Fatalf("delete bridge %s: %v: %s", bridge, err, out)
	}
	h.mustBerth("-f", file, "start")
	if err := exec.Command("ip", "link", "show", "dev", bridge).Run(); err != nil {
		t.Fatalf("bridge %s was not made again: %v", bridge, err)
	}
	h.eventually("client reaches web over the repaired bridge", 20*time.Second, func() bool {
		return strings.Contains(h.mustBerth("-f", file, "logs", "--tail", "3", "client"), "Hello from berth")
	})
}
