package main

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-dev/berth/engine"
)

// The rows of the list commands, with docker's (and docker compose's)
// field names: a row's methods are what a --format template reads, and its
// JSON is theirs (marshalMethods). Each wraps a dockerapi document.

// containerRow is a line of `container ls` (docker ps).
type containerRow struct {
	s     container.Summary
	trunc bool      // not --no-trunc: short IDs, commands cut at 20
	now   time.Time // RunningFor is worded at now
}

var containerHeader = headerFields{
	"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
	"HealthStatus": "HEALTH STATUS",
}

const containerTable = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

func (r containerRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r containerRow) ID() string {
	if r.trunc {
		return shortID(r.s.ID)
	}
	return r.s.ID
}

func (r containerRow) Names() string {
	names := make([]string, len(r.s.Names))
	for i, n := range r.s.Names {
		names[i] = strings.TrimPrefix(n, "/")
	}
	return strings.Join(names, ",")
}

func (r containerRow) Image() string {
	if r.s.Image == "" {
		return "<no image>"
	}
	return r.s.Image
}

func (r containerRow) Command() string {
	if r.trunc {
		return strconv.Quote(ellipsis(r.s.Command, 20))
	}
	return strconv.Quote(r.s.Command)
}

func (r containerRow) CreatedAt() string { return time.Unix(r.s.Created, 0).String() }

func (r containerRow) RunningFor() string { return ago(r.now, time.Unix(r.s.Created, 0)) }

func (r containerRow) Ports() string { return displayablePorts(r.s.Ports) }

func (r containerRow) State() string { return string(r.s.State) }

func (r containerRow) Status() string { return r.s.Status }

// Size is docker's: the writable layer's size, and with the image's the
// virtual size.
func (r containerRow) Size() string {
	rw := units.HumanSizeWithPrecision(float64(r.s.SizeRw), 3)
	if r.s.SizeRootFs > 0 {
		return fmt.Sprintf("%s (virtual %s)", rw, units.HumanSizeWithPrecision(float64(r.s.SizeRootFs), 3))
	}
	return rw
}

func (r containerRow) Labels() string { return joinLabels(r.s.Labels) }

func (r containerRow) Label(name string) string { return r.s.Labels[name] }

func (r containerRow) Mounts() string {
	var names []string
	for _, m := range r.s.Mounts {
		n := m.Name
		if n == "" {
			n = m.Source
		}
		if r.trunc {
			n = ellipsis(n, 15)
		}
		names = append(names, n)
	}
	return strings.Join(names, ",")
}

func (r containerRow) LocalVolumes() string {
	n := 0
	for _, m := range r.s.Mounts {
		if m.Driver == "local" {
			n++
		}
	}
	return strconv.Itoa(n)
}

func (r containerRow) Networks() string {
	if r.s.NetworkSettings == nil {
		return ""
	}
	return strings.Join(slices.Sorted(maps.Keys(r.s.NetworkSettings.Networks)), ",")
}

func (r containerRow) HealthStatus() string {
	if r.s.Health == nil || r.s.Health.Status == container.NoHealthcheck {
		return ""
	}
	return string(r.s.Health.Status)
}

// composeRow is a line of compose `ps`, with docker compose's fields.
type composeRow struct {
	c          containerRow
	name       string
	project    string
	service    string
	exitCode   int
	publishers []engine.Publisher
}

var composeHeader = headerFields{
	"ID": "CONTAINER ID", "Name": "NAME", "Names": "NAMES", "Project": "PROJECT", "Service": "SERVICE",
	"Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
	"State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS", "Health": "HEALTH",
	"ExitCode": "EXIT CODE", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
	"Publishers": "PUBLISHERS",
}

const composeTable = "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}"

func (r composeRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r composeRow) ID() string                     { return r.c.ID() }
func (r composeRow) Name() string                   { return r.name }
func (r composeRow) Names() string                  { return r.c.Names() }
func (r composeRow) Project() string                { return r.project }
func (r composeRow) Service() string                { return r.service }
func (r composeRow) Image() string                  { return r.c.s.Image }
func (r composeRow) Command() string                { return r.c.Command() }
func (r composeRow) CreatedAt() string              { return r.c.CreatedAt() }
func (r composeRow) RunningFor() string             { return r.c.RunningFor() }
func (r composeRow) ExitCode() int                  { return r.exitCode }
func (r composeRow) State() string                  { return r.c.State() }
func (r composeRow) Status() string                 { return r.c.Status() }
func (r composeRow) Health() string                 { return r.c.HealthStatus() }
func (r composeRow) Publishers() []engine.Publisher { return r.publishers }
func (r composeRow) Ports() string                  { return r.c.Ports() }
func (r composeRow) Labels() string                 { return r.c.Labels() }
func (r composeRow) Label(name string) string       { return r.c.Label(name) }
func (r composeRow) Mounts() string                 { return r.c.Mounts() }
func (r composeRow) LocalVolumes() string           { return r.c.LocalVolumes() }
func (r composeRow) Networks() string               { return r.c.Networks() }
func (r composeRow) Size() string                   { return r.c.Size() }

