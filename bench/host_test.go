package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// hardLimit is the host's hard limit of resource (unix.RLIMIT_…).
func hardLimit(resource int) (uint64, error) {
	var l unix.Rlimit
	if err := unix.Getrlimit(resource, &l); err != nil {
		return 0, fmt.Errorf("getrlimit %d: %w", resource, err)
	}
	return l.Max, nil
}

// ipForwardOn reports whether the host forwards IPv4 packets.
func ipForwardOn() (bool, error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(b)) != "0", nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var v []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		p := unescapeMountinfo(f[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			v = append(v, p)
		}
	}
	slices.SortFunc(v, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(v), nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var out strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				out.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		out.WriteByte(s[i])
	}
	return out.String()
}

// unmountUnder detaches every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	dir = filepath.Clean(dir)
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// removeTree unmounts what is mounted below dir and removes it.
func removeTree(dir string) error {
	return errors.Join(unmountUnder(dir), os.RemoveAll(dir))
}

// footprint is what a peer's set-up found absent on the host and the peer
// may create outside its working directory: paths, and the CNI firewall
// plugin's chains. Teardown removes exactly those that appeared. It is also
// saved next to the working directory, so that a run killed before its
// teardown can be cleaned up after (TestInterruptedBenchCleanup).
type footprint struct {
	Version int             `json:"version"`
	Paths   []footprintPath `json:"paths,omitempty"`
	Chains  []chainRef      `json:"chains,omitempty"`
}

const footprintVersion = 1

// footprintPath is a path a tool may create. A private one is the tool's
// alone and goes whole; a shared one (/run/netns, /run/runc) other programs
// may start using meanwhile, so only its empty directories go.
type footprintPath struct {
	Path    string `json:"path"`
	Private bool   `json:"private,omitempty"`
}

// chainRef is an iptables chain of the filter table.
type chainRef struct {
	Bin   string `json:"bin"` // iptables or ip6tables
	Chain string `json:"chain"`
}

// cniChains are created by the CNI firewall plugin on first use and never
// removed; the first is jumped to from FORWARD, the second from the first.
var cniChains = []string{"CNI-FORWARD", "CNI-ADMIN"}

// newFootprint records which of paths and chains are absent now.
func newFootprint(ctx context.Context, paths []footprintPath, chains []string) *footprint {
	f := &footprint{Version: footprintVersion}
	for _, p := range paths {
		if _, err := os.Lstat(p.Path); errors.Is(err, fs.ErrNotExist) {
			f.Paths = append(f.Paths, p)
		}
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		for _, c := range chains {
			if !chainExists(ctx, bin, c) {
				f.Chains = append(f.Chains, chainRef{bin, c})
			}
		}
	}
	return f
}

func chainExists(ctx context.Context, bin, chain string) bool {
	return exec.CommandContext(ctx, bin, "-w", "-t", "filter", "-S", chain).Run() == nil
}

// footprintFile is where the footprint of the tool working in work is saved.
func footprintFile(work string) string { return work + ".host.json" }

func (f *footprint) save(path string) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, b, 0o600)
}

func loadFootprint(path string) (*footprint, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f footprint
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if f.Version != footprintVersion {
		return nil, fmt.Errorf("%s: version %d, want %d", path, f.Version, footprintVersion)
	}
	return &f, nil
}

// clean removes what appeared since newFootprint: chains first (with the
// rules that jump to them), then paths.
func (f *footprint) clean(ctx context.Context) error {
	var errs []error
	for _, r := range f.Chains {
		if chainExists(ctx, r.Bin, r.Chain) {
			errs = append(errs, dropJumps(ctx, r.Bin, r.Chain))
			if out, err := exec.CommandContext(ctx, r.Bin, "-w", "-t", "filter", "-F", r.Chain).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("%s -F %s: %w: %s", r.Bin, r.Chain, err, out))
			}
		}
	}
	for _, r := range f.Chains {
		if chainExists(ctx, r.Bin, r.Chain) {
			if out, err := exec.CommandContext(ctx, r.Bin, "-w", "-t", "filter", "-X", r.Chain).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("%s -X %s: %w: %s", r.Bin, r.Chain, err, out))
			}
		}
	}
	for _, p := range f.Paths {
		if _, err := os.Lstat(p.Path); err != nil {
			continue
		}
		if p.Private {
			errs = append(errs, removeTree(p.Path))
		} else {
			errs = append(errs, removeEmptyDirs(p.Path))
		}
	}
	return errors.Join(errs...)
}

// trackFootprint records and saves the footprint of the tool working in
// work and registers its clean-up, which runs after every clean-up the
// set-up registers later.
func trackFootprint(b *testing.B, work string, paths []footprintPath, chains []string) error {
	ctx := context.WithoutCancel(b.Context())
	f := newFootprint(ctx, paths, chains)
	file := footprintFile(work)
	if err := f.save(file); err != nil {
		return err
	}
	b.Cleanup(func() {
		if err := f.clean(ctx); err != nil {
			b.Errorf("host clean-up after %s: %v", filepath.Base(work), err)
			return
		}
		if err := os.Remove(file); err != nil {
			b.Errorf("host clean-up after %s: %v", filepath.Base(work), err)
		}
	})
	return nil
}

