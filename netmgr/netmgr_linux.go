package netmgr

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/containerd/errdefs"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// failpoint, when set (by tests only), is called at named steps and its error
// makes the step fail, to exercise the undo paths.
var failpoint func(step string) error

func fail(step string) error {
	if failpoint == nil {
		return nil
	}
	return failpoint(step)
}

// dumpRetries bounds the retries of a netlink dump interrupted by a
// concurrent change. While many containers start, each new veth's
// link-local address changes the address table, so a dump may be
// interrupted several times in a row; a dump costs microseconds.
const dumpRetries = 50

// dump runs the netlink dump f again while a concurrent change interrupts
// it (netlink.ErrDumpInterrupted: what the kernel answered may be
// incomplete or inconsistent), at most dumpRetries times.
func dump[T any](f func() ([]T, error)) ([]T, error) {
	var out []T
	var err error
	for range dumpRetries {
		if out, err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return out, err
}

// hostPrefixes lists the IPv4 and IPv6 prefixes in use on the host: the destinations
// of the routes in every routing table (default routes excluded, since they
// overlap everything) and the prefixes of every address.
func hostPrefixes() ([]netip.Prefix, error) {
	routes, err := dump(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, fmt.Errorf("list host routes: %w", err)
	}
	addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, fmt.Errorf("list host addresses: %w", err)
	}
	var out []netip.Prefix
	add := func(ipn *net.IPNet) {
		if ipn == nil {
			return
		}
		p, ok := prefixFromIPNet(ipn)
		if ok && p.Bits() > 0 {
			out = append(out, p.Masked())
		}
	}
	for _, r := range routes {
		add(r.Dst)
	}
	for _, a := range addrs {
		add(a.IPNet)
	}
	return out, nil
}

func prefixFromIPNet(ipn *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(ipn.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := ipn.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones), true
}

func ipNet(a netip.Addr, bits int) *net.IPNet {
	return &net.IPNet{IP: net.IP(a.AsSlice()), Mask: net.CIDRMask(bits, a.BitLen())}
}

// ipv6Available is errdefs.ErrFailedPrecondition when the host has no IPv6
// (booted with ipv6.disable=1).
func ipv6Available() error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil {
		return fmt.Errorf("the host has no IPv6 (/proc/sys/net/ipv6: %w): %w", err, errdefs.ErrFailedPrecondition)
	}
	return nil
}

// enableIPv6On clears disable_ipv6 of the link name in the network
// namespace the calling thread is in, if it is set (it is copied from
// conf/default when the link is made).
func enableIPv6On(name string) error {
	p := filepath.Join("/proc/sys/net/ipv6/conf", name, "disable_ipv6")
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("sysctl %s: %w", p, err)
	}
	if strings.TrimSpace(string(b)) == "0" {
		return nil
	}
	return writeSysctl(p, "0")
}

// v6Addr is an IPv6 address for netlink, without duplicate address
// detection: berth hands out the addresses, and a tentative address could
// not be bound (by the resolver) or used as a source for a second or so.
func v6Addr(a netip.Addr, bits int) *netlink.Addr {
	return &netlink.Addr{IPNet: ipNet(a, bits), Flags: unix.IFA_F_NODAD}
}

// createBridge makes the network's bridge with the gateway addresses and
// sets it up. Its alias (bridgeAlias) names root, so that prune can tell
// a bridge whose root is gone. On error nothing is left behind.
func createBridge(n *Network, root string) (retErr error) {
	br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{
		Name:         n.Bridge,
		HardwareAddr: macFor(n.Gateway), // fixed, so it does not change as ports come and go
		MTU:          n.MTU,
	}}
	if err := netlink.LinkAdd(br); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network %q: bridge %s: %w", n.Name, n.Bridge, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("network %q: create bridge %s: %w", n.Name, n.Bridge, err)
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, deleteBridge(n))
		}
	}()
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("network %q: bridge %s: %w", n.Name, n.Bridge, err)
	}
	// The kernel ignores an alias given at creation.
	if err := netlink.LinkSetAlias(link, bridgeAlias(n.Name, root)); err != nil {
		return fmt.Errorf("network %q: bridge %s: set alias: %w", n.Name, n.Bridge, err)
	}
	if err := netlink.AddrAdd(link, &netlink.Addr{IPNet: ipNet(n.Gateway, n.Subnet.Bits())}); err != nil {
		return fmt.Errorf("network %q: bridge %s: add gateway %s: %w", n.Name, n.Bridge, n.Gateway, err)
	}
	if n.Gateway6.IsValid() {
		if err := enableIPv6On(n.Bridge); err != nil {
			return fmt.Errorf("network %q: bridge %s: %w", n.Name, n.Bridge, err)
		}
		if err := netlink.AddrAdd(link, v6Addr(n.Gateway6, n.Subnet6.Bits())); err != nil {
			return fmt.Errorf("network %q: bridge %s: add gateway %s: %w", n.Name, n.Bridge, n.Gateway6, err)
		}
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("network %q: bridge %s: set up: %w", n.Name, n.Bridge, err)
	}
	return fail("bridge")
}

