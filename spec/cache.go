package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/smallfile"
)

// The model cache keeps a loaded Project so that a command on an unchanged
// project skips compose-go (schema compilation, YAML decoding, interpolation,
// about 60 ms of CPU at 20 services). An entry is found by a key over
// everything Load is given (the options, the whole environment but for a
// shell's own variables, the caller's salt) and is used only when every file the load depended on is unchanged:
// the bytes of each Compose, env and config file read, and the presence or
// absence of every file discovery looked for or could have found. A project
// whose inputs cannot be listed exactly (include, extends from another file,
// develop.watch, standard input) is never cached.

// cacheVersion is the format of a cache entry; an entry of another version
// is not read.
const cacheVersion = 1

// maxCacheEntries bounds the cache directory: storing beyond it removes the
// least recently written entries.
const maxCacheEntries = 64

// cacheEntry is one file of the cache directory.
type cacheEntry struct {
	Version int `json:"version"`
	// Inputs are the files the load read or looked for, with what each was.
	Inputs      []cacheInput        `json:"inputs"`
	Project     *Project            `json:"project"`
	Unsupported []cachedUnsupported `json:"unsupported,omitempty"`
	MainFile    string              `json:"main_file"` // Project.mainFile
}

// Project's unexported fields, and how the cache keeps each: a field added
// to Project must be added here (TestCacheKnowsProjectFields), and kept.
var cachedProjectFields = map[string]string{
	"unsupported": "cacheEntry.Unsupported",
	"mainFile":    "cacheEntry.MainFile",
	"developErrs": "not kept: a project with develop rules is not cached",
	"refusedByUp": "not kept: a project with scheduled jobs is not cached",
	"config":      "not kept: Render refuses a cached project; config loads without the cache",
	"model":       "not kept: NoInterpolate loads are not cached",
}

// cacheInput is one file's state when the entry was written.
type cacheInput struct {
	Path  string `json:"path"`
	State string `json:"state"` // see fileState
}

// cachedUnsupported is a FieldError of Project.unsupported.
type cachedUnsupported struct {
	File, Path, Issue, Class string
}

// errClasses are the error classes a cached FieldError may carry; one
// with another class is not cached.
var errClasses = map[string]error{
	"invalid-argument": errdefs.ErrInvalidArgument,
	"not-implemented":  errdefs.ErrNotImplemented,
	"not-found":        errdefs.ErrNotFound,
}

const stateAbsent = "absent"

// fileState says what is at path: "absent", "sha256:<hex>" of a regular
// file's bytes, or "mode:<type>" of anything else. Any other error is
// returned: the entry is then neither written nor trusted.
func fileState(path string) (string, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return stateAbsent, nil
	case err != nil:
		return "", err
	case !fi.Mode().IsRegular():
		return "mode:" + fi.Mode().Type().String(), nil
	}
	b, err := smallfile.Read(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// cacheKey names the entry for opt: a digest of the format version, the
// caller's salt and every option, the environment included but for
// shellNoise.
func cacheKey(opt LoadOptions) string {
	k := struct {
		Version int
		Opt     LoadOptions
	}{cacheVersion, opt}
	k.Opt.Environ = slices.Sorted(slices.Values(slices.DeleteFunc(slices.Clone(opt.Environ), isShellNoise)))
	k.Opt.CacheDir, k.Opt.CacheReadOnly = "", false
	// An empty list is no list: no service named, whether as nil (down,
	// ps) or as an empty list of arguments (up), is the same load, so the
	// same entry.
	for _, l := range []*[]string{&k.Opt.Services, &k.Opt.ConfigFiles, &k.Opt.EnvFiles, &k.Opt.Profiles} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	b, _ := json.Marshal(k) // cannot fail: strings and bools
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// shellNoise are variables a shell sets for itself, which differ between
// two shells, or a shell and a script, that run the same command, and
// which neither compose-go nor berth reads by name: the command's path
// ("_"), the shell's depth and the previous directory. They are left out of
// the key, so that `berth down` in another terminal finds what `berth up`
// kept; a project whose Compose or env files name one of them is not kept
// (storeCached), so that none can change what an entry holds.
var shellNoise = []string{"_", "SHLVL", "OLDPWD"}

// isShellNoise reports whether the KEY=VALUE entry kv sets a shellNoise
// variable.
func isShellNoise(kv string) bool {
	k, _, _ := strings.Cut(kv, "=")
	return slices.Contains(shellNoise, k)
}

// namesShellNoise reports whether the file at path names a shellNoise
// variable as a word of its own (as $_, ${SHLVL} or an environment entry
// OLDPWD would), or could not be read.
func namesShellNoise(path string) bool {
	b, err := smallfile.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	isWord := func(c byte) bool {
		return c == '_' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z'
	}
	for _, name := range shellNoise {
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(name))
			if j < 0 {
				break
			}
			start, end := i+j, i+j+len(name)
			if (start == 0 || !isWord(b[start-1])) && (end == len(b) || !isWord(b[end])) {
				return true
			}
			i = start + 1
		}
	}
	return false
}

