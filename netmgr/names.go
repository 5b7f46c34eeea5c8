package netmgr

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/containerd/errdefs"
)

// Name prefixes of the host-side links berth creates. Nothing else on the
// host is touched.
const (
	bridgePrefix = "berth"
	vethPrefix   = "vb"
	nameHexLen   = 10 // hex characters after the prefix
	idLen        = 64 // hex characters of a network ID
	maxNameLen   = 128
	maxIfNameLen = 15 // IFNAMSIZ - 1
)

// validateName checks a network name or sandbox ID: 1–128 characters of
// [a-zA-Z0-9_.-], starting with a letter or digit (Docker's rule for
// names). kind names the object in the error.
func validateName(kind, name string) error {
	if !validIdent(name, maxNameLen) {
		return fmt.Errorf("%s %q: invalid name: want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most %d characters: %w", kind, name, maxNameLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

// validateIfName checks an interface name inside a sandbox.
func validateIfName(name string) error {
	if !validIdent(name, maxIfNameLen) {
		return fmt.Errorf("interface %q: invalid name: want [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most %d bytes: %w", name, maxIfNameLen, errdefs.ErrInvalidArgument)
	}
	return nil
}

func validIdent(s string, maxLen int) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// newID returns a random network ID: 64 hex characters.
func newID() (string, error) {
	var b [idLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("network id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// isID reports whether id has the shape newID gives.
func isID(id string) bool {
	if len(id) != idLen {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// bridgeName is the bridge of the network with ID id (a valid ID): "berth"
// and the first 10 hex characters, 15 bytes.
func bridgeName(id string) string {
	return bridgePrefix + id[:nameHexLen]
}

// validBridgeName reports whether name may be a berth bridge: "berth" and
// at most 10 more of [a-zA-Z0-9_.-].
func validBridgeName(name string) bool {
	return strings.HasPrefix(name, bridgePrefix) && len(name) <= maxIfNameLen && validIdent(name, maxIfNameLen)
}

// vethName is the host side of sandbox's veth on the network with ID
// networkID: "vb" and 10 hex characters of a hash of both, 12 bytes.
func vethName(sandbox, networkID string) string {
	sum := sha256.Sum256([]byte(sandbox + "\x00" + networkID))
	return vethPrefix + hex.EncodeToString(sum[:])[:nameHexLen]
}

// macFor derives an interface's MAC address from its IPv4 address as Docker
// does: 02:42 followed by the four bytes of the address.
func macFor(a netip.Addr) net.HardwareAddr {
	b := a.As4()
	return net.HardwareAddr{0x02, 0x42, b[0], b[1], b[2], b[3]}
}

// maxAliasLen is the longest interface alias the kernel keeps (IFALIASZ - 1).
const maxAliasLen = 255

// linkAlias is the alias of a host link berth creates, telling operators (and
// clean-up) whose it is: "berth:<network>" for a bridge,
// "berth:<network>:<sandbox>" for a host-side veth. Truncated to what the
// kernel keeps.
func linkAlias(network, sandbox string) string {
	a := "berth:" + network
	if sandbox != "" {
		a += ":" + sandbox
	}
	if len(a) > maxAliasLen {
		a = a[:maxAliasLen]
	}
	return a
}

// bridgeAlias is the alias of a network's bridge: "berth:<network>@<root>",
// naming the state root whose record the bridge belongs to, so that prune
// can prove a bridge orphaned. Truncated to what the kernel keeps.
func bridgeAlias(network, root string) string {
	return linkAlias(network+"@"+root, "")
}

// parseBridgeAlias reads an alias bridgeAlias made. ok is false for any
// other alias and for one the kernel may have truncated (a root cut short
// proves nothing).
func parseBridgeAlias(alias string) (network, root string, ok bool) {
	rest, found := strings.CutPrefix(alias, "berth:")
	if !found || len(alias) >= maxAliasLen {
		return "", "", false
	}
	network, root, found = strings.Cut(rest, "@")
	if !found || validateName("network", network) != nil || !strings.HasPrefix(root, "/") {
		return "", "", false
	}
	return network, root, true
}
