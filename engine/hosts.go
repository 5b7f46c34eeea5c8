package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/engine/internal/ctrstate"
	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/netmgr"
)

// hostsHeader is Docker's fixed part of /etc/hosts.
const hostsHeader = "127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::\tip6-localnet\n" +
	"ff00::\tip6-mcastprefix\n" +
	"ff02::1\tip6-allnodes\n" +
	"ff02::2\tip6-allrouters\n"

// hostsMember is a running container attached to networks, as the hosts
// files of its peers see it.
type hostsMember struct {
	id       ContainerID
	dir      string
	name     string
	hostname string
	extra    []HostEntry
	links    []string // NAME[:ALIAS], ContainerConfig.Links
	eps      []endpointRecord
}

// renderHosts is m's /etc/hosts: the fixed part, m's own addresses (with its
// hostname, name and aliases), its extra hosts, and one line per address of
// each peer on a network m shares (the peer's name and its aliases there).
// Peers are in the order given; the result is deterministic.
func renderHosts(m hostsMember, peers []hostsMember) []byte {
	var b bytes.Buffer
	b.WriteString(hostsHeader)
	line := func(addr string, names []string) {
		names = onlyFields(names)
		if !oneField(addr) || len(names) == 0 {
			return
		}
		b.WriteString(addr)
		b.WriteByte('\t')
		b.WriteString(strings.Join(names, " "))
		b.WriteByte('\n')
	}
	nets := map[string]bool{}
	for _, ep := range m.eps {
		nets[ep.Network] = !ep.DNS.IsValid() // peers on a network with a resolver are found through it
		if ep.Address.IsValid() {
			line(ep.Address.String(), dedupe(append([]string{m.hostname, m.name}, ep.Aliases...)))
		}
		if ep.Address6.IsValid() {
			line(ep.Address6.String(), dedupe(append([]string{m.hostname, m.name}, ep.Aliases...)))
		}
	}
	for _, h := range m.extra {
		line(h.IP, h.Names)
	}
	for _, p := range peers {
		if p.id == m.id {
			continue
		}
		for _, ep := range p.eps {
			if nets[ep.Network] && ep.Address.IsValid() {
				line(ep.Address.String(), dedupe(append([]string{p.name}, ep.Aliases...)))
			}
		}
	}
	for _, l := range m.links {
		name, alias := splitLink(l)
		for _, p := range peers {
			if p.name != name || p.id == m.id {
				continue
			}
			for _, ep := range p.eps {
				if _, shared := nets[ep.Network]; shared && ep.Address.IsValid() {
					line(ep.Address.String(), dedupe([]string{alias, name}))
				}
			}
		}
	}
	return b.Bytes()
}

// splitLink reads a link, "NAME[:ALIAS]"; the alias is NAME when not given.
func splitLink(l string) (name, alias string) {
	name, alias, ok := strings.Cut(l, ":")
	if !ok || alias == "" {
		alias = name
	}
	return name, alias
}

// oneField reports whether s can be one field of a line of /etc/hosts or
// /etc/resolv.conf: not empty, valid UTF-8, and without a space, a control
// character or "#" (a comment). A name that is not would add names, or
// whole lines, to the file; validateConfig refuses such names, and the
// renderers drop them.
func oneField(s string) bool {
	if s == "" || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool {
		return r == '#' || unicode.IsSpace(r) || unicode.IsControl(r)
	})
}

func dedupe(names []string) []string {
	out := names[:0:0]
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// containerResolvConf is the host's resolv.conf without loopback
// nameservers (unreachable from the container's network namespace); with
// none left, Docker's defaults (8.8.8.8, 8.8.4.4) are used.
func containerResolvConf(host []byte) []byte {
	var b bytes.Buffer
	servers := 0
	for _, line := range strings.SplitAfter(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(strings.Split(f[1], "%")[0]); err == nil && a.IsLoopback() {
				continue
			}
			servers++
		}
		if line != "" {
			b.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				b.WriteByte('\n')
			}
		}
	}
	if servers == 0 {
		b.WriteString("nameserver 8.8.8.8\nnameserver 8.8.4.4\n")
	}
	return b.Bytes()
}

// writeInPlace replaces the content of path without replacing the file:
// the file is bind-mounted into a running container, which would keep
// seeing the old inode after a rename. The new content is written over the
// old and the file cut to its length, so a reader never sees it empty. A
// file that already holds data is left alone.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	old, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if bytes.Equal(old, data) {
		return nil
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// lockHosts takes the hosts lock (see the package documentation).
func (e *Engine) lockHosts(ctx context.Context) (func(), error) {
	return flock.Lock(ctx, filepath.Join(e.containersDir(), "hosts.lock"))
}

// attached is a container directory with network endpoints, as the hosts
// files see it before its state and record are read.
type attached struct {
	dir string
	eps []endpointRecord
}