// deleteBridge deletes the network's bridge; a missing bridge counts as
// deleted.
func deleteBridge(n *Network) error {
	if err := deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	return nil
}

// startDeleteBridge starts, on a goroutine of its own, before (stopping
// the network's resolver, which listens on the bridge) and, once that
// succeeded, the deletion of the network's bridge; it returns the function
// that waits for both. The netlink socket is made here, on the caller's
// thread, so the bridge is the one of the caller's network namespace
// whichever thread deletes it.
//
// reap, when not nil, is offered the bridge first (Manager.reapBridge): if
// it reports that it took it, its error is the deletion's.
func startDeleteBridge(n *Network, before func() error, reap func(bridge string) (bool, error)) (wait func() error) {
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		err = fmt.Errorf("network %q: netlink: %w", n.Name, err)
		return func() error { return err }
	}
	done := make(chan error, 1)
	go func() {
		defer h.Close()
		if err := before(); err != nil {
			done <- err
			return
		}
		if reap != nil {
			if took, err := reap(n.Bridge); took {
				if err != nil {
					err = fmt.Errorf("network %q: %w", n.Name, err)
				}
				done <- err
				return
			}
		}
		if err := deleteLinkWith(h, n.Bridge); err != nil {
			done <- fmt.Errorf("network %q: %w", n.Name, err)
			return
		}
		done <- nil
	}()
	return func() error { return <-done }
}

// bridgeExists reports whether the network's bridge is on the host whole:
// the link with its gateway addresses. A bridge cut short by a killed berth
// (link made, addresses not yet) counts as missing.
func bridgeExists(n *Network) (bool, error) {
	link, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return false, nil
		}
		return false, fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	addrs, err := dump(func() ([]netlink.Addr, error) { return netlink.AddrList(link, netlink.FAMILY_ALL) })
	if err != nil {
		return false, fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	has4, has6 := false, !n.Gateway6.IsValid()
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		has4 = has4 || ok && ip.Unmap() == n.Gateway
		has6 = has6 || ok && ip == n.Gateway6
	}
	return has4 && has6, nil
}

// deleteLink deletes the host link name; a missing link counts as deleted.
func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return nil
		}
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// deleteLinkWith is deleteLink through the netlink handle h.
func deleteLinkWith(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if err != nil {
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return nil
		}
		return fmt.Errorf("link %s: %w", name, err)
	}
	if err := h.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete link %s: %w", name, err)
	}
	return nil
}

// plumb connects the sandbox at nsPath to network n as endpoint ep: a veth
// pair whose peer is created inside the sandbox (so no foreign name ever
// appears on the host), configured there through a netlink handle on the
// namespace, and whose host side is enslaved to the bridge with hairpin mode
// on. On error nothing is left behind.
func plumb(n *Network, ep Endpoint, nsPath string) (retErr error) {
	ns, h, err := netlinkAt(nsPath)
	if err != nil {
		return err
	}
	defer ns.Close()
	defer h.Close()
	if _, err := h.LinkByName(ep.IfName); err == nil {
		return fmt.Errorf("interface %q already exists in the sandbox: %w", ep.IfName, errdefs.ErrConflict)
	}
	br, err := netlink.LinkByName(n.Bridge)
	if err != nil {
		if _, ok := errors.AsType[netlink.LinkNotFoundError](err); ok {
			return fmt.Errorf("bridge %s is missing (remove and re-create the network): %w", n.Bridge, errdefs.ErrFailedPrecondition)
		}
		return fmt.Errorf("bridge %s: %w", n.Bridge, err)
	}
	mac, err := net.ParseMAC(ep.MAC)
	if err != nil {
		return fmt.Errorf("mac %q: %w", ep.MAC, err)
	}

	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: ep.HostVeth, MTU: n.MTU},
		PeerName:         ep.IfName,
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("veth %s: %w", ep.HostVeth, errdefs.ErrAlreadyExists)
		}
		return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	defer func() {
		if retErr != nil {
			retErr = errors.Join(retErr, deleteLink(ep.HostVeth)) // takes the peer with it
		}
	}()
	host, err := netlink.LinkByName(ep.HostVeth)
	if err != nil {
		return fmt.Errorf("veth %s: %w", ep.HostVeth, err)
	}
	if err := netlink.LinkSetAlias(host, linkAlias(n.Name, ep.Sandbox)); err != nil {
		return fmt.Errorf("veth %s: set alias: %w", ep.HostVeth, err)
	}
	if err := fail("veth"); err != nil {
		return err
	}

	if err := configurePeer(h, n, ep, nsPath); err != nil {
		return err
	}
	if err := netlink.LinkSetMaster(host, br); err != nil {
		return fmt.Errorf("veth %s: attach to %s: %w", ep.HostVeth, n.Bridge, err)
	}
	if err := netlink.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("veth %s: hairpin: %w", ep.HostVeth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("veth %s: set up: %w", ep.HostVeth, err)
	}
	return fail("plumbed")
}

