package netmgr

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/containerd/errdefs"
)

// subnetBits is the size of the subnets handed out from the pool.
const subnetBits = 24

// maxSubnetBits is the longest prefix a network may have: /30 leaves a
// gateway and one container.
const maxSubnetBits = 30

// planSubnet chooses the subnet and gateway of a new network, given the
// other berth networks and the host's routes and addresses. It is pure.
func planSubnet(cfg NetworkConfig, pool netip.Prefix, nets []*Network, host []netip.Prefix) (netip.Prefix, netip.Addr, error) {
	var subnet netip.Prefix
	if cfg.Subnet.IsValid() {
		if err := checkSubnet(cfg.Name, cfg.Subnet, nets, host); err != nil {
			return netip.Prefix{}, netip.Addr{}, err
		}
		subnet = cfg.Subnet.Masked()
	} else {
		if cfg.Gateway.IsValid() {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: gateway %s given without a subnet: %w", cfg.Name, cfg.Gateway, errdefs.ErrInvalidArgument)
		}
		taken := make([]netip.Prefix, 0, len(nets)+len(host))
		for _, n := range nets {
			taken = append(taken, n.Subnet)
		}
		taken = append(taken, host...)
		s, err := pickSubnet(pool, taken)
		if err != nil {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: pool %s: %w", cfg.Name, pool, err)
		}
		subnet = s
	}
	gw := cfg.Gateway
	if !gw.IsValid() {
		gw = subnet.Addr().Next()
	} else if !isHostAddr(subnet, gw) {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: gateway %s is not a host address of subnet %s: %w", cfg.Name, gw, subnet, errdefs.ErrInvalidArgument)
	}
	return subnet, gw, nil
}

// checkSubnet validates a subnet asked for by network name: an IPv4 prefix of
// at most /30 (errdefs.ErrInvalidArgument) overlapping neither another berth
// network nor a host prefix (errdefs.ErrConflict naming both).
func checkSubnet(name string, subnet netip.Prefix, nets []*Network, host []netip.Prefix) error {
	if !subnet.Addr().Is4() || subnet.Bits() > maxSubnetBits {
		return fmt.Errorf("network %q: subnet %s: must be an IPv4 prefix of at most /%d: %w", name, subnet, maxSubnetBits, errdefs.ErrInvalidArgument)
	}
	for _, n := range nets {
		if n.Subnet.Overlaps(subnet) {
			return fmt.Errorf("network %q: subnet %s overlaps network %q (%s): %w", name, subnet, n.Name, n.Subnet, errdefs.ErrConflict)
		}
	}
	for _, h := range host {
		if h.Overlaps(subnet) {
			return fmt.Errorf("network %q: subnet %s overlaps host route or address %s: %w", name, subnet, h, errdefs.ErrConflict)
		}
	}
	return nil
}

// pickSubnet returns the first /24 of pool (or pool itself, if it is smaller)
// that overlaps none of taken. ErrSubnetExhausted if there is none.
func pickSubnet(pool netip.Prefix, taken []netip.Prefix) (netip.Prefix, error) {
	pool = pool.Masked()
	bits := max(subnetBits, pool.Bits())
	base := addrToU32(pool.Addr())
	count := uint64(1) << (bits - pool.Bits())
	step := uint64(1) << (32 - bits)
next:
	for i := range count {
		p := netip.PrefixFrom(u32ToAddr(uint32(uint64(base)+i*step)), bits)
		for _, t := range taken {
			if t.Overlaps(p) {
				continue next
			}
		}
		return p, nil
	}
	return netip.Prefix{}, ErrSubnetExhausted
}

// pickAddrIn is pickAddr, allocating from ipRange (when valid) rather than
// all of subnet; a wanted address may be anywhere in subnet.
func pickAddrIn(subnet, ipRange netip.Prefix, gw netip.Addr, used map[netip.Addr]bool, want netip.Addr) (netip.Addr, error) {
	if want.IsValid() || !ipRange.IsValid() {
		return pickAddr(subnet, gw, used, want)
	}
	for a := ipRange.Masked().Addr(); ipRange.Contains(a); a = a.Next() {
		if isHostAddr(subnet, a) && a != gw && !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("ip_range %s: %w", ipRange, ErrAddressExhausted)
}

// pickAddr allocates an address in subnet that is neither the gateway nor in
// used. want, when valid, is the only candidate: errdefs.ErrInvalidArgument if
// it is not a host address of subnet, errdefs.ErrConflict if it is taken.
// Otherwise the lowest free address is returned, or ErrAddressExhausted.
func pickAddr(subnet netip.Prefix, gw netip.Addr, used map[netip.Addr]bool, want netip.Addr) (netip.Addr, error) {
	if want.IsValid() {
		switch {
		case !isHostAddr(subnet, want):
			return netip.Addr{}, fmt.Errorf("address %s is not a host address of subnet %s: %w", want, subnet, errdefs.ErrInvalidArgument)
		case want == gw:
			return netip.Addr{}, fmt.Errorf("address %s is the gateway: %w", want, errdefs.ErrConflict)
		case used[want]:
			return netip.Addr{}, fmt.Errorf("address %s is in use: %w", want, errdefs.ErrConflict)
		}
		return want, nil
	}
	for a := subnet.Masked().Addr().Next(); isHostAddr(subnet, a); a = a.Next() {
		if a != gw && !used[a] {
			return a, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("subnet %s: %w", subnet, ErrAddressExhausted)
}

// isHostAddr reports whether a is an IPv4 address in subnet other than its
// network and broadcast addresses.
func isHostAddr(subnet netip.Prefix, a netip.Addr) bool {
	if !a.Is4() || !subnet.Addr().Is4() || !subnet.Contains(a) {
		return false
	}
	subnet = subnet.Masked()
	hostMask := uint32(1)<<(32-subnet.Bits()) - 1
	v := addrToU32(a) & hostMask
	return v != 0 && v != hostMask
}

func addrToU32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func u32ToAddr(v uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return netip.AddrFrom4(b)
}
