// Package netmgr gives containers bridge networking: a Linux bridge per
// network (named berth…), IPAM from a pool, a network namespace per sandbox
// with a veth pair per network (host side vb…), and berth's own firewall
// chain. It knows nothing about services or Compose.
//
// State: one JSON record per network in <Root>/networks/<name>.json, holding
// the network's subnet and its endpoints (the IPAM allocations). Sandboxes are
// network namespaces bind-mounted at <RunDir>/netns/<id>.
//
// Host footprint: bridges berth<10 hex of the network ID> (or a name given
// with driver_opts, which must start with berth) and host-side veths
// vb<10 hex of a hash of sandbox and network ID>, with the aliases
// "berth:<network>@<root>" (bridge; prune reads the root from it) and
// "berth:<network>:<sandbox>" (veth); in the filter table the chain BERTH-FORWARD,
// jumped to from the top of FORWARD, holding rules commented
// "berth:<network>"; in the nat table the chains BERTH-DNAT (jumped to from
// PREROUTING and OUTPUT for local destinations; published ports, commented
// "berth:<network>/<sandbox>") and BERTH-POSTROUTING (from POSTROUTING;
// masquerading of connections to published ports made from the host or
// from the network's containers, and with Options.Outbound of the
// network's outbound traffic). A bridge of a network that is not internal
// forwards and routes 127.0.0.1 (its conf/forwarding and route_localnet,
// gone with it); only Options.Outbound turns on the host's ip_forward.
// A network with IPv6 (NetworkConfig.EnableIPv6) has the same chains and
// rules in ip6tables, its IPv6 gateway on the bridge (no DAD) and, where
// the kernel has it, the bridge's force_forwarding; only Options.Outbound
// turns on net.ipv6.conf.all.forwarding.
// Each network whose sandboxes connected with Options.Exe set has a DNS
// resolver process (`berth resolver`, see ResolverMain) on its gateway,
// port 53, stopped by Remove. Nothing else on the host is changed: no
// default route.
//
// Lock order: project lock (taken by callers) → network lock
// (<Root>/networks/lock, guards every record, the IPAM and the sandbox
// files) → subnet lock (Options.SubnetLock, host-wide, held by Create from
// the choice of the subnets until the bridge carries them, so that roots
// never pick the same one) → firewall lock (Options.FirewallLock,
// host-wide, guards berth's iptables chains and their jump rules). Every exported method takes the locks it
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
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/eventlog"
	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/internal/rounds"
)

// DefaultPool is the address pool networks get their /24 subnets from when
// Options.Pool is zero.
var DefaultPool = netip.MustParsePrefix("10.213.0.0/16")

// DefaultPool6 is the IPv6 pool networks with EnableIPv6 get their /64
// subnets from when Options.Pool6 is zero: a unique local prefix.
var DefaultPool6 = netip.MustParsePrefix("fd00:bee7::/48")

// DefaultSubnetLock is the host-wide lock file that serialises the choice of
// a new network's subnets and the making of its bridge when
// Options.SubnetLock is empty. It is host-wide rather than per Root because
// the host's routes and addresses, which the choice avoids, are: two roots
// choosing at once would otherwise pick the same free subnet.
const DefaultSubnetLock = "/run/berth-subnet.lock"

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
	// Pool6 is the IPv6 pool of networks with EnableIPv6 and no Subnet6,
	// split into /64s; zero: DefaultPool6.
	Pool6  netip.Prefix
	Logger *slog.Logger // nil: discard
	// FirewallLock is the lock file guarding berth's iptables chain; empty:
	// DefaultFirewallLock. Every Manager on a host must use the same file.
	FirewallLock string
	// SubnetLock is the lock file guarding the choice of subnets and the
	// making of bridges; empty: DefaultSubnetLock. Every Manager on a host
	// must use the same file.
	SubnetLock string
	// Exe is the berth binary, run as each network's DNS resolver (`berth
	// resolver`, hidden); empty: no resolver is started and Endpoint.DNS
	// stays zero (names then resolve only through the callers' hosts
	// files).
	Exe string
	// Upstreams are the servers (host:port) the resolvers forward names that
	// are not berth's to; nil: the nameservers of ResolvConf.
	Upstreams []string
	// ResolvConf is the host's resolver configuration; empty:
	// /etc/resolv.conf.
	ResolvConf string
	// Outbound gives containers on networks that are not Internal a way
	// out: their traffic to other interfaces is masqueraded and IP
	// forwarding is turned on for the host. Off, such traffic is dropped in
	// berth's chain (published ports still work). The CLI turns it on
	// unless BERTH_NO_OUTBOUND=1; tests keep it off.
	Outbound bool
}