// configurePeer gives the sandbox side of the veth its addresses, sets it up
// and adds the default routes via the gateways (networks that are not
// Internal, and per address family only if the sandbox has no default route
// of it yet: the first network wins).
func configurePeer(h *netlink.Handle, n *Network, ep Endpoint, nsPath string) error {
	peer, err := h.LinkByName(ep.IfName)
	if err != nil {
		return fmt.Errorf("interface %q in the sandbox: %w", ep.IfName, err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(ep.Addr, n.Subnet.Bits())}); err != nil {
		return fmt.Errorf("interface %q: add address %s: %w", ep.IfName, ep.Addr, err)
	}
	if ep.Addr6.IsValid() {
		if err := inNetnsPath(nsPath, func() error { return enableIPv6On(ep.IfName) }); err != nil {
			return fmt.Errorf("interface %q: %w", ep.IfName, err)
		}
		if err := h.AddrAdd(peer, v6Addr(ep.Addr6, n.Subnet6.Bits())); err != nil {
			return fmt.Errorf("interface %q: add address %s: %w", ep.IfName, ep.Addr6, err)
		}
	}
	for _, ll := range ep.LinkLocal {
		if !ll.IsLinkLocalUnicast() {
			return fmt.Errorf("interface %q: link_local_ips: %s is not a link-local address (169.254.0.0/16, fe80::/10): %w", ep.IfName, ll, errdefs.ErrInvalidArgument)
		}
		a := &netlink.Addr{IPNet: ipNet(ll, 16)}
		if ll.Is6() {
			if err := inNetnsPath(nsPath, func() error { return enableIPv6On(ep.IfName) }); err != nil {
				return fmt.Errorf("interface %q: %w", ep.IfName, err)
			}
			a = v6Addr(ll, 64)
		}
		if err := h.AddrAdd(peer, a); err != nil {
			return fmt.Errorf("interface %q: add link-local address %s: %w", ep.IfName, ll, err)
		}
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("interface %q: set up: %w", ep.IfName, err)
	}
	if n.Internal || ep.NoRoute {
		return nil
	}
	if err := addDefaultRoute(h, peer, netlink.FAMILY_V4, n.Gateway, ep.TakeRoute); err != nil {
		return fmt.Errorf("interface %q: %w", ep.IfName, err)
	}
	if ep.Addr6.IsValid() {
		if err := addDefaultRoute(h, peer, netlink.FAMILY_V6, n.Gateway6, ep.TakeRoute); err != nil {
			return fmt.Errorf("interface %q: %w", ep.IfName, err)
		}
	}
	return nil
}

// addDefaultRoute adds a default route of family via gw on link, unless the
// sandbox has one of that family already; with take, it replaces the one
// the sandbox has, in one step.
func addDefaultRoute(h *netlink.Handle, link netlink.Link, family int, gw netip.Addr, take bool) error {
	if take {
		if err := h.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(gw.AsSlice())}); err != nil {
			return fmt.Errorf("default route via %s: %w", gw, err)
		}
		return nil
	}
	routes, err := dump(func() ([]netlink.Route, error) { return h.RouteList(nil, family) })
	if err != nil {
		return fmt.Errorf("sandbox routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
			return nil
		}
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(gw.AsSlice())}); err != nil {
		return fmt.Errorf("default route via %s: %w", gw, err)
	}
	return nil
}

// inNetnsPath runs fn on a locked OS thread inside the namespace at path
// (for what only the namespace's own /proc/sys shows). If the thread
// cannot return to its namespace it stays locked and dies with its
// goroutine.
func inNetnsPath(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := openNetns(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter namespace %s: %w", path, err)
			return
		}
		fnErr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(fnErr, fmt.Errorf("restore namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// openNetns opens the namespace bind-mounted at path, checking that it is one.
// netlinkAt opens the namespace mounted at path (see openNetns) and a
// netlink handle inside it; the caller closes both.
func netlinkAt(path string) (netns.NsHandle, *netlink.Handle, error) {
	ns, err := openNetns(path)
	if err != nil {
		return 0, nil, err
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return 0, nil, fmt.Errorf("namespace %s: netlink handle: %w", path, err)
	}
	return ns, h, nil
}

func openNetns(path string) (netns.NsHandle, error) {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("namespace %s: %w", path, errdefs.ErrNotFound)
		}
		return 0, fmt.Errorf("namespace %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(ns), &st); err != nil {
		ns.Close()
		return 0, fmt.Errorf("namespace %s: %w", path, err)
	}
	if st.Type != unix.NSFS_MAGIC {
		ns.Close()
		return 0, fmt.Errorf("namespace %s: not mounted (create the sandbox again): %w", path, errdefs.ErrFailedPrecondition)
	}
	return ns, nil
}