// cacheable reports whether Load may use the cache for opt.
func cacheable(opt LoadOptions) bool {
	return filepath.IsAbs(opt.CacheDir) && !opt.NoInterpolate && !opt.Render.set() && !slices.Contains(opt.ConfigFiles, "-")
}

// An entry's file is "<project>.<key>.json": found by key, removed by
// project (ForgetCached). Project names hold no dot.

// entryFile is the file of key's entry in dir, if there is one.
func entryFile(dir, key string) (string, bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", false
	}
	suffix := "." + key + ".json"
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			return filepath.Join(dir, e.Name()), true
		}
	}
	return "", false
}

// ForgetCached removes the cache entries in dir of the project called
// name, so that nothing of a project taken down is left in the state root:
// its entries, and the temporary files of entries whose writer was killed
// before it renamed them into place.
func ForgetCached(dir, name string) error {
	var files []string
	for _, pattern := range []string{name + ".*.json", "." + name + ".*.json.tmp*"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return err
		}
		files = append(files, m...)
	}
	var errs []error
	for _, f := range files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// loadCached returns the cached project for key when every input is as it
// was; ok is false on any doubt.
func loadCached(dir, key string) (p *Project, ok bool) {
	f, ok := entryFile(dir, key)
	if !ok {
		return nil, false
	}
	b, err := smallfile.Read(f)
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil || e.Version != cacheVersion || e.Project == nil {
		return nil, false
	}
	for _, in := range e.Inputs {
		if st, err := fileState(in.Path); err != nil || st != in.State {
			return nil, false
		}
	}
	p = e.Project
	p.mainFile = e.MainFile
	for _, u := range e.Unsupported {
		class, known := errClasses[u.Class]
		if !known {
			return nil, false
		}
		p.unsupported = append(p.unsupported, FieldError{File: u.File, Path: u.Path, Issue: u.Issue, Err: class})
	}
	return p, true
}

// serviceFiles lists the files the enabled services of cp name, present or
// not: env_file and label_file entries. It must run before the services'
// environment is resolved, which drops env_file. ok is false for a project
// the cache must not keep: one using develop.watch, whose paths are resolved
// through symbolic links.
func serviceFiles(cp *types.Project) (files []string, ok bool) {
	for _, s := range cp.Services {
		if s.Develop != nil {
			return nil, false
		}
		for _, f := range s.EnvFiles {
			files = append(files, f.Path)
		}
		files = append(files, s.LabelFiles...)
	}
	return files, true
}

