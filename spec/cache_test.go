package spec

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fromCache reports whether p was answered by the model cache: only a
// project compose-go loaded carries its compose-go form.
func fromCache(p *Project) bool { return p.config == nil && p.model == nil }

// noSettle lets the cache keep a load whose files were written just before
// it, as a test's are.
func noSettle(t *testing.T) {
	old := settleLimit
	settleLimit = func(start loadStart) time.Time { return start.fine }
	t.Cleanup(func() { settleLimit = old })
}

// withoutLoaderState is p as the cache keeps it.
func withoutLoaderState(p *Project) *Project {
	q := *p
	q.config = nil
	return &q
}

func TestCacheGivesTheSameProject(t *testing.T) {
	noSettle(t)
	cases := []struct {
		name  string
		dir   string
		files []string
		env   []string
		prof  []string
	}{
		{name: "discovery with override", dir: "discovery"},
		{name: "env files", dir: "envfiles", env: []string{"A=1", "B=2"}},
		{name: "realistic", dir: "golden", files: []string{"realistic.yaml"}},
		{name: "container fields", dir: "fields", files: []string{"container.yaml"}},
		{name: "configs and secrets", dir: "fields", files: []string{"files.yaml"}},
		{name: "healthcheck", dir: "fields", files: []string{"healthcheck.yaml"}},
		{name: "mounts", dir: "fields", files: []string{"mounts.yaml"}},
		{name: "networks fields", dir: "fields", files: []string{"networks.yaml"}},
		{name: "ports", dir: "fields", files: []string{"ports.yaml"}},
		{name: "resources", dir: "fields", files: []string{"resources.yaml"}},
		{name: "named", dir: "named"},
		{name: "networks", dir: "networks"},
		{name: "override files", dir: "override", files: []string{"compose.yaml", "a.yaml", "b.yaml"}},
		{name: "profiles", dir: "profiles", prof: []string{"debug"}},
		{name: "jobs", dir: "jobs"},
		{name: "jobs with a profile", dir: "jobs", prof: []string{"debug"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyCase(t, tc.dir)
			opt := LoadOptions{WorkingDir: dir, ConfigFiles: tc.files, Environ: tc.env, Profiles: tc.prof}
			want := withoutLoaderState(mustLoad(t, opt))

			opt.CacheDir, opt.CacheSalt = t.TempDir(), "test"
			first := mustLoad(t, opt)
			if fromCache(first) {
				t.Fatal("first load answered from an empty cache")
			}
			second := mustLoad(t, opt)
			if !fromCache(second) {
				t.Fatal("second load of an unchanged project did not use the cache")
			}
			if ents, _ := filepath.Glob(filepath.Join(opt.CacheDir, "*.json")); len(ents) == 1 {
				if b, _ := os.ReadFile(ents[0]); strings.Contains(string(b), "null") {
					t.Errorf("the entry keeps unset fields (its leaner form did not decode alike): %s", b)
				}
			}
			if !reflect.DeepEqual(second, want) {
				t.Errorf("cached project differs from a fresh load:\n got %+v\nwant %+v", second, want)
			}
			if (second.CheckSupported() == nil) != (want.CheckSupported() == nil) {
				t.Errorf("CheckSupported: cached %v, fresh %v", second.CheckSupported(), want.CheckSupported())
			}
		})
	}
}

