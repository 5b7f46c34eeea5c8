package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// hashVersion is part of the hashed bytes. Bump it whenever hashInput or
// the way it is filled changes, so that the change is deliberate: every
// container made before is then recreated once.
const hashVersion = "h1"

// hashInput lists exactly the fields of a service whose change requires a
// new container. Scale, depends_on, profiles and pull_policy are left out:
// changing them does not change what runs inside a container. Adding a
// field here is a reviewed decision that bumps hashVersion.
type hashInput struct {
	Version         string            `json:"v"`
	Image           string            `json:"image"`
	ContainerName   string            `json:"container_name"`
	Entrypoint      []string          `json:"entrypoint"` // null (image's) differs from [] (cleared)
	Command         []string          `json:"command"`
	Env             []string          `json:"env"` // sorted KEY=VALUE
	WorkingDir      string            `json:"working_dir"`
	User            string            `json:"user"`
	Hostname        string            `json:"hostname"`
	Init            bool              `json:"init"`
	Labels          map[string]string `json:"labels"`   // encoding/json sorts map keys
	Networks        []hashNetwork     `json:"networks"` // sorted by name
	Mounts          []hashMount       `json:"mounts"`   // in file order: later mounts may shadow earlier ones
	Restart         string            `json:"restart"`
	StopSignal      string            `json:"stop_signal"`
	StopGracePeriod *int64            `json:"stop_grace_period_ns"`
	ExtraHosts      []string          `json:"extra_hosts"` // sorted
}

type hashMount struct {
	Type     string `json:"type"`
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
	NoCopy   bool   `json:"nocopy"`
}

type hashNetwork struct {
	Name        string   `json:"name"`
	Aliases     []string `json:"aliases"` // sorted
	IPv4Address string   `json:"ipv4_address"`
}

// ConfigHash returns the hash of the parts of s whose change requires its
// containers to be recreated, as 64 hexadecimal digits (the form Docker
// Compose puts in its config-hash label). It is deterministic: the order of
// environment variables, labels, networks, aliases and extra hosts does not
// change it.
func ConfigHash(s Service) string {
	in := hashInput{
		Version:       hashVersion,
		Image:         s.Image,
		ContainerName: s.ContainerName,
		Entrypoint:    s.Entrypoint,
		Command:       s.Command,
		Env:           sortedEnv(s.Environment),
		WorkingDir:    s.WorkingDir,
		User:          s.User,
		Hostname:      s.Hostname,
		Init:          s.Init,
		Labels:        nonEmpty(s.Labels),
		Restart:       s.Restart,
		StopSignal:    s.StopSignal,
		ExtraHosts:    sorted(s.ExtraHosts),
	}
	if s.StopGracePeriod != nil {
		ns := s.StopGracePeriod.Nanoseconds()
		in.StopGracePeriod = &ns
	}
	for _, m := range s.Mounts {
		in.Mounts = append(in.Mounts, hashMount(m))
	}
	for _, n := range s.Networks {
		in.Networks = append(in.Networks, hashNetwork{Name: n.Name, Aliases: sorted(n.Aliases), IPv4Address: n.IPv4Address})
	}
	slices.SortFunc(in.Networks, func(a, b hashNetwork) int { return strings.Compare(a.Name, b.Name) })
	b, _ := json.Marshal(in) // cannot fail: plain data
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// nonEmpty makes an empty map nil, so that both hash the same.
func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// sorted returns a sorted copy of s; nil when s is empty.
func sorted(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Sorted(slices.Values(s))
}

// sortedEnv sorts KEY=VALUE entries by key; for a key given twice the last
// entry wins, as in a container's environment.
func sortedEnv(env []string) []string {
	if len(env) == 0 {
		return nil
	}
	byKey := map[string]string{}
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		byKey[k] = e
	}
	out := make([]string, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}
