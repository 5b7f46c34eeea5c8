package bench

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestComposeYAML(t *testing.T) {
	type service struct {
		Image       string
		Command     []string
		Init        bool
		Environment map[string]string
		Volumes     []string
		Networks    []string
	}
	type project struct {
		Services map[string]service
		Networks map[string]struct{ Internal bool }
		Volumes  map[string]any
	}
	for _, tc := range []struct {
		name string
		n    int
		rev  int
	}{
		{name: "one service", n: 1, rev: 0},
		{name: "twenty services changed", n: 20, rev: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p project
			if err := yaml.Unmarshal(composeYAML(tc.n, tc.rev), &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Services) != tc.n || len(p.Volumes) != tc.n {
				t.Fatalf("%d services, %d volumes; want %d each", len(p.Services), len(p.Volumes), tc.n)
			}
			if !p.Networks["net"].Internal || len(p.Networks) != 1 {
				t.Fatalf("networks = %+v, want one internal network", p.Networks)
			}
			for name, s := range p.Services {
				wantRev := "0"
				if name == "s1" {
					wantRev = strconv.Itoa(tc.rev)
				}
				if s.Image != "busybox:latest" || !s.Init || !slices.Equal(s.Command, []string{"sleep", "3600"}) ||
					s.Environment["BENCH_REV"] != wantRev || len(s.Volumes) != 1 ||
					!strings.HasSuffix(s.Volumes[0], ":/data") || !slices.Equal(s.Networks, []string{"net"}) {
					t.Errorf("service %s = %+v", name, s)
				}
			}
		})
	}
}