// TestCacheInvalidation changes one input at a time, after a load that
// filled the cache, and checks that the next load sees the change.
func TestCacheInvalidation(t *testing.T) {
	noSettle(t)
	const compose = `services:
  web:
    image: img:${TAG:-latest}
    env_file:
      - path: ./optional.env
        required: false
    configs: [app]
  debug:
    image: dbg
    profiles: [debug]
jobs:
  migrate:
    image: img
    env_file:
      - path: ./job.env
        required: false
    triggers: {manual: true}
configs:
  app:
    file: ./app.conf
`
	cases := []struct {
		name   string
		change func(t *testing.T, dir string, opt *LoadOptions)
		check  func(p *Project) bool // true when the change is seen
	}{
		{"compose file edited", func(t *testing.T, dir string, _ *LoadOptions) {
			writeFile(t, filepath.Join(dir, "compose.yaml"), strings.Replace(compose, "img:", "edited:", 1))
		}, func(p *Project) bool { return web(p).Image == "edited:latest" }},
		{"variable set in the environment", func(_ *testing.T, _ string, opt *LoadOptions) {
			opt.Environ = append(opt.Environ, "TAG=2")
		}, func(p *Project) bool { return web(p).Image == "img:2" }},
		{"variable changed in the environment", func(_ *testing.T, _ string, opt *LoadOptions) {
			opt.Environ = []string{"UNRELATED=1", "TAG=3"}
		}, func(p *Project) bool { return web(p).Image == "img:3" }},
		{".env created", func(t *testing.T, dir string, _ *LoadOptions) {
			writeFile(t, filepath.Join(dir, ".env"), "TAG=4\n")
		}, func(p *Project) bool { return web(p).Image == "img:4" }},
		{"optional env_file created", func(t *testing.T, dir string, _ *LoadOptions) {
			writeFile(t, filepath.Join(dir, "optional.env"), "X=5\n")
		}, func(p *Project) bool { return len(web(p).Environment) == 1 }},
		{"a job's optional env_file created", func(t *testing.T, dir string, _ *LoadOptions) {
			writeFile(t, filepath.Join(dir, "job.env"), "X=6\n")
		}, func(p *Project) bool { j, _ := p.Job("migrate"); return len(j.Environment) == 1 }},
		{"override file created", func(t *testing.T, dir string, _ *LoadOptions) {
			writeFile(t, filepath.Join(dir, "compose.override.yaml"), "services:\n  web:\n    image: over\n")
		}, func(p *Project) bool { return web(p).Image == "over" }},
		{"config file edited", func(t *testing.T, dir string, _ *LoadOptions) {
			writeFile(t, filepath.Join(dir, "app.conf"), "v2\n")
		}, nil},
		{"profile flag", func(_ *testing.T, _ string, opt *LoadOptions) {
			opt.Profiles = []string{"debug"}
		}, func(p *Project) bool { _, ok := p.Service("debug"); return ok }},
		{"project name flag", func(_ *testing.T, _ string, opt *LoadOptions) {
			opt.ProjectName = "other"
		}, func(p *Project) bool { return p.Name == "other" }},
		{"another build of berth", func(_ *testing.T, _ string, opt *LoadOptions) {
			opt.CacheSalt = "other build"
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "proj")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(dir, "compose.yaml"), compose)
			writeFile(t, filepath.Join(dir, "app.conf"), "v1\n")
			opt := LoadOptions{WorkingDir: dir, Environ: []string{"UNRELATED=1"}, CacheDir: t.TempDir(), CacheSalt: "test"}
			mustLoad(t, opt)
			before := mustLoad(t, opt)
			if !fromCache(before) {
				t.Fatal("unchanged project not answered from the cache")
			}
			tc.change(t, dir, &opt)
			after := mustLoad(t, opt)
			if fromCache(after) {
				t.Fatal("changed input answered from the cache")
			}
			if tc.check != nil && !tc.check(after) {
				t.Errorf("change not seen: %+v", after)
			}
			fresh := mustLoad(t, LoadOptions{WorkingDir: dir, Environ: opt.Environ, Profiles: opt.Profiles, ProjectName: opt.ProjectName})
			again := mustLoad(t, opt)
			if !fromCache(again) {
				t.Error("the changed project was not cached in turn")
			}
			if !reflect.DeepEqual(again, withoutLoaderState(fresh)) {
				t.Errorf("cached project differs from a fresh load:\n got %+v\nwant %+v", again, fresh)
			}
		})
	}
}

func web(p *Project) Service { s, _ := p.Service("web"); return s }

func TestCacheNotUsed(t *testing.T) {
	noSettle(t)
	cases := []struct {
		name  string
		dir   string
		files []string
	}{
		{name: "include", dir: "include"},
		{name: "extends from another file", dir: "extends"},
		{name: "scheduled jobs", dir: "jobs-scheduled"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyCase(t, tc.dir)
			opt := LoadOptions{WorkingDir: dir, ConfigFiles: tc.files, CacheDir: t.TempDir(), CacheSalt: "test"}
			mustLoad(t, opt)
			if fromCache(mustLoad(t, opt)) {
				t.Error("answered from the cache")
			}
		})
	}
}

