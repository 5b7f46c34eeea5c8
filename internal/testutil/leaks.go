package testutil

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcessesMentioning returns the PIDs, other than this process, whose
// command line mentions s (a state root, a container ID). Zombies, whose
// command line is empty, are not among them.
func ProcessesMentioning(s string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if b, _ := os.ReadFile(filepath.Join("/proc", ent.Name(), "cmdline")); bytes.Contains(b, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}

// MountsUnder returns the mount points of this process's mount namespace
// below dir.
func MountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("mounts: %w", err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			out = append(out, f[4])
		}
	}
	return out, nil
}
