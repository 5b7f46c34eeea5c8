// Package netmgr gives containers bridge networking: a Linux bridge per
// network (named berth…), IPAM from a pool, a network namespace per sandbox
// with a veth pair per network (host side vb…), and berth's own firewall
// chain. It knows nothing about services or Compose.
//
// State: one JSON record per network in <Root>/networks/<name>.json, holding
// the network's subnet and its endpoints (the IPAM allocations). Sandboxes are
// network namespaces bind-mounted at <RunDir>/netns/<id>.
//
// Host footprint: bridges berth<10 hex of the network ID> and host-side veths
// vb<10 hex of a hash of sandbox and network ID>, each with the alias
// "berth:<network>[:<sandbox>]"; in the filter table the chain BERTH-FORWARD,
// jumped to from the top of FORWARD, holding rules commented
// "berth:<network>". Nothing else on the host is changed: no NAT, no
// ip_forward, no default route.
//
// Lock order: project lock (taken by callers) → network lock
// (<Root>/networks/lock, guards every record, the IPAM and the sandbox
// files) → firewall lock (Options.FirewallLock, host-wide, guards berth's
// iptables chain and its jump rule). Every exported method takes the locks it
// needs and re-reads the records after taking them, so several berth
// processes may use the same Root at once. No method holds a lock when it
// returns.
package netmgr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/containerd/errdefs"
)

// DefaultPool is the address pool networks get their /24 subnets from when
// Options.Pool is zero.
var DefaultPool = netip.MustParsePrefix("10.213.0.0/16")

// DefaultFirewallLock is the host-wide lock file that serialises changes to
// berth's iptables chain when Options.FirewallLock is empty. It is host-wide
// rather than per Root because the chain is.
const DefaultFirewallLock = "/run/berth-firewall.lock"

// Errors specific to this package. Both wrap errdefs.ErrResourceExhausted.
var (
	ErrSubnetExhausted  = fmt.Errorf("no free subnet in pool: %w", errdefs.ErrResourceExhausted)
	ErrAddressExhausted = fmt.Errorf("no free address in subnet: %w", errdefs.ErrResourceExhausted)
)

// Options configure a Manager.
type Options struct {
	Root   string       // state root; records live in Root/networks
	RunDir string       // run directory; namespaces live in RunDir/netns
	Pool   netip.Prefix // default address pool, split into /24s; zero: 10.213.0.0/16
	Logger *slog.Logger // nil: discard
	// FirewallLock is the lock file guarding berth's iptables chain; empty:
	// DefaultFirewallLock. Every Manager on a host must use the same file.
	FirewallLock string
}

// Manager creates and removes networks and sandboxes. Safe for concurrent use
// by several goroutines and processes: all state lives in files guarded by
// file locks (see the package documentation for the lock order).
type Manager struct {
	opt Options      // immutable after New
	log *slog.Logger // immutable after New
}

// NetworkConfig asks for a network.
type NetworkConfig struct {
	Name     string            // full name, e.g. "hello_default"
	Labels   map[string]string // owner labels
	Internal bool              // no route out
	Subnet   netip.Prefix      // zero: allocate from the pool
	Gateway  netip.Addr        // zero: first address of Subnet
}

// recordVersion is the version of Network records this package writes and
// reads.
const recordVersion = 1