func TestCacheCorruptEntryIsAMiss(t *testing.T) {
	noSettle(t)
	dir := copyCase(t, "named")
	opt := LoadOptions{WorkingDir: dir, CacheDir: t.TempDir(), CacheSalt: "test"}
	mustLoad(t, opt)
	ents, err := os.ReadDir(opt.CacheDir)
	if err != nil || len(ents) != 1 {
		t.Fatalf("cache dir: %v, %d entries", err, len(ents))
	}
	writeFile(t, filepath.Join(opt.CacheDir, ents[0].Name()), `{"version":1,"inputs":[`)
	if fromCache(mustLoad(t, opt)) {
		t.Fatal("corrupt entry used")
	}
	if !fromCache(mustLoad(t, opt)) {
		t.Error("corrupt entry not replaced")
	}
}

// TestCacheConcurrentLoads runs loads of one project at once, as parallel
// berth processes do: every one succeeds with the same project.
func TestCacheConcurrentLoads(t *testing.T) {
	noSettle(t)
	dir := copyCase(t, "networks")
	opt := LoadOptions{WorkingDir: dir, CacheDir: t.TempDir(), CacheSalt: "test"}
	want := withoutLoaderState(mustLoad(t, LoadOptions{WorkingDir: dir}))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				p, err := Load(t.Context(), opt)
				if err != nil {
					t.Error(err)
					return
				}
				if !reflect.DeepEqual(withoutLoaderState(p), want) {
					t.Error("concurrent load differs from a fresh one")
				}
			}
		})
	}
	wg.Wait()
}

func TestCachePruned(t *testing.T) {
	noSettle(t)
	dir := copyCase(t, "named")
	cache := t.TempDir()
	for i := range maxCacheEntries + 5 {
		mustLoad(t, LoadOptions{WorkingDir: dir, CacheDir: cache, CacheSalt: "test", Environ: []string{"N=" + string(rune('a'+i%26)) + string(rune('a'+i/26))}})
	}
	ents, err := os.ReadDir(cache)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) > maxCacheEntries {
		t.Errorf("%d entries, want at most %d", len(ents), maxCacheEntries)
	}
}

