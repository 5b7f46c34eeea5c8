package netmgr

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The kernel deletes a link in two halves: the unregistering, under the
// RTNL lock, and then a wait for RCU callbacks (rcu_barrier, a grace period
// or two: about 20 ms for a veth and 45 ms for a bridge here) before the
// call returns. Links deleted one call each wait one after another, and
// calls side by side wait longer still (they queue on the RTNL lock). One
// RTM_DELLINK of a link group unregisters every member of the group in one
// batch and waits once: a network's bridge with five veths goes in about
// the time of the bridge alone, against four times that link by link.
//
// A linkReaper puts that to use for a `down`, which removes the project's
// containers and then its networks: while it is active, a sandbox's host
// veths are not deleted when the sandbox is removed but set down (no frame
// crosses the bridge to the dead container's side any more, whatever
// address its record gave up) and put into the reaper's link group, and
// the sandbox's namespace, unmounted and removed as before, is kept alive
// by an open file descriptor (so that the kernel does not delete the veth
// meanwhile on a worker of its own, racing the group's deletion). A
// network's removal puts its bridge into the group and deletes the group;
// the reaper's flush deletes what is left. If the process dies first, its
// descriptors close and the kernel deletes the namespaces with their veths:
// nothing outlives the process.
type linkReaper struct {
	group   uint32   // the link group; chosen at random, never 0
	names   []string // the links put into the group since it was last deleted
	holders []*os.File
}

// newLinkGroup picks a link group for a reaper: random, with the top bit
// set (well away from the small numbers people give groups by hand).
func newLinkGroup() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on Linux
	return binary.LittleEndian.Uint32(b[:]) | 1<<31
}

// DeferLinkDeletion makes the Manager's removals of sandboxes put off the
// deletion of their host veths until the removal of their network, which
// then deletes them with its bridge in one request (see linkReaper), and
// returns the function that deletes what is still put off and ends the
// deferral; call it before the process ends, whatever happened. For
// commands that remove containers and then their networks (down).
func (m *Manager) DeferLinkDeletion() (flush func() error) {
	m.reaper.mu.Lock()
	defer m.reaper.mu.Unlock()
	if m.reaper.r != nil {
		return func() error { return nil } // already deferring: the first caller flushes
	}
	r := &linkReaper{group: newLinkGroup()}
	m.reaper.r = r
	return func() error {
		m.reaper.mu.Lock()
		m.reaper.r = nil
		names, holders := r.take()
		m.reaper.mu.Unlock()
		return r.deleteGroup(names, holders)
	}
}

// reaperSlot holds a Manager's active linkReaper, if any.
type reaperSlot struct {
	mu sync.Mutex
	r  *linkReaper // nil: links are deleted at once
}

// deleteVeth deletes the host veth name, or with a reaper active sets it
// down and into the reaper's group. A missing link counts as deleted.
func (m *Manager) deleteVeth(name string) error {
	m.reaper.mu.Lock()
	if r := m.reaper.r; r != nil {
		defer m.reaper.mu.Unlock()
		return r.put(name)
	}
	m.reaper.mu.Unlock()
	return deleteLink(name) // not under the lock: deletions side by side overlap their waits
}

// removeSandboxNetns removes the namespace mounted at path (removeNetns);
// with a reaper active it is first opened and held open until the reaper
// deletes its group.
func (m *Manager) removeSandboxNetns(path string) error {
	m.reaper.mu.Lock()
	if r := m.reaper.r; r != nil && isNetnsMount(path) {
		f, err := os.Open(path)
		if err != nil {
			m.reaper.mu.Unlock()
			return fmt.Errorf("namespace %s: %w", path, err)
		}
		r.holders = append(r.holders, f)
	}
	m.reaper.mu.Unlock()
	return removeNetns(path)
}

// reapBridge deletes bridge, with a reaper active in one request with the
// veths put into its group so far; it reports whether a reaper was active
// (when not, nothing was done).
func (m *Manager) reapBridge(bridge string) (bool, error) {
	m.reaper.mu.Lock()
	r := m.reaper.r
	if r == nil {
		m.reaper.mu.Unlock()
		return false, nil
	}
	err := r.put(bridge)
	names, holders := r.take()
	m.reaper.mu.Unlock()
	return true, errors.Join(err, r.deleteGroup(names, holders))
}

// put sets link name down and into r's group, in one request. A missing
// link counts as done. The reaper's slot must be locked.
func (r *linkReaper) put(name string) error {
	if err := setGroupDown(name, r.group); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil
		}
		return fmt.Errorf("link %s: %w", name, err)
	}
	r.names = append(r.names, name)
	return nil
}

// take hands over the links put into r's group and the namespaces held so
// far, for deleteGroup. The reaper's slot must be locked.
func (r *linkReaper) take() (names []string, holders []*os.File) {
	names, holders = r.names, r.holders
	r.names, r.holders = nil, nil
	return names, holders
}

// deleteGroup deletes names, the links put into r's group, and then closes
// holders, the namespaces held open for them. The group is deleted in one
// request only when it holds no other link (a group is the host's, not
// berth's: should another program use the same number, its links are left
// alone and names are deleted one by one).
func (r *linkReaper) deleteGroup(names []string, holders []*os.File) error {
	var errs []error
	defer func() {
		for _, f := range holders {
			errs = append(errs, f.Close())
		}
	}()
	if len(names) == 0 {
		return nil
	}
	links, err := dump(func() ([]netlink.Link, error) { return netlink.LinkList() })
	if err != nil {
		return err
	}
	foreign := slices.ContainsFunc(links, func(l netlink.Link) bool {
		a := l.Attrs()
		return a.Group == r.group && !slices.Contains(names, a.Name)
	})
	if foreign {
		for _, name := range names {
			errs = append(errs, deleteLink(name))
		}
		return errors.Join(errs...)
	}
	req := nl.NewNetlinkRequest(unix.RTM_DELLINK, unix.NLM_F_ACK)
	req.AddData(nl.NewIfInfomsg(unix.AF_UNSPEC))
	req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(r.group)))
	if _, err := req.Execute(unix.NETLINK_ROUTE, 0); err != nil && !errors.Is(err, unix.ENODEV) {
		errs = append(errs, fmt.Errorf("delete links %q: %w", names, err)) // ENODEV: none left
	}
	return errors.Join(errs...)
}

// setGroupDown sets link name down and into link group group, in one
// request, naming the link (no lookup of its index first).
func setGroupDown(name string, group uint32) error {
	req := nl.NewNetlinkRequest(unix.RTM_NEWLINK, unix.NLM_F_ACK)
	msg := nl.NewIfInfomsg(unix.AF_UNSPEC)
	msg.Change = unix.IFF_UP
	msg.Flags = 0
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFLA_IFNAME, nl.ZeroTerminated(name)))
	req.AddData(nl.NewRtAttr(unix.IFLA_GROUP, nl.Uint32Attr(group)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}
