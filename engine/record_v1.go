package engine

import (
	"cmp"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/netmgr/portmap"
)

// recordV1 is container.json of version 1, which differs from version 2
// only in config.ports: each port's text as the caller gave it, parsed when
// the container started ({"host_ip":"127.0.0.1","host_port":"8080-8090",
// "container_port":80,"protocol":"tcp"}). Its fields shadow those of the
// embedded record and config.
type recordV1 struct {
	record
	Config struct {
		ContainerConfig
		Ports []portV1 `json:"ports,omitempty"`
	} `json:"config"`
}

// portV1 is a published port of a version 1 record.
type portV1 struct {
	HostIP        string `json:"host_ip,omitempty"`   // "": every address
	HostPort      string `json:"host_port,omitempty"` // "", "8080" or "8080-8090"; "": ephemeral
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol,omitempty"` // "": tcp
}

// upgrade is the record of this version, its ports parsed as the berth that
// wrote it parsed them when the container started. A port that does not
// parse (that berth refused to start the container) leaves the record
// readable, so the container can still be inspected and removed: Start
// returns the error (record.portsErr).
func (r *recordV1) upgrade() *record {
	rec := r.record
	rec.Version = recordVersion
	rec.Config = r.Config.ContainerConfig
	rec.Config.Ports = nil
	var errs []error
	for i, p := range r.Config.Ports {
		m, err := p.mapping()
		if err != nil {
			errs = append(errs, fmt.Errorf("ports[%d]: %w", i, err))
			continue
		}
		rec.Config.Ports = append(rec.Config.Ports, m)
	}
	rec.portsErr = errors.Join(errs...)
	return &rec
}

// mapping parses p; an empty protocol is tcp, as the engine of version 1
// made it.
func (p portV1) mapping() (netmgr.PortMapping, error) {
	return portmap.Parse(p.HostIP, p.HostPort, p.ContainerPort, cmp.Or(p.Protocol, string(portmap.TCP)))
}
