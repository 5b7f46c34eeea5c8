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

// subnetBits6 is the size of the IPv6 subnets handed out from Pool6, and
// the longest Pool6 may be.
const subnetBits6 = 64

// maxSubnetBits6 is the longest IPv6 prefix a network may have: /126
// leaves the subnet-router anycast address, a gateway and two containers.
const maxSubnetBits6 = 126

// maxPoolCandidates bounds the subnets of a pool that are tried: only the
// first 65536 /64s of a wide IPv6 pool are ever handed out.
const maxPoolCandidates = 1 << 16

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
		s, err := pickSubnetOf(pool, subnetBits, taken)
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

// planSubnet6 chooses the IPv6 subnet and gateway of a new network (both
// zero without EnableIPv6), as planSubnet does for IPv4: Subnet6 if given,
// else the first /64 of pool6 that overlaps neither another berth network's
// IPv6 subnet nor a host prefix. It is pure.
func planSubnet6(cfg NetworkConfig, pool6 netip.Prefix, nets []*Network, host []netip.Prefix) (netip.Prefix, netip.Addr, error) {
	if !cfg.EnableIPv6 {
		if cfg.Subnet6.IsValid() || cfg.Gateway6.IsValid() || cfg.IPRange6.IsValid() {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: an IPv6 subnet, gateway or ip_range needs enable_ipv6: %w", cfg.Name, errdefs.ErrInvalidArgument)
		}
		return netip.Prefix{}, netip.Addr{}, nil
	}
	var subnet netip.Prefix
	if cfg.Subnet6.IsValid() {
		if err := checkSubnet6(cfg.Name, cfg.Subnet6, nets, host); err != nil {
			return netip.Prefix{}, netip.Addr{}, err
		}
		subnet = cfg.Subnet6.Masked()
	} else {
		if cfg.Gateway6.IsValid() {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: IPv6 gateway %s given without an IPv6 subnet: %w", cfg.Name, cfg.Gateway6, errdefs.ErrInvalidArgument)
		}
		taken := make([]netip.Prefix, 0, len(nets)+len(host))
		for _, n := range nets {
			if n.Subnet6.IsValid() {
				taken = append(taken, n.Subnet6)
			}
		}
		taken = append(taken, host...)
		s, err := pickSubnetOf(pool6, subnetBits6, taken)
		if err != nil {
			return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: pool %s: %w", cfg.Name, pool6, err)
		}
		subnet = s
	}
	gw := cfg.Gateway6
	if !gw.IsValid() {
		gw = subnet.Addr().Next()
	} else if !isHostAddr(subnet, gw) {
		return netip.Prefix{}, netip.Addr{}, fmt.Errorf("network %q: IPv6 gateway %s is not a host address of subnet %s: %w", cfg.Name, gw, subnet, errdefs.ErrInvalidArgument)
	}
	return subnet, gw, nil
}

// checkIPRange validates the ip_range (field names it) of a network: zero,
// or a prefix inside subnet.
func checkIPRange(name, field string, r, subnet netip.Prefix) error {
	if !r.IsValid() {
		return nil
	}
	if !subnet.IsValid() || r.Addr().Is4() != subnet.Addr().Is4() || r.Bits() < subnet.Bits() || !subnet.Contains(r.Addr()) {
		return fmt.Errorf("network %q: %s %s is not inside subnet %s: %w", name, field, r, subnet, errdefs.ErrInvalidArgument)
	}
	return nil
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
	return checkHostOverlap(name, subnet, host)
}

// checkSubnet6 is checkSubnet for an IPv6 subnet (at most /126).
func checkSubnet6(name string, subnet netip.Prefix, nets []*Network, host []netip.Prefix) error {
	if !subnet.Addr().Is6() || subnet.Addr().Is4In6() || subnet.Bits() > maxSubnetBits6 {
		return fmt.Errorf("network %q: subnet %s: must be an IPv6 prefix of at most /%d: %w", name, subnet, maxSubnetBits6, errdefs.ErrInvalidArgument)
	}
	for _, n := range nets {
		if n.Subnet6.IsValid() && n.Subnet6.Overlaps(subnet) {
			return fmt.Errorf("network %q: subnet %s overlaps network %q (%s): %w", name, subnet, n.Name, n.Subnet6, errdefs.ErrConflict)
		}
	}
	return checkHostOverlap(name, subnet, host)
}

// checkHostOverlap is errdefs.ErrConflict if subnet overlaps a host prefix.
func checkHostOverlap(name string, subnet netip.Prefix, host []netip.Prefix) error {
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
	return pickSubnetOf(pool, subnetBits, taken)
}

// pickSubnetOf returns the first /size of pool (or pool itself, if it is
// smaller) that overlaps none of taken, trying at most maxPoolCandidates.
// ErrSubnetExhausted if there is none. Any address family.
func pickSubnetOf(pool netip.Prefix, size int, taken []netip.Prefix) (netip.Prefix, error) {
	pool = pool.Masked()
	bits := max(size, pool.Bits())
	hostBits := pool.Addr().BitLen() - bits
	count := uint64(maxPoolCandidates)
	if bits-pool.Bits() < 16 {
		count = uint64(1) << (bits - pool.Bits())
	}
next:
	for i := range count {
		p := netip.PrefixFrom(addrAdd(pool.Addr(), hostBits, i), bits)
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

// isHostAddr reports whether a is an address in subnet other than its
// network and (IPv4) broadcast addresses. In an IPv6 subnet the first
// address is the subnet-router anycast address; there is no broadcast.
func isHostAddr(subnet netip.Prefix, a netip.Addr) bool {
	if subnet.Addr().Is6() {
		return a.Is6() && !a.Is4In6() && subnet.Contains(a) && a != subnet.Masked().Addr()
	}
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

// addrAdd returns a + i<<shift (shift < the address's bit length, the sum
// assumed to stay in range, as for the subnets of a pool).
func addrAdd(a netip.Addr, shift int, i uint64) netip.Addr {
	if a.Is4() {
		return u32ToAddr(addrToU32(a) + uint32(i<<shift))
	}
	b := a.As16()
	hi, lo := binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
	var dhi, dlo uint64
	switch {
	case shift >= 64:
		dhi = i << (shift - 64)
	case shift == 0:
		dlo = i
	default:
		dlo, dhi = i<<shift, i>>(64-shift)
	}
	lo2 := lo + dlo
	if lo2 < lo {
		dhi++
	}
	binary.BigEndian.PutUint64(b[:8], hi+dhi)
	binary.BigEndian.PutUint64(b[8:], lo2)
	return netip.AddrFrom16(b)
}

// usedAddrs are the addresses of n no new endpoint may have: its
// endpoints' and its auxiliary addresses.
func usedAddrs(n *Network) map[netip.Addr]bool {
	used := make(map[netip.Addr]bool, 2*len(n.Endpoints)+len(n.AuxAddresses))
	for _, a := range n.AuxAddresses {
		used[a] = true
	}
	for _, ep := range n.Endpoints {
		used[ep.Addr] = true
		if ep.Addr6.IsValid() {
			used[ep.Addr6] = true
		}
	}
	return used
}