func TestCacheReadOnlyAndForget(t *testing.T) {
	noSettle(t)
	dir := copyCase(t, "named")
	cache := t.TempDir()
	ro := LoadOptions{WorkingDir: dir, CacheDir: cache, CacheSalt: "test", CacheReadOnly: true}
	mustLoad(t, ro)
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Fatalf("a read-only load wrote %d entries", len(ents))
	}
	rw := ro
	rw.CacheReadOnly = false
	p := mustLoad(t, rw)
	if !fromCache(mustLoad(t, ro)) {
		t.Fatal("a read-only load did not read the entry")
	}
	if err := ForgetCached(cache, "other"); err != nil {
		t.Fatal(err)
	}
	if !fromCache(mustLoad(t, ro)) {
		t.Fatal("forgetting another project removed this one's entry")
	}
	// A writer killed between its temporary file and the rename left one.
	if err := os.WriteFile(filepath.Join(cache, "."+p.Name+".0123.json.tmp42"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := ForgetCached(cache, p.Name); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(cache); len(ents) != 0 {
		t.Errorf("%d entries left after ForgetCached(%q)", len(ents), p.Name)
	}
	if fromCache(mustLoad(t, ro)) {
		t.Error("answered from a forgotten entry")
	}
}

// TestCacheEmptyListsAreNone: up names its services as the command's
// arguments, an empty list when there are none; down and ps name none at
// all. Both are the same load and must find the same entry (a down after an
// up loaded the project through compose-go again).
func TestCacheEmptyListsAreNone(t *testing.T) {
	noSettle(t)
	dir := copyCase(t, "named")
	up := LoadOptions{WorkingDir: dir, CacheDir: t.TempDir(), CacheSalt: "test",
		Services: []string{}, ConfigFiles: []string{}, EnvFiles: []string{}, Profiles: []string{}}
	mustLoad(t, up)
	down := up
	down.Services, down.ConfigFiles, down.EnvFiles, down.Profiles = nil, nil, nil, nil
	down.CacheReadOnly = true
	if !fromCache(mustLoad(t, down)) {
		t.Error("a load naming no service did not read the entry of one naming an empty list")
	}
	down.Services = []string{"web"}
	if fromCache(mustLoad(t, down)) {
		t.Error("a load naming a service read the entry of one naming none")
	}
}

// TestCacheShellNoise: the same project loaded from another shell (another
// "_", SHLVL, OLDPWD) finds the entry; a project whose files name one of
// those is not kept, so a change of it is never missed.
func TestCacheShellNoise(t *testing.T) {
	noSettle(t)
	dir := copyCase(t, "named")
	opt := LoadOptions{WorkingDir: dir, CacheDir: t.TempDir(), CacheSalt: "test",
		Environ: []string{"_=/usr/bin/berth", "SHLVL=1", "OLDPWD=/a", "TAG=1"}}
	mustLoad(t, opt)
	other := opt
	other.Environ = []string{"_=/usr/local/bin/berth", "SHLVL=3", "OLDPWD=/b", "TAG=1"}
	if !fromCache(mustLoad(t, other)) {
		t.Error("a load from another shell did not find the entry")
	}
	other.Environ = []string{"_=/usr/local/bin/berth", "SHLVL=3", "OLDPWD=/b", "TAG=2"}
	if fromCache(mustLoad(t, other)) {
		t.Error("a load with another TAG found the entry")
	}

	for _, tc := range []struct{ file, text, get string }{
		{"compose.yaml", "services:\n  web:\n    image: web\n    labels:\n      depth: ${SHLVL}\n", "depth"},
		{"compose.yaml", "services:\n  web:\n    image: web\n    labels:\n      cmd: $_\n", "cmd"},
		{".env", "PREV=${OLDPWD}\n", ""},
	} {
		t.Run(tc.file+" "+tc.get, func(t *testing.T) {
			dir := t.TempDir()
			compose := "services:\n  web:\n    image: web\n    labels:\n      prev: ${PREV}\n"
			if tc.file == "compose.yaml" {
				compose = tc.text
			} else if err := os.WriteFile(filepath.Join(dir, tc.file), []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
				t.Fatal(err)
			}
			opt := LoadOptions{WorkingDir: dir, CacheDir: t.TempDir(), CacheSalt: "test",
				Environ: []string{"_=/a", "SHLVL=1", "OLDPWD=/a"}}
			mustLoad(t, opt)
			opt.Environ = []string{"_=/b", "SHLVL=2", "OLDPWD=/b"}
			p := mustLoad(t, opt)
			if fromCache(p) {
				t.Fatalf("a project whose %s names a shell's variable was kept", tc.file)
			}
			label := map[string]string{"compose.yaml": tc.get, ".env": "prev"}[tc.file]
			want := map[string]string{"depth": "2", "cmd": "/b", "prev": "/b"}[label]
			if got := p.Services[0].Labels[label]; got != want {
				t.Errorf("label %s = %q, want %q", label, got, want)
			}
		})
	}
}

// TestCacheSkipsFreshInputs: a load whose files changed too recently (as
// during the load itself) is not kept; once they are older, it is.
func TestCacheSkipsFreshInputs(t *testing.T) {
	old := settleLimit
	t.Cleanup(func() { settleLimit = old })
	dir := copyCase(t, "named")
	opt := LoadOptions{WorkingDir: dir, CacheDir: t.TempDir(), CacheSalt: "test"}
	settleLimit = func(start loadStart) time.Time { return start.fine.Add(-time.Hour) }
	mustLoad(t, opt)
	if fromCache(mustLoad(t, opt)) {
		t.Fatal("a load of files changed within the settle time was kept")
	}
	settleLimit = func(start loadStart) time.Time { return start.fine }
	mustLoad(t, opt)
	if !fromCache(mustLoad(t, opt)) {
		t.Error("a load of settled files was not kept")
	}
}

// TestCacheKnowsProjectFields fails when Project gains an unexported field
// the cache does not know how to keep: JSON would drop it silently.
func TestCacheKnowsProjectFields(t *testing.T) {
	typ := reflect.TypeFor[Project]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.IsExported() {
			continue
		}
		if _, ok := cachedProjectFields[f.Name]; !ok {
			t.Errorf("Project.%s: unknown to the model cache; keep it in cacheEntry (or refuse to cache) and list it in cachedProjectFields", f.Name)
		}
	}
}