func TestMedian(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
		ok   bool
	}{
		{name: "empty", in: nil, ok: false},
		{name: "odd", in: []time.Duration{30 * ms, 10 * ms, 20 * ms}, want: 20 * ms, ok: true},
		{name: "even", in: []time.Duration{40 * ms, 10 * ms, 20 * ms, 30 * ms}, want: 25 * ms, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := median(tc.in)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("median(%v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMarkdownRatiosAndGoals(t *testing.T) {
	r := newResults()
	r.declare("berth", "berth")
	r.declare("docker", "Docker Compose")
	r.declare("podman", "podman-compose")
	r.skip("podman", "podman not installed")
	for _, n := range sizes {
		for _, ph := range cycle {
			r.add("berth", n, ph.name, 40*time.Millisecond)
			r.add("docker", n, ph.name, 400*time.Millisecond)
			r.add("docker", n, ph.name, 100*time.Millisecond)
		}
		r.addFloor(n, 30*time.Millisecond)
		r.addFloorSeccomp(n, 35*time.Millisecond)
	}
	r.floorNote = "runc version 1.1.5"
	md := string(r.markdown(time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)))
	for _, want := range []string{
		"| cold `up -d` | 20 | 0.040 | 0.250 (0.100–0.400) | — | 6.2x (Docker Compose) |",
		"| podman-compose | not run: podman not installed |",
		"| floor | runc version 1.1.5 |",
		"| 20 | 0.030 | 1.3x | 0.035 | 1.1x |",
		"- no-op `up -d`, 20 services, at most 0.015 s: 0.040 s, **not met**",
		"- cold `up -d`, 20 services, at least 5x faster than the fastest peer: 6.2x, met",
		"- cold `up -d`, 20 services, within 2x of the floor: 1.3x the floor, met",
		"- `down -v`, 20 services, at most 0.400 s: 0.040 s, met",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestMajor(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int
	}{
		{"plugin", "v5.5.0", 5},
		{"v2 binary", "2.27.0", 2},
		{"python v1", "1.29.2", 1},
		{"garbage", "dev", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := major(tc.in); got != tc.want {
				t.Errorf("major(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestRecreatedOnly(t *testing.T) {
	before := map[string]string{"s1": "a", "s2": "b", "s3": "c"}
	for _, tc := range []struct {
		name  string
		after map[string]string
		ok    bool
	}{
		{"exactly s1", map[string]string{"s1": "x", "s2": "b", "s3": "c"}, true},
		{"s1 kept", map[string]string{"s1": "a", "s2": "b", "s3": "c"}, false},
		{"s2 recreated too", map[string]string{"s1": "x", "s2": "y", "s3": "c"}, false},
		{"no IDs", map[string]string{"s1": "", "s2": "", "s3": ""}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := recreatedOnly(before, tc.after, "s1"); (err == nil) != tc.ok {
				t.Errorf("recreatedOnly = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestSplitRule(t *testing.T) {
	got, err := splitRule(`FORWARD -m comment --comment "CNI firewall plugin rules" -j CNI-FORWARD`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"FORWARD", "-m", "comment", "--comment", "CNI firewall plugin rules", "-j", "CNI-FORWARD"}
	if !slices.Equal(got, want) {
		t.Fatalf("splitRule = %q, want %q", got, want)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	if got := unescapeMountinfo(`/tmp/a\040b/c`); got != "/tmp/a b/c" {
		t.Fatalf("got %q", got)
	}
}

func TestAttributable(t *testing.T) {
	ours := fmt.Sprintf("berth:bbench%dn5_net", os.Getpid())
	items := []string{
		"iptables-save nat: chain POSTROUTING",
		"iptables-save nat: chain BERTH-POSTROUTING",
		`iptables-save nat: -A BERTH-POSTROUTING -s 10.1.0.0/24 -m comment --comment "berth:other_default" -j MASQUERADE`,
		`iptables-save filter: -A BERTH-FORWARD -i berth1 -m comment --comment "` + ours + `" -j ACCEPT`,
		"link vb1234",
		"iptables-save filter: chain CNI-FORWARD",
		"link br-0123",
	}
	for _, tc := range []struct {
		tool string
		want []string
	}{
		{tool: "docker", want: []string{"iptables-save filter: chain CNI-FORWARD", "link br-0123"}},
		{tool: "berth", want: []string{
			"iptables-save nat: chain BERTH-POSTROUTING", items[3], "link vb1234",
			"iptables-save filter: chain CNI-FORWARD", "link br-0123",
		}},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			if got := attributable(tc.tool, items); !slices.Equal(got, tc.want) {
				t.Fatalf("attributable(%s) =\n%q\nwant\n%q", tc.tool, got, tc.want)
			}
		})
	}
}

func TestBenchSizes(t *testing.T) {
	for in, want := range map[string][]int{
		"":          {1, 5, 20, 100},
		"20,5":      {5, 20},
		"1, 1, 100": {1, 100},
		"5,x":       {1, 5, 20, 100},
		"0":         {1, 5, 20, 100},
	} {
		if got := benchSizes(in); !slices.Equal(got, want) {
			t.Errorf("benchSizes(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestMarkdownScale: the scale table divides each figure at the largest
// size by the same at 20 and marks growth faster than linear.
func TestMarkdownScale(t *testing.T) {
	if !slices.Contains(sizes, 20) || slices.Max(sizes) <= 20 {
		t.Skipf("sizes %v (BERTH_BENCH_SIZES) measure no scale", sizes)
	}
	big := slices.Max(sizes)
	r := newResults()
	r.declare("berth", "berth")
	r.declare("docker", "Docker Compose")
	for _, ph := range cycle {
		r.add("berth", 20, ph.name, 100*time.Millisecond)
		r.add("docker", 20, ph.name, 100*time.Millisecond)
		r.add("berth", big, ph.name, 300*time.Millisecond)
		r.add("docker", big, ph.name, time.Duration(big/20+1)*100*time.Millisecond)
	}
	var w bytes.Buffer
	r.writeScale(&w)
	md := w.String()
	for _, want := range []string{
		fmt.Sprintf("Scale: each figure at %d services ÷ the same at 20", big),
		"| cold `up -d` | 3.0x | " + fmt.Sprintf("%.1fx (faster than linear) |", float64(big/20+1)),
	} {
		if !strings.Contains(md, want) {
			t.Errorf("scale table lacks %q:\n%s", want, md)
		}
	}
}