// removeEmptyDirs removes dir and the directories below it that hold
// nothing else, bottom up; anything else stays.
func removeEmptyDirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil //nolint:nilerr // not a directory, or gone: nothing to do
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := removeEmptyDirs(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	err = unix.Rmdir(dir)
	if errors.Is(err, unix.EBUSY) {
		// An empty mount point: the CNI plugins bind /run/netns onto
		// itself to share the namespaces mounted under it.
		if left, rerr := os.ReadDir(dir); rerr == nil && len(left) == 0 {
			if uerr := unix.Unmount(dir, unix.MNT_DETACH); uerr != nil {
				return fmt.Errorf("unmount %s: %w", dir, uerr)
			}
			err = unix.Rmdir(dir)
		}
	}
	if err != nil && !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) &&
		!errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("rmdir %s: %w", dir, err)
	}
	return nil
}

// dropJumps deletes every rule of the filter table that jumps to chain.
func dropJumps(ctx context.Context, bin, chain string) error {
	out, err := exec.CommandContext(ctx, bin, "-w", "-t", "filter", "-S").Output()
	if err != nil {
		return fmt.Errorf("%s -S: %w", bin, err)
	}
	var errs []error
	for _, rule := range nonEmptyLines(string(out)) {
		if !strings.HasPrefix(rule, "-A ") || !strings.HasSuffix(rule, " -j "+chain) {
			continue
		}
		args, err := splitRule(strings.TrimPrefix(rule, "-A "))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		del := append([]string{"-w", "-t", "filter", "-D"}, args...)
		if o, err := exec.CommandContext(ctx, bin, del...).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w: %s", bin, strings.Join(del, " "), err, o))
		}
	}
	return errors.Join(errs...)
}

// splitRule splits an iptables -S rule into arguments, honouring the
// double quotes iptables puts around comments.
func splitRule(s string) ([]string, error) {
	var args []string
	var cur strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && inQuote && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
		case c == '"':
			inQuote, have = !inQuote, true
		case c == ' ' && !inQuote:
			if have {
				args = append(args, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unbalanced quotes in rule %q", s)
	}
	if have {
		args = append(args, cur.String())
	}
	return args, nil
}

// hostState is what the leak check compares: link names and firewall rules.
type hostState struct {
	items map[string]bool
}

// snapshotHost records the host's links and its iptables/ip6tables rules
// and chains (every table).
func snapshotHost() hostState {
	s := hostState{items: make(map[string]bool)}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range nonEmptyLines(string(out)) {
			f := strings.Fields(line)
			if len(f) > 1 {
				name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
				s.items["link "+name] = true
			}
		}
	}
	for _, bin := range []string{"iptables-save", "ip6tables-save"} {
		out, err := exec.Command(bin).Output()
		if err != nil {
			continue
		}
		table := ""
		for _, line := range nonEmptyLines(string(out)) {
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			case strings.HasPrefix(line, "-A "), strings.HasPrefix(line, ":"):
				rule := line
				if strings.HasPrefix(line, ":") {
					rule = "chain " + strings.Fields(line[1:])[0]
				}
				s.items[fmt.Sprintf("%s %s: %s", bin, table, rule)] = true
			}
		}
	}
	return s
}

// newSince lists what s has that before had not, sorted.
func (s hostState) newSince(before hostState) []string {
	var v []string
	for k := range s.items {
		if !before.items[k] {
			v = append(v, k)
		}
	}
	slices.Sort(v)
	return v
}

// builtinChains are the chains every iptables table has; they show up new
// when someone else first uses a table.
var builtinChains = []string{"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"}

// attributable keeps, of the host's new links and firewall rules, those the
// bench's tool may have made. Other people's berth runs on the machine make
// links (berth…, vb…) and rules (BERTH-… chains, "berth:<project>"
// comments) meanwhile: those never count for a peer, and for berth only if
// they name one of the bench's projects.
func attributable(tool string, items []string) []string {
	ours := fmt.Sprintf("berth:bbench%dn", os.Getpid())
	var v []string
	for _, it := range items {
		if _, chain, ok := strings.Cut(it, ": chain "); ok && slices.Contains(builtinChains, chain) {
			continue
		}
		berthish := strings.Contains(it, "BERTH-") || strings.Contains(it, "berth:") ||
			strings.HasPrefix(it, "link berth") || strings.HasPrefix(it, "link vb")
		if berthish && (tool != "berth" || (strings.Contains(it, "berth:") && !strings.Contains(it, ours))) {
			continue
		}
		v = append(v, it)
	}
	return v
}
