package engine

import (
	"context"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/internal/eventlog"
)

// Events is the state root's event journal (<root>/events): what every
// berth process did to containers, networks, volumes and images, as
// `GET /events` reports it. The engine records its containers' create,
// start, kill, stop, pause, unpause, rename, destroy and network
// connect/disconnect; the shim their die (and start after a restart);
// netmgr and volmgr their networks and volumes.
func (e *Engine) Events() *eventlog.Log { return e.events }

// ContainerEventAttrs are the attributes of an event about a container,
// as Docker's: its labels, image and name.
func ContainerEventAttrs(c ContainerConfig, kv ...string) map[string]string {
	return eventlog.Attrs(c.Labels, append([]string{"image", c.Image, "name", c.Name}, kv...)...)
}

// containerEvent records action on rec's container, with more attributes
// kv (key, value, …).
func (e *Engine) containerEvent(ctx context.Context, action string, rec *record, kv ...string) {
	e.events.Record(ctx, e.log, "container", action, string(rec.ID), ContainerEventAttrs(rec.Config, kv...))
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
	e.events.Record(ctx, e.log, "network", action, netID, map[string]string{"container": string(id), "name": network, "type": "bridge"})
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
