package swarm

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/spec"
)

// swarmFields are the parts of a service's deploy: section that only a
// cluster uses and spec's model does not carry. They are read from the
// project as spec renders it (compose-go's canonical JSON), so that what is
// deployed is what `berth config` shows.
type swarmFields struct {
	Mode           string            `json:"mode"`
	EndpointMode   string            `json:"endpoint_mode"`
	Labels         map[string]string `json:"labels"`
	Placement      placement         `json:"placement"`
	Resources      resources         `json:"resources"`
	RestartPolicy  *restartPolicy    `json:"restart_policy"`
	UpdateConfig   *updateConfig     `json:"update_config"`
	RollbackConfig *updateConfig     `json:"rollback_config"`
}

type placement struct {
	Constraints []string `json:"constraints"`
	Preferences []struct {
		Spread string `json:"spread"`
	} `json:"preferences"`
	MaxReplicas uint64 `json:"max_replicas_per_node"`
}

type resources struct {
	Reservations *struct {
		CPUs    float64           `json:"cpus"`
		Devices []json.RawMessage `json:"devices"`
		Generic []json.RawMessage `json:"generic_resources"`
	} `json:"reservations"`
}

type restartPolicy struct {
	Condition   string    `json:"condition"`
	Delay       *duration `json:"delay"`
	MaxAttempts *uint64   `json:"max_attempts"`
	Window      *duration `json:"window"`
}

type updateConfig struct {
	Parallelism     *uint64  `json:"parallelism"`
	Delay           duration `json:"delay"`
	FailureAction   string   `json:"failure_action"`
	Monitor         duration `json:"monitor"`
	MaxFailureRatio float32  `json:"max_failure_ratio"`
	Order           string   `json:"order"`
}

// duration is a Compose duration as compose-go renders it ("2s", "1m30s").
type duration time.Duration

func (d *duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = duration(v)
	return nil
}

func (d *duration) ptr() *time.Duration {
	if d == nil {
		return nil
	}
	v := time.Duration(*d)
	return &v
}

// readSwarmFields returns the cluster-only deploy fields of each service.
func readSwarmFields(p *spec.Project) (map[string]swarmFields, error) {
	b, err := p.Render("json")
	if err != nil {
		return nil, err
	}
	// Render writes "$" as "$$" so that its output is a Compose file again.
	var doc struct {
		Services map[string]struct {
			Deploy json.RawMessage `json:"deploy"`
		} `json:"services"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("project %q: read deploy sections: %w", p.Name, err)
	}
	out := make(map[string]swarmFields, len(doc.Services))
	for name, s := range doc.Services {
		var f swarmFields
		if len(s.Deploy) > 0 {
			if err := json.Unmarshal(s.Deploy, &f); err != nil {
				return nil, fmt.Errorf("service %q: deploy: %w", name, err)
			}
		}
		for k, v := range f.Labels {
			f.Labels[k] = strings.ReplaceAll(v, "$$", "$")
		}
		for i, c := range f.Placement.Constraints {
			f.Placement.Constraints[i] = strings.ReplaceAll(c, "$$", "$")
		}
		out[name] = f
	}
	return out, nil
}

// restartFromCompose maps the restart attribute onto Swarm's policy, as
// deploy.restart_policy writes it.
func restartFromCompose(r string) *restartPolicy {
	cond, max, _ := strings.Cut(r, ":")
	switch cond {
	case "":
		return nil
	case "no":
		return &restartPolicy{Condition: "none"}
	case "always", "unless-stopped":
		return &restartPolicy{Condition: "any"}
	}
	rp := &restartPolicy{Condition: cond}
	if n, err := strconv.ParseUint(max, 10, 64); err == nil {
		rp.MaxAttempts = &n
	}
	return rp
}
