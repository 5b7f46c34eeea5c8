package netmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/berth-dev/berth/internal/atomicfile"
	"github.com/berth-dev/berth/internal/flock"
	"github.com/berth-dev/berth/internal/smallfile"
	"github.com/containerd/errdefs"
)

const recordExt = ".json"

func (m *Manager) networksDir() string { return recordsDir(m.opt.Root) }

// recordsDir is where the network records of root live.
func recordsDir(root string) string { return filepath.Join(root, "networks") }

func (m *Manager) recordPath(name string) string {
	return filepath.Join(m.networksDir(), name+recordExt)
}

// lock takes the network lock, which guards every record, the IPAM and the
// sandbox files.
func (m *Manager) lock(ctx context.Context) (func(), error) {
	unlock, err := flock.Lock(ctx, filepath.Join(m.networksDir(), "lock"))
	if err != nil {
		return nil, fmt.Errorf("network lock: %w", err)
	}
	return unlock, nil
}

// readRecord reads the network's record. errdefs.ErrNotFound if there is none.
func (m *Manager) readRecord(name string) (*Network, error) {
	return readRecordIn(m.networksDir(), name)
}

// readRecordIn reads the record of network name in the records directory
// dir. It takes no lock: records are replaced atomically.
func readRecordIn(dir, name string) (*Network, error) {
	p, b, err := readRecordBytes(dir, name)
	if err != nil {
		return nil, err
	}
	return decodeRecord(p, name, b)
}

// readBriefIn is readRecordIn of the record in brief.
func readBriefIn(dir, name string) (*recordBrief, error) {
	p, b, err := readRecordBytes(dir, name)
	if err != nil {
		return nil, err
	}
	return decodeBrief(p, name, b)
}

// readRecordBytes reads the record file of network name in dir, and
// returns its path and content.
func readRecordBytes(dir, name string) (string, []byte, error) {
	p := filepath.Join(dir, name+recordExt)
	b, err := smallfile.Read(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", nil, fmt.Errorf("network %q: %w", name, errdefs.ErrNotFound)
		}
		return "", nil, fmt.Errorf("network %q: %w", name, err)
	}
	return p, b, nil
}

// decodeRecord parses a record read from path, which must be the record of
// the network name. An unknown version is errdefs.ErrNotImplemented, a corrupt
// record errdefs.ErrDataLoss; both name the path. A record of this version
// is decoded once, as one; any other is told apart by its version alone
// (undecodable).
func decodeRecord(path, name string, b []byte) (*Network, error) {
	var n Network
	if err := json.Unmarshal(b, &n); err != nil || n.Version != recordVersion {
		return nil, undecodable(path, b, err)
	}
	if err := checkHead(path, name, &n); err != nil {
		return nil, err
	}
	for id, ep := range n.Endpoints {
		if ep.Sandbox != id || !n.Subnet.Contains(ep.Addr) || !strings.HasPrefix(ep.HostVeth, "vb") {
			return nil, fmt.Errorf("network record %s: corrupt: endpoint %q: %w", path, id, errdefs.ErrDataLoss)
		}
	}
	return &n, nil
}

// recordBrief is a network's record with its endpoints in brief: which
// sandboxes are connected, their host veths and whether they publish
// ports, not their addresses, names or the ports themselves. It is for a
// caller that reads the record without writing it back: decoding it costs
// a fraction of decoding the whole record, and both grow with the number
// of endpoints, which a Connect or RemoveSandbox of each of a project's
// containers reads in turn. Network.Endpoints stays nil.
type recordBrief struct {
	Network
	Endpoints map[string]endpointBrief `json:"endpoints,omitempty"`
}

// endpointBrief is an Endpoint in brief, under the same keys.
type endpointBrief struct {
	HostVeth string     `json:"host_veth"`
	Ports    []struct{} `json:"ports,omitempty"` // as many as the endpoint's, contents not decoded
}

// decodeBrief is decodeRecord of the record in brief, with the same
// errors; the endpoints' addresses are not checked.
func decodeBrief(path, name string, b []byte) (*recordBrief, error) {
	var r recordBrief
	if err := json.Unmarshal(b, &r); err != nil || r.Version != recordVersion {
		if _, ferr := decodeRecord(path, name, b); ferr != nil {
			return nil, ferr
		}
		return nil, undecodable(path, b, err)
	}
	if err := checkHead(path, name, &r.Network); err != nil {
		return nil, err
	}
	for id, ep := range r.Endpoints {
		if !strings.HasPrefix(ep.HostVeth, "vb") {
			return nil, fmt.Errorf("network record %s: corrupt: endpoint %q: %w", path, id, errdefs.ErrDataLoss)
		}
	}
	return &r, nil
}

