// Package netmgr gives containers bridge networking: a Linux bridge per
// network (named berth…), IPAM from a pool, a network namespace per sandbox
// with a veth pair per network (host side vb…), and berth's own firewall
// chains. It knows nothing about services or Compose.
//
// Lock order: the network lock (<root>/networks/lock) guards every record
// and the IPAM; take it after any project lock.
package netmgr

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"
)

// Options configure a Manager.
type Options struct {
	Root   string       // state root; records live in Root/networks
	RunDir string       // run directory; namespaces live in RunDir/netns
	Pool   netip.Prefix // default address pool, split into /24s; zero: 10.213.0.0/16
	Logger *slog.Logger
}

// Manager creates and removes networks and sandboxes. Safe for concurrent use
// by several goroutines and processes.
type Manager struct {
	opt Options // immutable
}

// NetworkConfig asks for a network.
type NetworkConfig struct {
	Name     string            // full name, e.g. "hello_default"
	Labels   map[string]string // owner labels
	Internal bool              // no route out
	Subnet   netip.Prefix      // zero: allocate from the pool
	Gateway  netip.Addr        // zero: first address of Subnet
}

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

var errUnimplemented = errors.New("not implemented")

// New returns a Manager.
func New(opt Options) (*Manager, error) { return &Manager{opt: opt}, nil }

// Create makes the network: record, subnet, bridge and firewall rules.
// errdefs.ErrAlreadyExists if a network of that name exists.
func (m *Manager) Create(ctx context.Context, cfg NetworkConfig) (*Network, error) {
	return nil, errUnimplemented
}

// Get returns the network's record. errdefs.ErrNotFound if there is none.
func (m *Manager) Get(ctx context.Context, name string) (*Network, error) {
	return nil, errUnimplemented
}

// List returns the networks whose labels include every pair in labels.
func (m *Manager) List(ctx context.Context, labels map[string]string) ([]*Network, error) {
	return nil, errUnimplemented
}

// Remove deletes the network: bridge, rules, record. errdefs.ErrConflict if
// sandboxes are still connected; errdefs.ErrNotFound if it does not exist.
func (m *Manager) Remove(ctx context.Context, name string) error {
	return errUnimplemented
}

// CreateSandbox makes a network namespace for id with loopback up and returns
// its path. Idempotent: an existing sandbox's path is returned.
func (m *Manager) CreateSandbox(ctx context.Context, id string) (string, error) {
	return "", errUnimplemented
}

// Connect attaches sandbox id to the network with interface ifname, allocating
// an address (addr when valid, else the next free one).
func (m *Manager) Connect(ctx context.Context, network, id, ifname string, addr netip.Addr) (*Endpoint, error) {
	return nil, errUnimplemented
}

// RemoveSandbox disconnects sandbox id from every network (releasing its
// addresses and veths) and removes its namespace. Idempotent; works when the
// namespace is already gone (after a reboot).
func (m *Manager) RemoveSandbox(ctx context.Context, id string) error {
	return errUnimplemented
}
