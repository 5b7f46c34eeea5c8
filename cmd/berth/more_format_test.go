package main

import (
	"bytes"
	"time"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
)

// moreGoldenTables are TestGolden's cases for the tables of stats and
// image history, as docker prints them (dates in UTC).
func moreGoldenTables() []struct {
	name   string
	render func(w *bytes.Buffer) error
} {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	ctr := func(id, name string) *engine.Container {
		return &engine.Container{ID: engine.ContainerID(id), Config: engine.ContainerConfig{Name: name}}
	}
	prev := engine.Stats{Read: now, CPUTotal: 1e9, SystemCPU: 10e9, OnlineCPUs: 2}
	stats := []statsRow{
		{c: ctr("0123456789abcdef0123", "demo-web-1"), prev: prev, running: true, trunc: true,
			cur: engine.Stats{Read: now.Add(time.Second), CPUTotal: 1.5e9, SystemCPU: 12e9, OnlineCPUs: 2,
				MemUsage: 3 << 20, MemLimit: 1 << 30, Networks: map[string]engine.NetStats{"eth0": {RxBytes: 2048, TxBytes: 516}},
				BlkRead: 4096, BlkWrite: 1 << 20, PIDs: 3}},
		{c: ctr("fedcba98765432100123", "demo-db-1"), trunc: true},
	}
	hist := []historyRow{
		{h: image.HistoryEntry{ID: "sha256:cc413b3c9df91ae771f508d0f5babef6354cab23f5144c56e45737182166b1a8",
			Created: now.Add(-time.Hour), CreatedBy: "sh -c\techo made > /made; rm /etc/group; sleep 300", Size: 6144, Comment: "my msg"},
			human: true, trunc: true, now: now},
		{h: image.HistoryEntry{Created: now.Add(-72 * time.Hour), CreatedBy: "berth import", Size: 2140160}, human: true, trunc: true, now: now},
	}
	raw := []historyRow{hist[0], hist[1]}
	for i := range raw {
		raw[i].human, raw[i].trunc = false, false
	}
	tests := []struct {
		name   string
		render func(w *bytes.Buffer) error
	}{
		{"stats", func(w *bytes.Buffer) error { return printStats(w, statsOptions{}, stats, false) }},
		{"stats_json", func(w *bytes.Buffer) error { return printStats(w, statsOptions{format: "json"}, stats, false) }},
		{"image_ls_digests", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: imageDigestsTable, header: imageHeader}, imageRowsFixture())
		}},
		{"history", func(w *bytes.Buffer) error {
			return writeList(w, listing{defaultTable: historyTable, header: historyHeader}, hist)
		}},
		{"history_raw", func(w *bytes.Buffer) error {
			return writeList(w, listing{format: `{{.ID}}|{{.CreatedSince}}|{{.CreatedBy}}|{{.Size}}`}, raw)
		}},
	}
	return tests
}