// attachedDirs returns the containers with network endpoints, sorted by
// name, and whether any of their endpoints is on a network without a
// resolver: only a container with such an endpoint lists peers in its
// hosts file (see renderHosts).
//
// Every container start and stop calls it, so it reads the endpoints alone,
// the smallest of a container's files.
func (e *Engine) attachedDirs() (out []attached, listsPeers bool, err error) {
	dirs, err := e.containerDirs()
	if err != nil {
		return nil, false, err
	}
	for _, dir := range dirs {
		eps, err := readEndpoints(dir)
		if err != nil {
			return nil, false, err
		}
		if len(eps) == 0 {
			continue
		}
		listsPeers = listsPeers || withoutResolver(eps)
		out = append(out, attached{dir, eps})
	}
	return out, listsPeers, nil
}

// withoutResolver reports whether one of eps is on a network without a
// resolver, whose peers go in /etc/hosts.
func withoutResolver(eps []endpointRecord) bool {
	return slices.ContainsFunc(eps, func(ep endpointRecord) bool { return !ep.DNS.IsValid() })
}

// hostsMembers returns the running containers among att, in its order. It
// reads a container's record, the largest of its files, only once its
// state says it is a member.
func (e *Engine) hostsMembers(ctx context.Context, att []attached) ([]hostsMember, error) {
	var out []hostsMember
	for _, a := range att {
		st, err := e.observeDir(ctx, a.dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		if st.Status != StatusRunning && st.Status != StatusPaused {
			continue
		}
		rec, err := readRecord(a.dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, memberOf(a.dir, rec, a.eps))
	}
	return out, nil
}

func memberOf(dir string, rec *record, eps []endpointRecord) hostsMember {
	return hostsMember{
		id:       rec.ID,
		dir:      dir,
		name:     rec.Config.Name,
		hostname: containerHostname(rec.Config, rec.ID),
		extra:    rec.Config.ExtraHosts,
		links:    rec.Config.Links,
		eps:      eps,
	}
}

// writeOwnHosts writes the hosts file of the container about to start,
// listing its running peers on networks without a resolver and the
// containers it links to (external_links: written at start, as Docker's
// links are), under the hosts lock.
func (e *Engine) writeOwnHosts(ctx context.Context, self hostsMember) error {
	unlock, err := e.lockHosts(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var peers []hostsMember
	if withoutResolver(self.eps) || len(self.links) > 0 {
		att, _, err := e.attachedDirs()
		if err != nil {
			return err
		}
		if peers, err = e.hostsMembers(ctx, att); err != nil {
			return err
		}
	}
	return writeInPlace(filepath.Join(self.dir, "hosts"), renderHosts(self, peers))
}

// syncHosts brings the hosts file of every running container with networks
// up to date with who else runs on its networks. Level-based: it reads every
// container's endpoints and writes only the files whose content changes.
// When every network has a resolver no file lists peers, and there is
// nothing to bring up to date: each file was complete when its container
// started.
func (e *Engine) syncHosts(ctx context.Context) error {
	unlock, err := e.lockHosts(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	att, listsPeers, err := e.attachedDirs()
	if err != nil || !listsPeers {
		return err
	}
	members, err := e.hostsMembers(ctx, att)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range members {
		p := filepath.Join(m.dir, "hosts")
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err := writeInPlace(p, renderHosts(m, members)); err != nil {
			errs = append(errs, fmt.Errorf("container %q: hosts: %w", m.name, err))
		}
	}
	return errors.Join(errs...)
}

// endpointsFile is endpoints.json: the container's attachments for its
// current run, written by Start after connecting and removed when the
// run's resources are released.
type endpointsFile struct {
	Version   int              `json:"version"`
	Endpoints []endpointRecord `json:"endpoints"`
}

type endpointRecord struct {
	Network string `json:"network"`
	// NetworkID is the network's ID at the connection; empty in the
	// records of older berths.
	NetworkID string     `json:"network_id,omitempty"`
	IfName    string     `json:"ifname"`
	Address   netip.Addr `json:"address"`
	// Address6 is the IPv6 address on a network with IPv6; zero otherwise.
	Address6 netip.Addr           `json:"address6,omitzero"`
	MAC      string               `json:"mac,omitempty"`
	Aliases  []string             `json:"aliases,omitempty"`
	DNS      netip.Addr           `json:"dns,omitzero"` // the network's resolver; zero: none (peers go in /etc/hosts)
	Ports    []netmgr.PortMapping `json:"ports,omitempty"`
}

const endpointsVersion = 1

// endpointRecordOf is what endpoints.json keeps of the attachment nc, as
// interface ifname, that netmgr made as ep.
func endpointRecordOf(nc EndpointConfig, ifname string, ep *netmgr.Endpoint) endpointRecord {
	return endpointRecord{Network: nc.Network, NetworkID: ep.NetworkID, IfName: ifname, Address: ep.Addr, Address6: ep.Addr6,
		MAC: ep.MAC, Aliases: nc.Aliases, DNS: ep.DNS, Ports: ep.Ports}
}

func readEndpoints(dir string) ([]endpointRecord, error) {
	var f endpointsFile
	p := filepath.Join(dir, ctrstate.EndpointsFile)
	if err := readJSON(p, &f); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if f.Version != endpointsVersion {
		return nil, fmt.Errorf("%s: unknown version %d", p, f.Version)
	}
	return f.Endpoints, nil
}
