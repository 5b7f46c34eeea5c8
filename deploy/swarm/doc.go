// Package swarm is deploy's Docker Swarm target: it translates a Compose
// project into Swarm services, overlay networks, configs and secrets as
// `docker stack deploy` names and labels them, and talks to a Swarm
// manager's Engine API over plain HTTP (a unix socket, or tcp with
// optional TLS) with moby's API types.
package swarm