// storeCached writes p as the entry for key, with the inputs it was loaded
// from: svcFiles (see serviceFiles) and what the loader recorded. It is best
// effort: a project that cannot be cached, or a write that fails, leaves the
// next Load to compose-go again, which is slower but never wrong.
// Concurrent writers are safe: entries are written atomically and any of
// them is correct.
func (l *loader) storeCached(key string, p *Project, svcFiles []string) {
	if l.opt.CacheReadOnly {
		return
	}
	if len(l.included) > 0 {
		return // include and extends read files compose-go does not report in full
	}
	inputs, ok := l.cacheInputs(p, svcFiles)
	if !ok {
		return
	}
	if len(p.developErrs) > 0 || len(p.refusedByUp) > 0 {
		return
	}
	if slices.ContainsFunc(p.Secrets, func(o FileObject) bool { return o.Environment != "" && o.Content != "" }) {
		return // a secret's value from the environment is never written to disk
	}
	if slices.ContainsFunc(slices.Concat(p.ComposeFiles, l.envRead, svcFiles), namesShellNoise) {
		return // the key leaves out a variable the project may read
	}
	e := cacheEntry{Version: cacheVersion, Inputs: inputs, Project: p, MainFile: p.mainFile}
	for _, u := range p.unsupported {
		class := ""
		for name, c := range errClasses {
			if u.Err == c {
				class = name
			}
		}
		if class == "" {
			return
		}
		e.Unsupported = append(e.Unsupported, cachedUnsupported{File: u.File, Path: u.Path, Issue: u.Issue, Class: class})
	}
	b, err := encodeEntry(e)
	if err != nil {
		return
	}
	dir := l.opt.CacheDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	if strings.Contains(p.Name, ".") {
		return
	}
	if old, ok := entryFile(dir, key); ok && filepath.Base(old) != p.Name+"."+key+".json" {
		_ = os.Remove(old) // the same inputs gave another project name before
	}
	if atomicfile.WriteFile(filepath.Join(dir, p.Name+"."+key+".json"), b, 0o600) == nil {
		pruneCache(dir)
	}
}

// encodeEntry is e as JSON without the keys of unset fields: decoding a
// field's key whose value is null, "", 0 or false into a fresh value leaves
// the field as it was, and most of a Project's fields are unset, so the
// entry is a fifth of its full size and a hit decodes it that much faster.
// The keys of maps are kept (a label with an empty value), and so are those
// of pointers to zero and of types that decode themselves. The entry is
// decoded before it is chosen: should it not give what the full JSON
// gives, the entry is the full JSON.
func encodeEntry(e cacheEntry) ([]byte, error) {
	full, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	var tree any
	d := json.NewDecoder(bytes.NewReader(full))
	d.UseNumber()
	if err := d.Decode(&tree); err != nil {
		return nil, err
	}
	b, err := json.Marshal(dropUnset(tree, reflect.TypeFor[cacheEntry]()))
	if err != nil {
		return nil, err
	}
	var got, want cacheEntry
	if json.Unmarshal(b, &got) != nil || json.Unmarshal(full, &want) != nil || !reflect.DeepEqual(got, want) {
		return full, nil
	}
	return b, nil
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decodesItself reports whether a value of t is decoded by a method of
// its own, which may make anything of an unset value.
func decodesItself(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler)
}

// dropUnset is v, the JSON (decoded with UseNumber) of a value of type t,
// without the keys of t's struct fields whose value decodes to nothing:
// null, and "", 0 or false for a field of that kind.
func dropUnset(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if decodesItself(t) {
		return v
	}
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		switch t.Kind() {
		case reflect.Map:
			for k, x := range v {
				out[k] = dropUnset(x, t.Elem())
			}
		case reflect.Struct:
			fields := jsonFields(t)
			for k, x := range v {
				ft, ok := fields[k]
				if !ok {
					out[k] = x
					continue
				}
				if !unset(x, ft) {
					out[k] = dropUnset(x, ft)
				}
			}
		default:
			return v
		}
		return out
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return v
		}
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = dropUnset(x, t.Elem())
		}
		return out
	}
	return v
}

// unset reports whether x, a field of type t's JSON, decodes to nothing.
func unset(x any, t reflect.Type) bool {
	if decodesItself(t) {
		return false
	}
	switch x := x.(type) {
	case nil:
		return true
	case bool:
		return !x && t.Kind() == reflect.Bool
	case string:
		return x == "" && t.Kind() == reflect.String
	case json.Number:
		switch t.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return x == "0"
		}
	}
	return false
}

// jsonFields are the types of struct t's fields by their JSON key: the
// field's name, or its json tag's, fields of embedded structs included.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() || f.Anonymous && f.Type.Kind() == reflect.Struct {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

