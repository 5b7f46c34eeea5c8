package engine

import "context"

// NetworksInUse names the networks containers (running or not) are
// attached to, as Docker counts a network in use for prune.
func (e *Engine) NetworksInUse(ctx context.Context) ([]string, error) {
	ctrs, err := e.List(ctx, nil)
	if err != nil {
		return nil, err
	}
	var used []string
	for _, c := range ctrs {
		for _, nc := range c.Config.Networks {
			used = append(used, nc.Network)
		}
	}
	return used, nil
}