// A file changed after a load began is never settled for it: the kernel
// stamps the change at least at the coarse time read when the load began.
// One changed before a tick of that clock passed is.
func TestSettledByTheCoarseClock(t *testing.T) {
	f := filepath.Join(t.TempDir(), "compose.yaml")
	start := startLoad()
	if err := os.WriteFile(f, []byte("services: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(f)
	if err != nil {
		t.Fatal(err)
	}
	if settled(fi, start) {
		t.Errorf("a file written after the load began (mtime %v, coarse start %v) is settled", fi.ModTime(), start.coarse)
	}
	// The next tick of the coarse clock.
	for {
		now, ok := coarseNow()
		if !ok {
			t.Skip("no coarse clock")
		}
		if now.After(fi.ModTime()) {
			break
		}
		runtime.Gosched()
	}
	if later := startLoad(); !settled(fi, later) {
		t.Errorf("a file written before a load began, a tick earlier (mtime %v, coarse start %v), is not settled", fi.ModTime(), later.coarse)
	}
}

// wholeSeconds is a FileInfo of a filesystem that keeps whole seconds.
type wholeSeconds struct {
	fs.FileInfo
	at time.Time
}

func (w wholeSeconds) ModTime() time.Time { return w.at }
func (w wholeSeconds) Sys() any {
	return &syscall.Stat_t{Ctim: syscall.NsecToTimespec(w.at.UnixNano())}
}

func TestSettledWholeSeconds(t *testing.T) {
	start := startLoad()
	sec := start.coarse.Truncate(time.Second)
	for _, tc := range []struct {
		name string
		at   time.Time
		want bool
	}{
		{"the second the load began in", sec, false},
		{"a second before", sec.Add(-time.Second), false},
		{"three seconds before", sec.Add(-3 * time.Second), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := settled(wholeSeconds{at: tc.at}, start); got != tc.want {
				t.Errorf("settled(stamped %v, load began %v) = %v, want %v", tc.at, start.coarse, got, tc.want)
			}
		})
	}
}

// TestCacheEntryLeavesOutUnsetKeys: an entry leaves out the keys of unset
// fields and decodes to what the full JSON decodes to, keeping the keys of
// maps whose value looks unset (a label with an empty value) and of
// pointers to zero.
func TestCacheEntryLeavesOutUnsetKeys(t *testing.T) {
	grace := time.Duration(0)
	for _, tc := range []struct {
		name string
		p    *Project
		keep []string // what the entry must hold
	}{
		{name: "unset fields", p: &Project{Name: "p", Services: []Service{{Name: "web", Image: "nginx", Entrypoint: []string{}}}},
			keep: []string{`"Entrypoint":[]`}},
		{name: "a label with an empty value", p: &Project{Name: "p", Services: []Service{{Name: "web", Labels: map[string]string{"flag": "", "b": "1"}}}},
			keep: []string{`"flag":""`}},
		{name: "a pointer to zero", p: &Project{Name: "p", Services: []Service{{Name: "web", StopGracePeriod: &grace, Scale: 0}}},
			keep: []string{`"StopGracePeriod":0`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := cacheEntry{Version: cacheVersion, Inputs: []cacheInput{{Path: "/x/compose.yaml", State: stateAbsent}}, Project: tc.p}
			full, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			b, err := encodeEntry(e)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) >= len(full) || strings.Contains(string(b), `"ContainerName":""`) || strings.Contains(string(b), `null`) {
				t.Errorf("entry %s\nkeeps unset keys of the full %s", b, full)
			}
			for _, k := range tc.keep {
				if !strings.Contains(string(b), k) {
					t.Errorf("entry %s lacks %s", b, k)
				}
			}
			var got, want cacheEntry
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(full, &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("entry decodes to %+v, want %+v", got.Project, want.Project)
			}
		})
	}
}