// Network is a created network, as recorded.
type Network struct {
	Version  int               `json:"version"`
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Bridge   string            `json:"bridge"` // berth…, at most 15 bytes
	Subnet   netip.Prefix      `json:"subnet"`
	Gateway  netip.Addr        `json:"gateway"`
	Internal bool              `json:"internal,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Created  time.Time         `json:"created"`
	// Endpoints by sandbox ID.
	Endpoints map[string]Endpoint `json:"endpoints,omitempty"`
}

// Endpoint is a sandbox's attachment to a network.
type Endpoint struct {
	Sandbox  string     `json:"sandbox"`
	IfName   string     `json:"ifname"`    // inside the sandbox, e.g. eth0
	HostVeth string     `json:"host_veth"` // vb…
	Addr     netip.Addr `json:"addr"`
	MAC      string     `json:"mac"`
}

// New returns a Manager. Root and RunDir must be absolute paths; Pool, when
// set, must be an IPv4 prefix of at most /30. errdefs.ErrInvalidArgument
// otherwise.
func New(opt Options) (*Manager, error) {
	if !filepath.IsAbs(opt.Root) || !filepath.IsAbs(opt.RunDir) {
		return nil, fmt.Errorf("netmgr: root %q and run dir %q must be absolute: %w", opt.Root, opt.RunDir, errdefs.ErrInvalidArgument)
	}
	if !opt.Pool.IsValid() {
		opt.Pool = DefaultPool
	}
	if !opt.Pool.Addr().Is4() || opt.Pool.Bits() > 30 {
		return nil, fmt.Errorf("netmgr: pool %s: must be an IPv4 prefix of at most /30: %w", opt.Pool, errdefs.ErrInvalidArgument)
	}
	opt.Pool = opt.Pool.Masked()
	if opt.FirewallLock == "" {
		opt.FirewallLock = DefaultFirewallLock
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{opt: opt, log: log}, nil
}

// Create makes the network: record, subnet, bridge (with the gateway address,
// up) and firewall rules. A subnet from the pool is the first /24 used neither
// by another berth network nor by a host route or address. A given Subnet
// that overlaps either is errdefs.ErrConflict; an exhausted pool is
// ErrSubnetExhausted. errdefs.ErrAlreadyExists if a network of that name
// exists; errdefs.ErrInvalidArgument for a bad name, subnet or gateway. On
// error nothing is left behind.
func (m *Manager) Create(ctx context.Context, cfg NetworkConfig) (_ *Network, retErr error) {
	if err := validateName("network", cfg.Name); err != nil {
		return nil, err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	nets, err := m.readAll()
	if err != nil {
		return nil, err
	}
	for _, n := range nets {
		if n.Name == cfg.Name {
			return nil, fmt.Errorf("network %q: %w", cfg.Name, errdefs.ErrAlreadyExists)
		}
	}
	host, err := hostPrefixes()
	if err != nil {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, err)
	}
	subnet, gw, err := planSubnet(cfg, m.opt.Pool, nets, host)
	if err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, err)
	}
	n := &Network{
		Version:  recordVersion,
		ID:       id,
		Name:     cfg.Name,
		Bridge:   bridgeName(id),
		Subnet:   subnet,
		Gateway:  gw,
		Internal: cfg.Internal,
		Labels:   maps.Clone(cfg.Labels),
		Created:  time.Now().UTC(),
	}
	// The record comes first: a crash half-way leaves a record that Remove
	// can clean up, never a bridge nobody knows about.
	if err := m.writeRecord(n); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, m.deleteRecord(n.Name))
		}
	}()
	if err := createBridge(n); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, deleteBridge(n))
		}
	}()
	if err := m.addFirewall(ctx, n); err != nil {
		return nil, err
	}
	m.log.Debug("network created", "network", n.Name, "bridge", n.Bridge, "subnet", n.Subnet.String())
	return n, nil
}

// Get returns the network's record. errdefs.ErrNotFound if there is none.
func (m *Manager) Get(ctx context.Context, name string) (*Network, error) {
	if err := validateName("network", name); err != nil {
		return nil, err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.readRecord(name)
}

// List returns the networks whose labels include every pair in labels,
// sorted by name. A corrupt or unreadable record is an error, not skipped.
func (m *Manager) List(ctx context.Context, labels map[string]string) ([]*Network, error) {
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := m.readAll()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(nets, func(n *Network) bool {
		for k, v := range labels {
			if got, ok := n.Labels[k]; !ok || got != v {
				return true
			}
		}
		return false
	}), nil
}

// Remove deletes the network: firewall rules, bridge, record; and berth's
// chain with its jump rule once no berth rule is left on the host.
// errdefs.ErrConflict if sandboxes are still connected; errdefs.ErrNotFound
// if it does not exist. It finishes a half-made or half-removed network
// (bridge or rules missing); if a step fails the record is kept so that a
// retry can finish.
func (m *Manager) Remove(ctx context.Context, name string) error {
	if err := validateName("network", name); err != nil {
		return err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	n, err := m.readRecord(name)
	if err != nil {
		return err
	}
	if len(n.Endpoints) > 0 {
		ids := slices.Sorted(maps.Keys(n.Endpoints))
		return fmt.Errorf("network %q: sandboxes %q still connected: %w", name, ids, errdefs.ErrConflict)
	}
	if err := errors.Join(m.removeFirewall(ctx, n), deleteBridge(n)); err != nil {
		return err
	}
	if err := m.deleteRecord(name); err != nil {
		return err
	}
	m.log.Debug("network removed", "network", name)
	return nil
}

// CreateSandbox makes a network namespace for id, bind-mounted at
// <RunDir>/netns/<id>, with loopback up, and returns its path. Idempotent: an
// existing sandbox's path is returned. errdefs.ErrInvalidArgument for an id
// that is not a valid name.
func (m *Manager) CreateSandbox(ctx context.Context, id string) (string, error) {
	if err := validateName("sandbox", id); err != nil {
		return "", err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return "", err
	}
	defer unlock()
	p := m.sandboxPath(id)
	if err := createNetns(p); err != nil {
		return "", fmt.Errorf("sandbox %q: %w", id, err)
	}
	return p, nil
}

// Connect attaches sandbox id to the network with interface ifname, allocating
// an address: addr when it is set (errdefs.ErrInvalidArgument if it is outside
// the subnet or not a host address, errdefs.ErrConflict if it is taken), else
// the first free one (ErrAddressExhausted if there is none). Inside the
// sandbox the interface gets the address, a MAC derived from it (02:42:…) and,
// on networks that are not Internal, a default route via the gateway unless
// the sandbox already has one. errdefs.ErrNotFound if the network or the
// sandbox does not exist; errdefs.ErrAlreadyExists if the sandbox is already
// connected to the network. On error nothing is left behind.
func (m *Manager) Connect(ctx context.Context, network, id, ifname string, addr netip.Addr) (_ *Endpoint, retErr error) {
	if err := validateName("network", network); err != nil {
		return nil, err
	}
	if err := validateName("sandbox", id); err != nil {
		return nil, err
	}
	if err := validateIfName(ifname); err != nil {
		return nil, fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	n, err := m.readRecord(network)
	if err != nil {
		return nil, err
	}
	if _, ok := n.Endpoints[id]; ok {
		return nil, fmt.Errorf("network %q: sandbox %q: already connected: %w", network, id, errdefs.ErrAlreadyExists)
	}
	nsPath := m.sandboxPath(id)
	if _, err := os.Stat(nsPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("sandbox %q: %w", id, errdefs.ErrNotFound)
		}
		return nil, fmt.Errorf("sandbox %q: %w", id, err)
	}
	used := make(map[netip.Addr]bool, len(n.Endpoints))
	for _, ep := range n.Endpoints {
		used[ep.Addr] = true
	}
	a, err := pickAddr(n.Subnet, n.Gateway, used, addr)
	if err != nil {
		return nil, fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	}
	ep := Endpoint{
		Sandbox:  id,
		IfName:   ifname,
		HostVeth: vethName(id, n.ID),
		Addr:     a,
		MAC:      macFor(a).String(),
	}
	// Reserve the address in the record before plumbing, so a crash leaves
	// an endpoint that RemoveSandbox cleans up.
	if n.Endpoints == nil {
		n.Endpoints = map[string]Endpoint{}
	}
	n.Endpoints[id] = ep
	if err := m.writeRecord(n); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			delete(n.Endpoints, id)
			retErr = errors.Join(retErr, m.writeRecord(n))
		}
	}()
	if err := plumb(n, ep, nsPath); err != nil {
		return nil, fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	}
	m.log.Debug("sandbox connected", "network", network, "sandbox", id, "addr", a.String())
	return &ep, nil
}

// RemoveSandbox disconnects sandbox id from every network (deleting its host
// veths and releasing its addresses) and removes its namespace (unmount and
// delete of the file). Idempotent; works when the namespace is already gone
// (after a reboot). Failures are joined; records of endpoints whose veth could
// not be deleted are kept for a retry.
func (m *Manager) RemoveSandbox(ctx context.Context, id string) error {
	if err := validateName("sandbox", id); err != nil {
		return err
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := m.readAll()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range nets {
		ep, ok := n.Endpoints[id]
		if !ok {
			continue
		}
		if err := deleteLink(ep.HostVeth); err != nil {
			errs = append(errs, fmt.Errorf("network %q: sandbox %q: %w", n.Name, id, err))
			continue
		}
		delete(n.Endpoints, id)
		if err := m.writeRecord(n); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeNetns(m.sandboxPath(id)); err != nil {
		errs = append(errs, fmt.Errorf("sandbox %q: %w", id, err))
	}
	return errors.Join(errs...)
}

// sandboxPath is where sandbox id's namespace is bind-mounted.
func (m *Manager) sandboxPath(id string) string {
	return filepath.Join(m.opt.RunDir, "netns", id)
}
