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
	s := Stats{Networks: map[string]NetStats{}}
	parseNetDev([]byte(dev), s.Networks)
	if _, ok := s.Networks["lo"]; ok || len(s.Networks) != 2 || s.Networks["eth0"].RxPackets != 20 || s.Networks["eth1"].TxBytes != 50 {
		t.Errorf("parseNetDev: %+v; want eth0 and eth1, loopback left out", s.Networks)
	}
	if rx, tx := s.NetTotals(); rx != 2148 || tx != 566 {
		t.Errorf("NetTotals = %d, %d; want 2148, 566", rx, tx)
	}
}

func TestCPUPercent(t *testing.T) {
	prev := Stats{CPUTotal: 1e9, SystemCPU: 10e9, OnlineCPUs: 2}
	tests := []struct {
		name string
		cur  Stats
		want float64
	}{
		{"one CPU busy of two", Stats{CPUTotal: 2e9, SystemCPU: 12e9, OnlineCPUs: 2}, 100},
		{"idle", Stats{CPUTotal: 1e9, SystemCPU: 12e9, OnlineCPUs: 2}, 0},
		{"no time passed", Stats{CPUTotal: 2e9, SystemCPU: 10e9, OnlineCPUs: 2}, 0},
		{"counter went back (a restart)", Stats{CPUTotal: 0, SystemCPU: 12e9, OnlineCPUs: 2}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CPUPercent(prev, tc.cur); got != tc.want {
				t.Errorf("CPUPercent = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBlkioV1(t *testing.T) {
	p := filepath.Join(t.TempDir(), "blkio")
	const content = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:16 Read 100\nTotal 12389\n"
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	var s Stats
	if err := blkioV1(p, &s); err != nil || s.BlkRead != 4196 || s.BlkWrite != 8192 {
		t.Errorf("blkioV1 = %d, %d, %v; want 4196, 8192", s.BlkRead, s.BlkWrite, err)
	}
}
