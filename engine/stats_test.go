package engine

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseNetDev(t *testing.T) {
	const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0:    2048      20    0    0    0     0          0         0      516       6    0    0    0     0       0          0
  eth1:     100       1    0    0    0     0          0         0       50       1    0    0    0     0       0          0
`
	rx, tx, err := parseNetDev([]byte(dev))
	if err != nil || rx != 2148 || tx != 566 {
		t.Errorf("parseNetDev = %d, %d, %v; want 2148, 566 (loopback left out)", rx, tx, err)
	}
	if _, _, err := parseNetDev([]byte("eth0: x 1 2 3 4 5 6 7 y\n")); err == nil {
		t.Error("bad counters parsed")
	}
}

func TestCPUPercent(t *testing.T) {
	prev := ContainerStats{CPUUsage: 1e9, SystemCPU: 10e9, OnlineCPUs: 2}
	tests := []struct {
		name string
		cur  ContainerStats
		want float64
	}{
		{"one CPU busy of two", ContainerStats{CPUUsage: 2e9, SystemCPU: 12e9, OnlineCPUs: 2}, 100},
		{"idle", ContainerStats{CPUUsage: 1e9, SystemCPU: 12e9, OnlineCPUs: 2}, 0},
		{"no time passed", ContainerStats{CPUUsage: 2e9, SystemCPU: 10e9, OnlineCPUs: 2}, 0},
		{"counter went back (a restart)", ContainerStats{CPUUsage: 0, SystemCPU: 12e9, OnlineCPUs: 2}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CPUPercent(prev, tc.cur); got != tc.want {
				t.Errorf("CPUPercent = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBlkioBytes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blkio")
	const content = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:16 Read 100\nTotal 12389\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r, w, err := blkioBytes(p)
	if err != nil || r != 4196 || w != 8192 {
		t.Errorf("blkioBytes = %d, %d, %v; want 4196, 8192", r, w, err)
	}
}

func TestReadCgroupsOfThisProcess(t *testing.T) {
	groups, err := readCgroups(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) == 0 {
		t.Fatal("no cgroup read")
	}
	for c, p := range groups {
		if p == "" || p[0] != '/' {
			t.Errorf("controller %s: path %q, want an absolute one", c, p)
		}
	}
}
