package netmgr

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// Labels: only networks carrying every pair are removed; a pair with
	// an empty value matches any value of its key.
	Labels map[string]string
	// Keep names networks in use (by containers the caller knows of, even
	// stopped ones, as Docker counts them): never removed.
	Keep []string
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Networks []string // this root's networks, by name, sorted
	Bridges  []string // orphaned bridges (see Prune)
	Veths    []string // host-side veths of orphaned bridges
	Rules    int      // orphaned firewall rules, iptables and ip6tables
}