// cacheInputs lists the files the project depends on and their states:
// the Compose files, the env files, svcFiles and the config and secret
// files, present or not, and every name Compose file and .env discovery
// looks for in the working directory, the project directory and their
// parents.
func (l *loader) cacheInputs(p *Project, svcFiles []string) ([]cacheInput, bool) {
	paths := slices.Concat(p.ComposeFiles, l.envRead, svcFiles)
	for _, objs := range [][]FileObject{p.Configs, p.Secrets} {
		for _, o := range objs {
			if o.File != "" {
				paths = append(paths, o.File)
			}
		}
	}
	names := slices.Concat(cli.DefaultFileNames, cli.DefaultOverrideFileNames, []string{".env"})
	for _, start := range []string{l.cwd, p.WorkingDir} {
		for d := start; ; d = filepath.Dir(d) {
			for _, n := range names {
				paths = append(paths, filepath.Join(d, n))
			}
			if d == filepath.Dir(d) {
				break
			}
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	inputs := make([]cacheInput, 0, len(paths))
	dirs := map[string]bool{}
	for _, f := range paths {
		if !filepath.IsAbs(f) {
			return nil, false
		}
		st, err := fileState(f)
		if err != nil {
			return nil, false
		}
		if st != stateAbsent {
			if fi, err := os.Stat(f); err != nil || !settled(fi, l.started) {
				return nil, false
			}
			dirs[filepath.Dir(f)] = true
		}
		inputs = append(inputs, cacheInput{Path: f, State: st})
	}
	// A file made, removed or renamed over during the load changed its
	// directory: those of the files read, and the working and project
	// directories, where discovery and .env look. (Not their parents:
	// /tmp or a home directory changes all the time, and a Compose file
	// appearing in one during the load would have to be one discovery
	// reaches.)
	dirs[l.cwd], dirs[p.WorkingDir] = true, true
	for d := range dirs {
		fi, err := os.Stat(d)
		if err == nil && !settled(fi, l.started) {
			return nil, false
		}
	}
	return inputs, true
}

// An input (and its directory) must have last changed before the load
// began for the load to be cached: a file written while compose-go read it
// (an editor saving during an up, watch reloading on a change) must not
// have its new bytes recorded beside a model made from its old ones. The
// kernel stamps a change with its coarse clock (or, with multigrain
// timestamps, a finer time never below it), which never goes back: a
// change made after the load began is stamped at least the coarse time read
// when it began. So an input stamped before that coarse time, read after
// the load, was not changed during it. A file of a filesystem that keeps
// whole seconds (FAT, ext4 with small inodes) is stamped by truncation,
// possibly below it: with neither time having a fraction of a second, the
// input must be two seconds older.

// coarseNow is the kernel's coarse real-time clock, the one it stamps
// file changes with; ok is false where it cannot be read.
func coarseNow() (t time.Time, ok bool) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_REALTIME_COARSE, &ts) != nil {
		return time.Time{}, false
	}
	return time.Unix(ts.Unix()), true
}

// loadStart is when a load began: the fine time, and the coarse one.
type loadStart struct {
	fine, coarse time.Time
}

func startLoad() loadStart {
	s := loadStart{fine: time.Now()}
	c, ok := coarseNow()
	if !ok {
		c = s.fine.Add(-20 * time.Millisecond) // a generous tick
	}
	s.coarse = c
	return s
}

// settleLimit is the time an input's changes must predate for a load that
// began at start to be kept; a variable so tests can do without the wait,
// or make it longer.
var settleLimit = func(start loadStart) time.Time { return start.coarse }

// settled reports whether fi, and anything renamed over it, was last
// changed before the load that began at start.
func settled(fi fs.FileInfo, start loadStart) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mtime, ctime := fi.ModTime(), time.Unix(st.Ctim.Unix())
	limit := settleLimit(start)
	if mtime.Nanosecond() == 0 && ctime.Nanosecond() == 0 {
		limit = limit.Add(-2 * time.Second) // whole seconds: stamped by truncation
	}
	return mtime.Before(limit) && ctime.Before(limit)
}

// pruneCache removes the oldest entries beyond maxCacheEntries.
func pruneCache(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) <= maxCacheEntries {
		return
	}
	type aged struct {
		name string
		mod  time.Time
	}
	var files []aged
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			files = append(files, aged{e.Name(), fi.ModTime()})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].mod.After(files[j].mod) })
	for _, f := range files[min(len(files), maxCacheEntries):] {
		_ = os.Remove(filepath.Join(dir, f.name))
	}
}
