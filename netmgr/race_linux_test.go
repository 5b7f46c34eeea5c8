package netmgr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

// The child processes of TestSubnetRaceBetweenProcesses: the test binary
// re-executed with raceChildEnv set to "root run prefix count", creating
// count networks (every other one with IPv6) in its own root as soon as its
// standard input closes, printing "ok" when done.
const (
	raceChildEnv     = "BERTH_NETMGR_TEST_RACE"
	raceChildLockEnv = "BERTH_NETMGR_TEST_RACE_LOCK" // "private": a lock per root, to check that the test can fail
)

func raceChildMain() int {
	f := strings.Fields(os.Getenv(raceChildEnv))
	if len(f) != 4 {
		fmt.Fprintln(os.Stderr, "race child: want root run prefix count")
		return 2
	}
	count, err := strconv.Atoi(f[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "race child:", err)
		return 2
	}
	lock := "" // the host-wide default
	if os.Getenv(raceChildLockEnv) == "private" {
		lock = filepath.Join(f[0], "subnet.lock") // as if there were no host-wide lock
	}
	m, err := New(Options{Root: f[0], RunDir: f[1], SubnetLock: lock})
	if err != nil {
		fmt.Fprintln(os.Stderr, "race child:", err)
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // the starting gun: stdin closed
	for i := range count {
		cfg := NetworkConfig{Name: fmt.Sprintf("%s_%d", f[2], i), EnableIPv6: i%2 == 1}
		if _, err := m.Create(context.Background(), cfg); err != nil {
			fmt.Fprintln(os.Stderr, "race child:", err)
			return 1
		}
	}
	fmt.Println("ok")
	return 0
}

// TestSubnetRaceBetweenProcesses: berth processes of different roots (so no
// network lock in common) creating networks at the same moment never get
// overlapping subnets, IPv4 or IPv6, and leave every bridge whole.
func TestSubnetRaceBetweenProcesses(t *testing.T) {
	e := newEnv(t)
	const rounds, procs, count = 3, 2, 6
	for round := range rounds {
		var roots []string
		var cmds []*exec.Cmd
		var gates []io.WriteCloser
		var outs []*strings.Builder
		for p := range procs {
			root := filepath.Join(t.TempDir(), "root")
			roots = append(roots, root)
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %s %s %d", raceChildEnv, root, e.run, e.name(fmt.Sprintf("r%dp%d", round, p)), count))
			gate, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds, gates, outs = append(cmds, cmd), append(gates, gate), append(outs, out)
		}
		for _, g := range gates {
			_ = g.Close()
		}
		var errs []error
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil || !strings.Contains(outs[i].String(), "ok") {
				errs = append(errs, fmt.Errorf("child %d: %v: %s", i, err, outs[i]))
			}
		}
		var all []*Network
		var managers []*Manager
		for _, root := range roots {
			m, err := New(Options{Root: root, RunDir: e.run})
			if err != nil {
				t.Fatal(err)
			}
			managers = append(managers, m)
			nets, err := m.List(t.Context(), nil)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, nets...)
		}
		if err := errors.Join(errs...); err != nil {
			t.Error(err)
		}
		if len(all) != procs*count && len(errs) == 0 {
			t.Errorf("round %d: %d networks, want %d", round, len(all), procs*count)
		}
		for i, a := range all {
			if ok, err := bridgeExists(a); !ok || err != nil {
				t.Errorf("round %d: network %s: bridge %s not whole: %v", round, a.Name, a.Bridge, err)
			}
			for _, b := range all[:i] {
				for _, pair := range [][2]netip.Prefix{{a.Subnet, b.Subnet}, {a.Subnet6, b.Subnet6}} {
					if pair[0].IsValid() && pair[1].IsValid() && pair[0].Overlaps(pair[1]) {
						t.Errorf("round %d: networks %s and %s overlap: %s, %s", round, a.Name, b.Name, pair[0], pair[1])
					}
				}
			}
		}
		for i, m := range managers {
			for _, n := range all {
				if err := m.Remove(t.Context(), n.Name); err != nil && !errdefs.IsNotFound(err) {
					t.Errorf("root %d: %v", i, err)
				}
			}
		}
		if t.Failed() {
			return
		}
	}
}
