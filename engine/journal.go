package engine

import (
	"context"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/eventlog"
)

// Journal is the state root's event journal (<root>/events.jsonl): what
// every berth process did to containers, networks, volumes and images, as
// `GET /events` reports it. The engine records its containers' create,
// kill, stop, pause, unpause, rename, destroy, the die of a run whose shim
// died without recording it (state.go), network connect and disconnect
// (at a run's start and release, and a running container's explicit
// ones), and volume mount and unmount (at a run's start and release); the
// shim their start and die; netmgr and volmgr their networks and volumes.
func (e *Engine) Journal() *eventlog.Log { return e.events }

// ContainerEvent is an event about the container of configuration c with
// ID id, with its name, image and labels, and attrs (key, value, …) of
// its own.
func ContainerEvent(action string, id ContainerID, c ContainerConfig, attrs ...string) eventlog.Event {
	ev := eventlog.Event{Type: "container", Action: action, ID: string(id), Name: c.Name, Image: c.Image, Labels: c.Labels}
	for i := 0; i+1 < len(attrs); i += 2 {
		if ev.Attributes == nil {
			ev.Attributes = map[string]string{}
		}
		ev.Attributes[attrs[i]] = attrs[i+1]
	}
	return ev
}

// containerEvent records action on rec's container, with attributes attrs
// (key, value, …) of its own.
func (e *Engine) containerEvent(ctx context.Context, action string, rec *record, attrs ...string) {
	e.events.Record(ctx, e.log, ContainerEvent(action, rec.ID, rec.Config, attrs...))
}

// networkEvent records a container's connection to (or disconnection
// from) a network, as Docker's. netID is the network's ID as the
// connection recorded it; empty (endpoints recorded by an older berth), it
// is read from the network's record.
func (e *Engine) networkEvent(ctx context.Context, action, network, netID string, id ContainerID) {
	if netID == "" {
		netID = network
		if e.nets != nil {
			if n, err := e.nets.Get(ctx, network); err == nil {
				netID = n.ID
			}
		}
	}
	e.events.Record(ctx, e.log, eventlog.Event{Type: "network", Action: action, ID: netID, Name: network,
		Attributes: map[string]string{"container": string(id), "type": "bridge"}})
}

// runEvents records, as Docker does around a run, the container's joining
// of the networks of eps and mounting of its volumes (join: network
// connect and volume mount events, before the start), or its leaving and
// unmounting of them (network disconnect and volume unmount, as the run's
// resources are released). Docker reports only named and anonymous
// volumes, not binds or tmpfs.
func (e *Engine) runEvents(ctx context.Context, join bool, id ContainerID, eps []endpointRecord, mounts []Mount) {
	netAction, volAction := "disconnect", "unmount"
	if join {
		netAction, volAction = "connect", "mount"
	}
	for _, ep := range eps {
		e.networkEvent(ctx, netAction, ep.Network, ep.NetworkID, id)
	}
	for _, m := range mounts {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		attrs := map[string]string{"driver": "local", "container": string(id)}
		if join {
			attrs["destination"] = m.Target
			attrs["read/write"] = strconv.FormatBool(!m.ReadOnly)
			attrs["propagation"] = ""
		}
		e.events.Record(ctx, e.log, eventlog.Event{Type: "volume", Action: volAction, ID: m.Source, Attributes: attrs})
	}
}

// signalNumber is sig (a name, SIGTERM or TERM, or a number) as the number
// Docker's kill events carry.
func signalNumber(sig string) string {
	if _, err := strconv.Atoi(sig); err == nil {
		return sig
	}
	n := unix.SignalNum(sig)
	if n == 0 {
		n = unix.SignalNum("SIG" + sig)
	}
	if n == 0 {
		return sig
	}
	return strconv.Itoa(int(n))
}