// Manager creates and removes networks and sandboxes. Safe for concurrent use
// by several goroutines and processes: all state lives in files guarded by
// file locks (see the package documentation for the lock order).
type Manager struct {
	opt Options      // immutable after New
	log *slog.Logger // immutable after New
	// events is the state root's event journal: network create and
	// destroy are recorded there for `GET /events`.
	events *eventlog.Log

	releases rounds.Queue[*release] // RemoveSandbox's releases of endpoints, done together
	reaper   reaperSlot             // link deletions put off while a down runs (DeferLinkDeletion)
}

// NetworkConfig asks for a network.
type NetworkConfig struct {
	Name     string            // full name, e.g. "hello_default"
	Labels   map[string]string // owner labels
	Internal bool              // no route out
	Subnet   netip.Prefix      // zero: allocate from the pool
	Gateway  netip.Addr        // zero: first address of Subnet
	// IPRange is the part of Subnet that endpoints get addresses from
	// (static addresses may be anywhere in Subnet); zero: all of it.
	IPRange netip.Prefix
	// MTU of the bridge and the veths; 0: the kernel's default (1500).
	MTU int
	// BridgeName is the bridge's name; empty: berth<10 hex of the ID>. It
	// must start with "berth" and be at most 15 bytes.
	BridgeName string
	// EnableIPv6 gives the network an IPv6 subnet besides its IPv4 one:
	// Subnet6, else a /64 of Options.Pool6. Without it the *6 fields must
	// be zero.
	EnableIPv6 bool
	Subnet6    netip.Prefix // zero: allocate from Options.Pool6
	Gateway6   netip.Addr   // zero: first address of Subnet6
	IPRange6   netip.Prefix // part of Subnet6 endpoints get addresses from; zero: all of it
	// AuxAddresses are addresses of Subnet or Subnet6 never given to an
	// endpoint (Docker's auxiliary addresses): taken by something outside
	// the network's containers.
	AuxAddresses []netip.Addr
	// NoICC drops traffic between the network's containers (Docker's
	// enable_icc=false); they still reach the gateway and the outside.
	NoICC bool
	// NoMasquerade leaves connections out of the network without source
	// NAT (Docker's enable_ip_masquerade=false): the network is routed.
	NoMasquerade bool
}

// recordVersion is the version of Network records this package writes and
// reads.
const recordVersion = 1

// Network is a created network, as recorded.
type Network struct {
	Version  int          `json:"version"`
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Bridge   string       `json:"bridge"` // berth…, at most 15 bytes
	Subnet   netip.Prefix `json:"subnet"`
	Gateway  netip.Addr   `json:"gateway"`
	Internal bool         `json:"internal,omitempty"`
	IPRange  netip.Prefix `json:"ip_range,omitzero"`
	// Subnet6, Gateway6 and IPRange6 are the IPv6 side of a network made
	// with EnableIPv6; zero otherwise.
	Subnet6  netip.Prefix `json:"subnet6,omitzero"`
	Gateway6 netip.Addr   `json:"gateway6,omitzero"`
	IPRange6 netip.Prefix `json:"ip_range6,omitzero"`
	// AuxAddresses are never given to an endpoint.
	AuxAddresses []netip.Addr      `json:"aux_addresses,omitempty"`
	MTU          int               `json:"mtu,omitempty"`
	NoICC        bool              `json:"no_icc,omitempty"`        // see NetworkConfig.NoICC
	NoMasquerade bool              `json:"no_masquerade,omitempty"` // see NetworkConfig.NoMasquerade
	Labels       map[string]string `json:"labels,omitempty"`
	Created      time.Time         `json:"created"`
	// Endpoints by sandbox ID.
	Endpoints map[string]Endpoint `json:"endpoints,omitempty"`
	// Resolver is the network's DNS resolver process, once started.
	Resolver *Process `json:"resolver,omitempty"`
}