// imageRow is a line of `image ls`: one per name of an image.
type imageRow struct {
	s          imagetypes.Summary
	repo, tag  string
	trunc      bool
	now        time.Time
	digestOnly string // the digest of repo, "" for none
}

var imageHeader = headerFields{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST", "CreatedSince": "CREATED",
	"CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
	"SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

const imageTable = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

// imageRows splits an image into its names, as docker image ls does;
// an image without one is <none> <none>.
func imageRows(s imagetypes.Summary, trunc bool, now time.Time) []imageRow {
	if len(s.RepoTags) == 0 {
		return []imageRow{{s: s, repo: "<none>", tag: "<none>", trunc: trunc, now: now}}
	}
	var rows []imageRow
	for _, ref := range s.RepoTags {
		repo, tag := splitRepoTag(ref)
		r := imageRow{s: s, repo: repo, tag: tag, trunc: trunc, now: now}
		for _, d := range s.RepoDigests {
			if dr, dg, ok := strings.Cut(d, "@"); ok && dr == repo {
				r.digestOnly = dg
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func (r imageRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r imageRow) ID() string {
	if r.trunc {
		return shortID(r.s.ID)
	}
	return r.s.ID
}

func (r imageRow) Repository() string { return r.repo }
func (r imageRow) Tag() string        { return r.tag }

func (r imageRow) Digest() string {
	if r.digestOnly == "" {
		return "<none>"
	}
	return r.digestOnly
}

// CreatedSince is "N/A" for an image without a creation date, as docker's.
func (r imageRow) CreatedSince() string {
	if r.s.Created == 0 {
		return "N/A"
	}
	return ago(r.now, time.Unix(r.s.Created, 0))
}

func (r imageRow) CreatedAt() string {
	if r.s.Created == 0 {
		return ""
	}
	return time.Unix(r.s.Created, 0).String()
}

func (r imageRow) Size() string        { return units.HumanSizeWithPrecision(float64(r.s.Size), 3) }
func (r imageRow) VirtualSize() string { return r.Size() }

func (r imageRow) Containers() string {
	if r.s.Containers < 0 {
		return "N/A"
	}
	return strconv.FormatInt(r.s.Containers, 10)
}

func (r imageRow) SharedSize() string {
	if r.s.SharedSize < 0 {
		return "N/A"
	}
	return units.HumanSizeWithPrecision(float64(r.s.SharedSize), 3)
}

func (r imageRow) UniqueSize() string {
	if r.s.SharedSize < 0 {
		return "N/A"
	}
	return units.HumanSizeWithPrecision(float64(r.s.Size-r.s.SharedSize), 3)
}

// networkRow is a line of `network ls`.
type networkRow struct {
	n     network.Summary
	trunc bool
}

var networkHeader = headerFields{
	"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv4": "IPV4", "IPv6": "IPV6",
	"Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED",
}

const networkTable = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"

func (r networkRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r networkRow) ID() string {
	if r.trunc {
		return shortID(r.n.ID)
	}
	return r.n.ID
}

func (r networkRow) Name() string             { return r.n.Name }
func (r networkRow) Driver() string           { return r.n.Driver }
func (r networkRow) Scope() string            { return r.n.Scope }
func (r networkRow) IPv4() string             { return strconv.FormatBool(r.n.EnableIPv4) }
func (r networkRow) IPv6() string             { return strconv.FormatBool(r.n.EnableIPv6) }
func (r networkRow) Internal() string         { return strconv.FormatBool(r.n.Internal) }
func (r networkRow) Labels() string           { return joinLabels(r.n.Labels) }
func (r networkRow) Label(name string) string { return r.n.Labels[name] }
func (r networkRow) CreatedAt() string        { return r.n.Created.String() }

// volumeRow is a line of `volume ls`.
type volumeRow struct{ v volume.Volume }

var volumeHeader = headerFields{
	"Name": "VOLUME NAME", "Driver": "DRIVER", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT", "Labels": "LABELS",
	"Links": "LINKS", "Size": "SIZE", "Group": "GROUP", "Availability": "AVAILABILITY", "Status": "STATUS",
}

const volumeTable = "table {{.Driver}}\t{{.Name}}"

func (r volumeRow) MarshalJSON() ([]byte, error) { return marshalMethods(r) }

func (r volumeRow) Name() string             { return r.v.Name }
func (r volumeRow) Driver() string           { return r.v.Driver }
func (r volumeRow) Scope() string            { return r.v.Scope }
func (r volumeRow) Mountpoint() string       { return r.v.Mountpoint }
func (r volumeRow) Labels() string           { return joinLabels(r.v.Labels) }
func (r volumeRow) Label(name string) string { return r.v.Labels[name] }
func (r volumeRow) Links() string            { return "N/A" }
func (r volumeRow) Size() string             { return "N/A" }
func (r volumeRow) Group() string            { return "N/A" }
func (r volumeRow) Availability() string     { return "N/A" }
func (r volumeRow) Status() string           { return "N/A" }

// ago is docker's "2 hours ago".
func ago(now, t time.Time) string { return units.HumanDuration(now.Sub(t)) + " ago" }

// ellipsis cuts s to n characters, the last one "…", as docker's tables do.
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

func joinLabels(l map[string]string) string {
	parts := make([]string, 0, len(l))
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ",")
}

// displayablePorts is docker's PORTS column: ports published on the same
// host port as the container's grouped into ranges
// ("0.0.0.0:8000-8001->8000-8001/tcp"), others one by one
// ("127.0.0.1:18080->80/tcp"), unpublished ones as "80/tcp".
func displayablePorts(ports []container.PortSummary) string {
	type group struct{ first, last uint16 }
	ports = slices.Clone(ports)
	slices.SortFunc(ports, func(a, b container.PortSummary) int {
		if a.PrivatePort != b.PrivatePort {
			return int(a.PrivatePort) - int(b.PrivatePort)
		}
		if a.IP != b.IP {
			return strings.Compare(a.IP.String(), b.IP.String())
		}
		if a.PublicPort != b.PublicPort {
			return int(a.PublicPort) - int(b.PublicPort)
		}
		return strings.Compare(a.Type, b.Type)
	})
	groups := map[string]*group{}
	var keys, result, mappings []string
	for _, p := range ports {
		key := p.Type
		if p.IP.IsValid() {
			if p.PublicPort != p.PrivatePort {
				mappings = append(mappings, fmt.Sprintf("%s->%d/%s", net.JoinHostPort(p.IP.String(), strconv.Itoa(int(p.PublicPort))), p.PrivatePort, p.Type))
				continue
			}
			key = p.IP.String() + "/" + p.Type
		}
		g := groups[key]
		switch {
		case g == nil:
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
			keys = append(keys, key)
		case p.PrivatePort == g.last+1:
			g.last = p.PrivatePort
		default:
			result = append(result, portGroup(key, g.first, g.last))
			groups[key] = &group{p.PrivatePort, p.PrivatePort}
		}
	}
	for _, k := range keys {
		result = append(result, portGroup(k, groups[k].first, groups[k].last))
	}
	return strings.Join(append(result, mappings...), ", ")
}

func portGroup(key string, first, last uint16) string {
	ip, proto, hasIP := strings.Cut(key, "/")
	if !hasIP {
		ip, proto = "", key
	}
	ports := strconv.Itoa(int(first))
	if first != last {
		ports += "-" + strconv.Itoa(int(last))
	}
	if ip != "" {
		ports = net.JoinHostPort(ip, ports) + "->" + ports
	}
	return ports + "/" + proto
}

// composeImage is a line of compose `images`, with docker compose's fields
// (its JSON is theirs too).
type composeImage struct {
	ID            string    `json:"ID"`
	ContainerName string    `json:"ContainerName"`
	Repository    string    `json:"Repository"`
	Tag           string    `json:"Tag"`
	Platform      string    `json:"Platform"`
	Size          int64     `json:"Size"`
	Created       time.Time `json:"Created,omitzero"`
	now           time.Time
}

var composeImageHeader = headerFields{
	"ID": "IMAGE ID", "ContainerName": "CONTAINER", "Repository": "REPOSITORY", "Tag": "TAG",
	"Platform": "PLATFORM", "Size": "SIZE", "Created": "CREATED",
	"ShortID": "IMAGE ID", "HumanSize": "SIZE", "CreatedSince": "CREATED",
}

const composeImageTable = "table {{.ContainerName}}\t{{.Repository}}\t{{.Tag}}\t{{.Platform}}\t{{.ShortID}}\t{{.HumanSize}}\t{{.CreatedSince}}"

// ShortID, HumanSize and CreatedSince are the table's columns.
func (r composeImage) ShortID() string { return shortID(r.ID) }

// HumanSize: see ShortID.
func (r composeImage) HumanSize() string { return units.HumanSizeWithPrecision(float64(r.Size), 3) }

// CreatedSince: see ShortID.
func (r composeImage) CreatedSince() string {
	if r.Created.IsZero() {
		return "N/A"
	}
	return ago(r.now, r.Created)
}
