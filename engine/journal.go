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
// start, kill, stop, pause, unpause, rename, destroy and network
// connect/disconnect; the shim their die (and start after a restart);
// netmgr and volmgr their networks and volumes.
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
// from) a network, as Docker's.
func (e *Engine) networkEvent(ctx context.Context, action, network string, id ContainerID) {
	netID := network
	if e.nets != nil {
		if n, err := e.nets.Get(ctx, network); err == nil {
			netID = n.ID
		}
	}
	e.events.Record(ctx, e.log, eventlog.Event{Type: "network", Action: action, ID: netID, Name: network,
		Attributes: map[string]string{"container": string(id), "type": "bridge"}})
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