// Process names a process for good: PID and start time (clock ticks after
// boot, /proc/PID/stat field 22), so a reused PID is not mistaken for it.
type Process struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// Endpoint is a sandbox's attachment to a network.
type Endpoint struct {
	Sandbox  string     `json:"sandbox"`
	IfName   string     `json:"ifname"`    // inside the sandbox, e.g. eth0
	HostVeth string     `json:"host_veth"` // vb…
	Addr     netip.Addr `json:"addr"`
	Addr6    netip.Addr `json:"addr6,omitzero"` // on networks with IPv6
	MAC      string     `json:"mac"`
	// Names the network's resolver answers with Addr: container name,
	// hostname, aliases. Several endpoints may share a name (replicas).
	Names []string `json:"names,omitempty"`
	// Upstreams (host:port) the resolver forwards this sandbox's other
	// names to; empty: the resolver's own.
	Upstreams []string `json:"upstreams,omitempty"`
	// Search are the sandbox's search domains: the resolver also answers
	// <name>.<domain> for its names, as resolvers try those first.
	Search []string `json:"search,omitempty"`
	// NoRoute: the endpoint gives the sandbox no default route.
	NoRoute bool `json:"no_route,omitempty"`
	// TakeRoute: the endpoint's default route replaces the one the sandbox
	// has. Not recorded: set by ConnectWith.
	TakeRoute bool `json:"-"`
	// LinkLocal are more addresses of the interface, link-local.
	LinkLocal []netip.Addr `json:"link_local,omitempty"`
	// Ports published on the host to Addr, host ports settled.
	Ports []PortMapping `json:"ports,omitempty"`
	// DNS is the address of the network's resolver (its gateway), zero
	// when the network has none. Not recorded: set by Connect.
	DNS netip.Addr `json:"-"`
	// NetworkID is the ID of the network. Not recorded: set by Connect.
	NetworkID string `json:"-"`
}

// ConnectOptions describe an attachment for ConnectWith.
type ConnectOptions struct {
	IfName    string     // inside the sandbox, e.g. eth0
	Addr      netip.Addr // static address; zero: allocated
	Addr6     netip.Addr // static IPv6 address (networks with IPv6); zero: allocated
	Names     []string   // names the resolver answers with the address
	Upstreams []string   // see Endpoint.Upstreams
	Search    []string   // see Endpoint.Search
	// MAC of the interface; empty: 02:42 and the address's four bytes.
	MAC string
	// NoDefaultRoute: no default route through this network even if the
	// sandbox has none yet (the caller gives it through another).
	NoDefaultRoute bool
	// TakeDefaultRoute: the sandbox's default route goes through this
	// network from now on, replacing the one it has (a connected network
	// of a higher gateway priority); an internal network gives none.
	TakeDefaultRoute bool
	// LinkLocal are more addresses of the interface: IPv4 169.254.0.0/16
	// or IPv6 fe80::/10 only (link_local_ips); another address fails the
	// connection with errdefs.ErrInvalidArgument.
	LinkLocal []netip.Addr
	// Ports to publish on the host to the endpoint's address: DNAT rules
	// in berth's nat chain, removed with the endpoint. A host port bound by
	// any process of the host or published by berth is
	// errdefs.ErrConflict ("ports[0]: 127.0.0.1:8080 is already in use");
	// berth holds no socket on it afterwards.
	Ports []PortMapping
}

// New returns a Manager. Root and RunDir must be absolute paths; Pool, when
// set, must be an IPv4 prefix of at most /30, Pool6 an IPv6 prefix of at
// most /64. errdefs.ErrInvalidArgument otherwise.
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
	if !opt.Pool6.IsValid() {
		opt.Pool6 = DefaultPool6
	}
	if !opt.Pool6.Addr().Is6() || opt.Pool6.Addr().Is4In6() || opt.Pool6.Bits() > subnetBits6 {
		return nil, fmt.Errorf("netmgr: pool6 %s: must be an IPv6 prefix of at most /%d: %w", opt.Pool6, subnetBits6, errdefs.ErrInvalidArgument)
	}
	opt.Pool6 = opt.Pool6.Masked()
	if opt.SubnetLock == "" {
		opt.SubnetLock = DefaultSubnetLock
	}
	if opt.FirewallLock == "" {
		opt.FirewallLock = DefaultFirewallLock
	}
	if opt.ResolvConf == "" {
		opt.ResolvConf = "/etc/resolv.conf"
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{opt: opt, log: log, events: eventlog.Open(opt.Root)}, nil
}

