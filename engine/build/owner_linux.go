package build

import "github.com/berth-dev/berth/engine/internal/ctrstate"

// Scratch files and RUN containers carry their builder's owner (see
// ctrstate.Self), so that the next build can tell what a killed one left.
var (
	self       = ctrstate.Self
	ownerAlive = ctrstate.OwnerAlive
)