// undecodable is the error of a record read from path that did not decode
// as a record of recordVersion: with err, the decoding's error; without,
// it decoded but is of another version.
func undecodable(path string, b []byte, err error) error {
	var v struct {
		Version *int `json:"version"`
	}
	if verr := json.Unmarshal(b, &v); verr != nil {
		return fmt.Errorf("network record %s: corrupt: %w: %w", path, verr, errdefs.ErrDataLoss)
	}
	if v.Version == nil {
		return fmt.Errorf("network record %s: corrupt: no version: %w", path, errdefs.ErrDataLoss)
	}
	if *v.Version != recordVersion {
		return fmt.Errorf("network record %s: version %d not supported (want %d): %w", path, *v.Version, recordVersion, errdefs.ErrNotImplemented)
	}
	if err == nil {
		err = errors.New("does not decode")
	}
	return fmt.Errorf("network record %s: corrupt: %w: %w", path, err, errdefs.ErrDataLoss)
}

// checkHead checks what a record read from path says of the network
// itself, which must be name.
func checkHead(path, name string, n *Network) error {
	switch {
	case n.Name != name:
		return fmt.Errorf("network record %s: corrupt: holds network %q: %w", path, n.Name, errdefs.ErrDataLoss)
	case !isID(n.ID) || !validBridgeName(n.Bridge):
		return fmt.Errorf("network record %s: corrupt: bad id %q or bridge %q: %w", path, n.ID, n.Bridge, errdefs.ErrDataLoss)
	case !n.Subnet.IsValid() || !n.Subnet.Contains(n.Gateway):
		return fmt.Errorf("network record %s: corrupt: gateway %s not in subnet %s: %w", path, n.Gateway, n.Subnet, errdefs.ErrDataLoss)
	}
	return nil
}

// readAll reads every record, sorted by name. Any unreadable record fails the
// whole read: skipping it would hand out its subnet and addresses again.
func (m *Manager) readAll() ([]*Network, error) {
	return readAllIn(m.networksDir())
}

// readAllIn reads every record in the records directory dir, sorted by name.
func readAllIn(dir string) ([]*Network, error) {
	return readEach(dir, readRecordIn, func(n *Network) string { return n.Name })
}

// readAllBrief is readAll of the records in brief.
func (m *Manager) readAllBrief() ([]*recordBrief, error) {
	return readEach(m.networksDir(), readBriefIn, func(r *recordBrief) string { return r.Name })
}

// readEach reads every record in the records directory dir with read,
// sorted by name (nameOf).
func readEach[T any](dir string, read func(dir, name string) (*T, error), nameOf func(*T) string) ([]*T, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("networks: %w", err)
	}
	var nets []*T
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), recordExt)
		if !ok || strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		n, err := read(dir, name)
		if errdefs.IsNotFound(err) {
			continue // removed since the listing (a reader without the lock)
		}
		if err != nil {
			return nil, err
		}
		nets = append(nets, n)
	}
	sort.Slice(nets, func(i, j int) bool { return nameOf(nets[i]) < nameOf(nets[j]) })
	return nets, nil
}

// writeRecord atomically replaces the network's record. It is written
// without indentation: every connection of a sandbox writes the record
// whole and reads it more than once, and indented, an endpoint's fields
// took a third more bytes to scan and three times as long to encode.
func (m *Manager) writeRecord(n *Network) error {
	if err := os.MkdirAll(m.networksDir(), 0o700); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	b, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("network %q: encode: %w", n.Name, err)
	}
	if err := atomicfile.WriteFile(m.recordPath(n.Name), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("network %q: %w", n.Name, err)
	}
	return nil
}

// deleteRecord removes the network's record; a missing record counts as
// removed.
func (m *Manager) deleteRecord(name string) error {
	if err := os.Remove(m.recordPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("network %q: %w", name, err)
	}
	// A berth killed while writing the record left its temporary file;
	// the network lock is held, so no writer is live.
	if err := atomicfile.RemoveTemps(m.recordPath(name)); err != nil {
		return fmt.Errorf("network %q: %w", name, err)
	}
	return nil
}