// Create makes the network: record, subnet, bridge (with the gateway address,
// up) and firewall rules. A subnet from the pool is the first /24 used neither
// by another berth network nor by a host route or address. A given Subnet
// that overlaps either is errdefs.ErrConflict; an exhausted pool is
// ErrSubnetExhausted. With EnableIPv6 the same goes for the IPv6 subnet (a
// /64 of Options.Pool6), whose gateway the bridge gets too, and whose
// rules go in ip6tables. errdefs.ErrAlreadyExists if a network of that name
// exists; errdefs.ErrInvalidArgument for a bad name, subnet or gateway
// (CheckConfig). The
// choice of the subnets and the making of the bridge happen under the
// host-wide subnet lock, so that berth processes of other roots never pick
// the same subnet. On error nothing is left behind.
func (m *Manager) Create(ctx context.Context, cfg NetworkConfig) (_ *Network, retErr error) {
	if err := CheckConfig(cfg); err != nil {
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
	// Held until the bridge carries its addresses, which is when other
	// roots see the subnets as the host's.
	unlockSubnets, err := flock.Lock(ctx, m.opt.SubnetLock)
	if err != nil {
		return nil, fmt.Errorf("network %q: subnet lock: %w", cfg.Name, err)
	}
	releaseSubnets := sync.OnceFunc(unlockSubnets)
	defer releaseSubnets()
	host, err := hostPrefixes()
	if err != nil {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, err)
	}
	subnet, gw, err := planSubnet(cfg, m.opt.Pool, nets, host)
	if err != nil {
		return nil, err
	}
	if err := checkIPRange(cfg.Name, "ip_range", cfg.IPRange, subnet); err != nil {
		return nil, err
	}
	subnet6, gw6, err := planSubnet6(cfg, m.opt.Pool6, nets, host)
	if err != nil {
		return nil, err
	}
	if err := checkIPRange(cfg.Name, "ip_range6", cfg.IPRange6, subnet6); err != nil {
		return nil, err
	}
	for _, a := range cfg.AuxAddresses {
		if !subnet.Contains(a) && !subnet6.Contains(a) {
			return nil, fmt.Errorf("network %q: auxiliary address %s is not in the network's subnets: %w", cfg.Name, a, errdefs.ErrInvalidArgument)
		}
	}
	if subnet6.IsValid() {
		if err := ipv6Available(); err != nil {
			return nil, fmt.Errorf("network %q: enable_ipv6: %w", cfg.Name, err)
		}
	}
	id, err := newID()
	if err != nil {
		return nil, fmt.Errorf("network %q: %w", cfg.Name, err)
	}
	br := bridgeName(id)
	if cfg.BridgeName != "" {
		for _, o := range nets {
			if o.Bridge == cfg.BridgeName {
				return nil, fmt.Errorf("network %q: bridge name %q is used by network %q: %w", cfg.Name, cfg.BridgeName, o.Name, errdefs.ErrConflict)
			}
		}
		br = cfg.BridgeName
	}
	n := &Network{
		Version:  recordVersion,
		ID:       id,
		Name:     cfg.Name,
		Bridge:   br,
		Subnet:   subnet,
		Gateway:  gw,
		IPRange:  cfg.IPRange.Masked(),
		Subnet6:  subnet6,
		Gateway6: gw6,
		IPRange6: cfg.IPRange6.Masked(),
		MTU:      cfg.MTU,

		NoICC:        cfg.NoICC,
		NoMasquerade: cfg.NoMasquerade,
		AuxAddresses: slices.Clone(cfg.AuxAddresses),
		Internal:     cfg.Internal,
		Labels:       maps.Clone(cfg.Labels),
		Created:      time.Now().UTC(),
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
	if err := createBridge(n, m.opt.Root); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, deleteBridge(n))
		}
	}()
	releaseSubnets()
	if err := m.addFirewall(ctx, n); err != nil {
		return nil, err
	}
	m.log.Debug("network created", "network", n.Name, "bridge", n.Bridge, "subnet", n.Subnet.String())
	m.event(ctx, "create", n)
	return n, nil
}

// CheckConfig returns the errdefs.ErrInvalidArgument error Create returns
// for a configuration that is wrong in itself, whatever the machine holds:
// a bad name, a subnet that is not an IPv4 prefix of at most /30, a gateway
// or ip_range outside its subnet, IPv6 fields without EnableIPv6, an MTU
// outside 68-65535, a bad bridge name. It is pure; Create calls it before
// anything else, so such a Create leaves nothing behind.
func CheckConfig(cfg NetworkConfig) error {
	if err := validateName("network", cfg.Name); err != nil {
		return err
	}
	// With no other network and no host prefix, planning fails only on the
	// configuration itself.
	subnet, _, err := planSubnet(cfg, DefaultPool, nil, nil)
	if err != nil {
		return err
	}
	subnet6, _, err := planSubnet6(cfg, DefaultPool6, nil, nil)
	if err != nil {
		return err
	}
	// An ip_range is checked against a subnet from the pool by Create.
	if cfg.Subnet.IsValid() {
		if err := checkIPRange(cfg.Name, "ip_range", cfg.IPRange, subnet); err != nil {
			return err
		}
	}
	if cfg.Subnet6.IsValid() {
		if err := checkIPRange(cfg.Name, "ip_range6", cfg.IPRange6, subnet6); err != nil {
			return err
		}
	}
	if cfg.MTU != 0 && (cfg.MTU < 68 || cfg.MTU > 65535) {
		return fmt.Errorf("network %q: mtu %d: want 68-65535: %w", cfg.Name, cfg.MTU, errdefs.ErrInvalidArgument)
	}
	if cfg.BridgeName != "" && !validBridgeName(cfg.BridgeName) {
		return fmt.Errorf("network %q: bridge name %q: want %s[a-zA-Z0-9_.-]*, at most %d bytes: %w", cfg.Name, cfg.BridgeName, bridgePrefix, maxIfNameLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

// repairLocked finishes a network whose creation was cut short (berth
// killed after writing the record, or the bridge gone after a reboot): the
// bridge and its rules are made again from the record; a whole bridge
// whose rules were cut short gets the missing ones (repairFirewall). The
// network lock is held.
func (m *Manager) repairLocked(ctx context.Context, n *Network) error {
	ok, err := bridgeExists(n)
	if err != nil {
		return err
	}
	if ok {
		return m.repairFirewall(ctx, n)
	}
	m.log.Warn("network half made: repairing", "network", n.Name, "bridge", n.Bridge)
	if err := deleteBridge(n); err != nil {
		return fmt.Errorf("network %q: repair: %w", n.Name, err)
	}
	if err := m.removeFirewall(ctx, n); err != nil {
		return fmt.Errorf("network %q: repair: %w", n.Name, err)
	}
	if err := createBridge(n, m.opt.Root); err != nil {
		return fmt.Errorf("network %q: repair: %w", n.Name, err)
	}
	if err := m.addFirewall(ctx, n); err != nil {
		return fmt.Errorf("network %q: repair: %w", n.Name, err)
	}
	return nil
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
	n, unlock, err := m.lockRecord(ctx, name)
	if err != nil {
		return err
	}
	defer unlock()
	return m.removeLocked(ctx, n)
}

// removeLocked is Remove of the recorded network n; the network lock must
// be held.
func (m *Manager) removeLocked(ctx context.Context, n *Network) error {
	name := n.Name
	if len(n.Endpoints) > 0 {
		ids := slices.Sorted(maps.Keys(n.Endpoints))
		return fmt.Errorf("network %q: sandboxes %q still connected: %w", name, ids, errdefs.ErrConflict)
	}
	bridgeDeleted := startDeleteBridge(n, func() error {
		if err := m.stopResolvers(name, n.Resolver); err != nil {
			return fmt.Errorf("network %q: resolver: %w", name, err)
		}
		return nil
	}, m.reapBridge)
	fwErr := m.removeFirewall(ctx, n)
	if err := errors.Join(fwErr, bridgeDeleted()); err != nil {
		return err
	}
	if err := m.deleteRecord(name); err != nil {
		return err
	}
	_ = os.Remove(m.resolverLog(name)) // best effort: an operator's aid only
	m.log.Debug("network removed", "network", name)
	m.event(ctx, "destroy", n)
	return nil
}

// event records action on network n in the event journal, with Docker's
// attributes (name, type) over its labels.
func (m *Manager) event(ctx context.Context, action string, n *Network) {
	m.events.Record(ctx, m.log, eventlog.Event{Type: "network", Action: action, ID: n.ID, Name: n.Name,
		Labels: n.Labels, Attributes: map[string]string{"type": "bridge"}})
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
func (m *Manager) Connect(ctx context.Context, network, id, ifname string, addr netip.Addr) (*Endpoint, error) {
	return m.ConnectWith(ctx, network, id, ConnectOptions{IfName: ifname, Addr: addr})
}

// ConnectWith is Connect with the endpoint's names and upstreams for the
// network's resolver. When Options.Exe is set it also makes sure the
// network's resolver runs (starting it on the first connection, or again if
// it died) and returns its address in Endpoint.DNS; a resolver that cannot
// start fails the connection.
//
// The network lock is held while the address is chosen and recorded, and
// again while the resolver and published ports are seen to; the veth is made
// between the two without it, so that the connections of many containers
// overlap (netlink waits for the kernel). The recorded endpoint keeps the
// network from being removed meanwhile.
func (m *Manager) ConnectWith(ctx context.Context, network, id string, opt ConnectOptions) (*Endpoint, error) {
	if err := validateName("network", network); err != nil {
		return nil, err
	}
	if err := validateName("sandbox", id); err != nil {
		return nil, err
	}
	if err := validateIfName(opt.IfName); err != nil {
		return nil, fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	}
	n, ep, nsPath, err := m.reserve(ctx, network, id, opt)
	if err != nil {
		return nil, err
	}
	if err = plumb(n, *ep, nsPath); err != nil {
		err = fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	} else if err = m.finishConnect(ctx, network, ep); err != nil {
		err = errors.Join(err, deleteLink(ep.HostVeth))
	}
	if err != nil {
		return nil, errors.Join(err, m.unreserve(context.WithoutCancel(ctx), network, id))
	}
	m.log.Debug("sandbox connected", "network", network, "sandbox", id, "addr", ep.Addr.String(), "addr6", ep.Addr6.String())
	return ep, nil
}

// reserve records sandbox id's endpoint on network under the network lock
// (the bridge repaired if need be, addresses and ports chosen), and returns
// the network, the endpoint and the sandbox's namespace path.
func (m *Manager) reserve(ctx context.Context, network, id string, opt ConnectOptions) (*Network, *Endpoint, string, error) {
	ifname, addr := opt.IfName, opt.Addr
	unlock, err := m.lock(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	defer unlock()

	n, err := m.readRecord(network)
	if err != nil {
		return nil, nil, "", err
	}
	if _, ok := n.Endpoints[id]; ok {
		return nil, nil, "", fmt.Errorf("network %q: sandbox %q: already connected: %w", network, id, errdefs.ErrAlreadyExists)
	}
	if err := m.repairLocked(ctx, n); err != nil {
		return nil, nil, "", err
	}
	nsPath := m.sandboxPath(id)
	if _, err := os.Stat(nsPath); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, "", fmt.Errorf("sandbox %q: %w", id, errdefs.ErrNotFound)
		}
		return nil, nil, "", fmt.Errorf("sandbox %q: %w", id, err)
	}
	used := usedAddrs(n)
	a, err := pickAddrIn(n.Subnet, n.IPRange, n.Gateway, used, addr)
	if err != nil {
		return nil, nil, "", fmt.Errorf("network %q: sandbox %q: %w", network, id, err)
	}
	var a6 netip.Addr
	switch {
	case n.Subnet6.IsValid():
		if a6, err = pickAddrIn(n.Subnet6, n.IPRange6, n.Gateway6, used, opt.Addr6); err != nil {
			return nil, nil, "", fmt.Errorf("network %q: sandbox %q: ipv6: %w", network, id, err)
		}
	case opt.Addr6.IsValid():
		return nil, nil, "", fmt.Errorf("network %q: sandbox %q: ipv6 address %s: the network has no IPv6 (enable_ipv6): %w", network, id, opt.Addr6, errdefs.ErrInvalidArgument)
	}
	mac := macFor(a).String()
	if opt.MAC != "" {
		hw, err := net.ParseMAC(opt.MAC)
		if err != nil || len(hw) != 6 || hw[0]&1 != 0 {
			return nil, nil, "", fmt.Errorf("network %q: sandbox %q: mac_address %q is not a unicast MAC-48 address: %w", network, id, opt.MAC, errdefs.ErrInvalidArgument)
		}
		mac = hw.String()
		for _, o := range n.Endpoints {
			if o.MAC == mac {
				return nil, nil, "", fmt.Errorf("network %q: sandbox %q: mac_address %s is used by sandbox %q: %w", network, id, mac, o.Sandbox, errdefs.ErrConflict)
			}
		}
	}
	var ports []PortMapping
	if len(opt.Ports) > 0 {
		if n.Internal {
			return nil, nil, "", fmt.Errorf("network %q: internal: ports cannot be published: %w", network, errdefs.ErrInvalidArgument)
		}
		if err := validatePorts(opt.Ports, n.Subnet6.IsValid()); err != nil {
			return nil, nil, "", err
		}
		nets, err := m.readAll()
		if err != nil {
			return nil, nil, "", err
		}
		if ports, err = choosePorts(opt.Ports, nets, n.Subnet6.IsValid()); err != nil {
			return nil, nil, "", err
		}
	}
	ep := Endpoint{
		Sandbox:   id,
		IfName:    ifname,
		HostVeth:  vethName(id, n.ID),
		Addr:      a,
		Addr6:     a6,
		MAC:       mac,
		Names:     dedupeNames(opt.Names),
		Upstreams: slices.Clone(opt.Upstreams),
		Search:    slices.Clone(opt.Search),
		Ports:     ports,
		NoRoute:   opt.NoDefaultRoute,
		TakeRoute: opt.TakeDefaultRoute && !opt.NoDefaultRoute,
		LinkLocal: slices.Clone(opt.LinkLocal),
		NetworkID: n.ID,
	}
	// Reserve the address in the record before plumbing, so a crash leaves
	// an endpoint that RemoveSandbox cleans up.
	if n.Endpoints == nil {
		n.Endpoints = map[string]Endpoint{}
	}
	n.Endpoints[id] = ep
	if err := m.writeRecord(n); err != nil {
		return nil, nil, "", err
	}
	return n, &ep, nsPath, nil
}

// lockRecord takes the network lock and reads network's record; the
// caller releases the lock with unlock.
func (m *Manager) lockRecord(ctx context.Context, network string) (n *Network, unlock func(), err error) {
	if unlock, err = m.lock(ctx); err != nil {
		return nil, nil, err
	}
	if n, err = m.readRecord(network); err != nil {
		unlock()
		return nil, nil, err
	}
	return n, unlock, nil
}

// resolverAlive tells whether the resolver n records still runs.
func resolverAlive(n *Network) bool { return n.Resolver != nil && processAlive(*n.Resolver) }

// finishConnect makes sure, under the network lock, that the network's
// resolver runs (setting ep.DNS) and publishes ep's ports, once ep's veth
// is plumbed. It reads the record in brief, and whole only to record a
// resolver it starts: a project's every container connects in turn, and
// the record grows with each.
func (m *Manager) finishConnect(ctx context.Context, network string, ep *Endpoint) error {
	unlock, err := m.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := readBriefIn(m.networksDir(), network)
	if err != nil {
		return err
	}
	if _, ok := r.Endpoints[ep.Sandbox]; !ok || r.ID != ep.NetworkID {
		return fmt.Errorf("network %q: sandbox %q: disconnected while connecting: %w", network, ep.Sandbox, errdefs.ErrConflict)
	}
	n := &r.Network
	if m.opt.Exe != "" {
		if !resolverAlive(n) {
			// The endpoint is recorded: a resolver started now answers
			// for it.
			if n, err = m.readRecord(network); err != nil {
				return err
			}
			if err := m.ensureResolverLocked(ctx, n); err != nil {
				return err
			}
		}
		ep.DNS = n.Gateway
	}
	if err := m.publish(ctx, n, *ep); err != nil {
		return fmt.Errorf("network %q: sandbox %q: publish: %w", network, ep.Sandbox, err)
	}
	return nil
}

// unreserve removes sandbox id's endpoint from network's record, under the
// network lock: a connection that failed after reserve.
func (m *Manager) unreserve(ctx context.Context, network, id string) error {
	n, unlock, err := m.lockRecord(ctx, network)
	if err != nil {
		return err
	}
	defer unlock()
	if _, ok := n.Endpoints[id]; !ok {
		return nil
	}
	delete(n.Endpoints, id)
	return m.writeRecord(n)
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
	// The sandbox's own links and namespace are its alone: they go before
	// the network lock is taken, so removals of many containers overlap
	// (deleting a veth waits for the kernel). Endpoints with published
	// ports keep the old order: their rules must go before the veth.
	pre, err := m.readAllBrief()
	if err != nil {
		return err
	}
	gone := map[string]bool{}
	connected := false
	for _, n := range pre {
		ep, ok := n.Endpoints[id]
		connected = connected || ok
		if ok && len(ep.Ports) == 0 && m.deleteVeth(ep.HostVeth) == nil {
			gone[n.Name] = true
		}
	}
	if !connected {
		// Nothing recorded to release (a second release of the same run,
		// or a sandbox never connected): no need to queue for the lock.
		// Endpoints of id are recorded only by a Connect of id, which its
		// caller does not run beside RemoveSandbox of the same id.
		if err := m.removeSandboxNetns(m.sandboxPath(id)); err != nil {
			return fmt.Errorf("sandbox %q: %w", id, err)
		}
		return nil
	}
	errs := m.releaseEndpoints(ctx, id, gone)
	// The namespace is the sandbox's own: it goes once the lock is free
	// for the next sandbox's records.
	if err := m.removeSandboxNetns(m.sandboxPath(id)); err != nil {
		errs = append(errs, fmt.Errorf("sandbox %q: %w", id, err))
	}
	return errors.Join(errs...)
}

// releaseEndpoints removes sandbox id's endpoints from the networks'
// records, under the network lock: its published ports' rules first, then
// its host veths not already deleted (gone names their networks).
//
// The releases of concurrent RemoveSandbox calls are done together: the
// first caller takes the lock for what is queued, and whatever was queued
// meanwhile goes in its next round, so twenty containers taken down at
// once hold the lock a few times, each record written once a round,
// rather than twenty times in a row (a write is two fsyncs). A caller's
// result is its own sandbox's. The rounds run on the first caller's
// thread: the callers of one Manager share a network namespace.
func (m *Manager) releaseEndpoints(ctx context.Context, id string, gone map[string]bool) []error {
	r := &release{id: id, gone: gone}
	m.releases.Do(r, func(batch []*release) { m.releaseBatch(ctx, batch) })
	return r.errs
}

// release is one queued releaseEndpoints.
type release struct {
	id   string
	gone map[string]bool
	errs []error // set by its round
}

// releaseBatch releases the endpoints of the batch's sandboxes under one
// holding of the network lock, writing each changed record once.
func (m *Manager) releaseBatch(ctx context.Context, batch []*release) {
	fail := func(err error) {
		for _, r := range batch {
			r.errs = append(r.errs, err)
		}
	}
	unlock, err := m.lock(ctx)
	if err != nil {
		fail(err)
		return
	}
	defer unlock()
	nets, err := m.readAll()
	if err != nil {
		fail(err)
		return
	}
	for _, n := range nets {
		var changed []*release
		for _, r := range batch {
			ep, ok := n.Endpoints[r.id]
			if !ok {
				continue
			}
			if len(ep.Ports) > 0 {
				if err := m.unpublish(ctx, n, r.id); err != nil {
					r.errs = append(r.errs, fmt.Errorf("network %q: sandbox %q: %w", n.Name, r.id, err))
					continue
				}
			}
			if !r.gone[n.Name] {
				if err := m.deleteVeth(ep.HostVeth); err != nil {
					r.errs = append(r.errs, fmt.Errorf("network %q: sandbox %q: %w", n.Name, r.id, err))
					continue
				}
			}
			delete(n.Endpoints, r.id)
			changed = append(changed, r)
		}
		if len(changed) == 0 {
			continue
		}
		if err := m.writeRecord(n); err != nil {
			for _, r := range changed {
				r.errs = append(r.errs, err)
			}
		}
	}
}

// sandboxPath is where sandbox id's namespace is bind-mounted.
func (m *Manager) sandboxPath(id string) string {
	return filepath.Join(m.opt.RunDir, "netns", id)
}
