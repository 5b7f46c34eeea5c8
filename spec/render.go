package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/containerd/errdefs"
	"gopkg.in/yaml.v3"
)

// Render returns the resolved project as `docker compose config` prints it,
// in format "yaml" (also for "") or "json": compose-go's rendering, with
// every "$" written "$$" unless loaded with NoInterpolate so that the output
// is itself a valid Compose file. It renders unsupported attributes too.
func (p *Project) Render(format string) ([]byte, error) {
	if format == "" {
		format = "yaml"
	}
	if format != "yaml" && format != "json" {
		return nil, fmt.Errorf("format %q: must be yaml or json: %w", format, errdefs.ErrInvalidArgument)
	}
	switch {
	case p.model != nil:
		return renderModel(p.model, format)
	case p.config == nil:
		return nil, fmt.Errorf("project %q was not loaded from Compose files: %w", p.Name, errdefs.ErrFailedPrecondition)
	}
	var (
		out []byte
		err error
	)
	if format == "json" {
		out, err = p.config.MarshalJSON()
	} else {
		out, err = p.config.MarshalYAML()
	}
	if err != nil {
		return nil, fmt.Errorf("project %q: render %s: %w", p.Name, format, err)
	}
	return bytes.ReplaceAll(out, []byte("$"), []byte("$$")), nil
}

// renderModel renders a raw model as docker compose's formatModel does.
func renderModel(model map[string]any, format string) ([]byte, error) {
	if format == "json" {
		return json.MarshalIndent(model, "", "  ")
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(model); err != nil {
		return nil, fmt.Errorf("render yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render yaml: %w", err)
	}
	return buf.Bytes(), nil
}

// ServiceNames returns the names of the enabled services, each after the
// services it depends on, otherwise sorted (`config --services`). For a
// project loaded with NoInterpolate it returns every service, sorted.
func (p *Project) ServiceNames() []string {
	if p.model != nil {
		return modelKeys(p.model, "services")
	}
	byName := make(map[string]*Service, len(p.Services))
	for i := range p.Services {
		byName[p.Services[i].Name] = &p.Services[i]
	}
	var (
		out  []string
		seen = map[string]bool{}
		add  func(name string)
	)
	add = func(name string) {
		s, ok := byName[name]
		if !ok || seen[name] {
			return
		}
		seen[name] = true
		for _, d := range s.DependsOn {
			add(d.Service)
		}
		out = append(out, name)
	}
	for _, s := range p.Services {
		add(s.Name)
	}
	return out
}

// VolumeNames returns the keys of the project's volumes, sorted
// (`config --volumes`).
func (p *Project) VolumeNames() []string {
	if p.model != nil {
		return modelKeys(p.model, "volumes")
	}
	out := make([]string, 0, len(p.Volumes))
	for _, v := range p.Volumes {
		out = append(out, v.Key)
	}
	return out
}

// NetworkNames returns the keys of the project's networks, sorted
// (`config --networks`).
func (p *Project) NetworkNames() []string {
	if p.model != nil {
		return modelKeys(p.model, "networks")
	}
	out := make([]string, 0, len(p.Networks))
	for _, n := range p.Networks {
		out = append(out, n.Key)
	}
	return out
}

// ModelNames returns the keys of the project's top-level models, sorted
// (`config --models`); berth runs no model yet, but lists them as it
// renders them.
func (p *Project) ModelNames() []string {
	switch {
	case p.model != nil:
		return modelKeys(p.model, "models")
	case p.config == nil:
		return nil
	}
	return slices.Sorted(maps.Keys(p.config.Models))
}

// EnvironmentLines returns the environment the project's files were
// interpolated with (the process's and the project's env files), as sorted
// KEY=VALUE lines (`config --environment`). errdefs.ErrFailedPrecondition
// for a project loaded without interpolation.
func (p *Project) EnvironmentLines() ([]string, error) {
	if p.config == nil {
		return nil, fmt.Errorf("project %q: loaded without interpolation, it has no environment: %w", p.Name, errdefs.ErrFailedPrecondition)
	}
	out := make([]string, 0, len(p.config.Environment))
	for k, v := range p.config.Environment {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out, nil
}

// Variable is a variable the Compose files interpolate (`config
// --variables`): ${NAME:?…} is Required, ${NAME:-x} has Default x,
// ${NAME:+y} Alternate y.
type Variable struct {
	Name      string
	Required  bool
	Default   string
	Alternate string
}

// Variables lists the variables the project's files use, sorted by name.
// The project must be loaded with NoInterpolate (errdefs.ErrFailedPrecondition
// otherwise): the variables are read from the files as written.
func (p *Project) Variables() ([]Variable, error) {
	if p.model == nil {
		return nil, fmt.Errorf("project %q: variables are read from a project loaded without interpolation: %w", p.Name, errdefs.ErrFailedPrecondition)
	}
	vars := template.ExtractVariables(p.model, template.DefaultPattern)
	out := make([]Variable, 0, len(vars))
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		v := vars[name]
		out = append(out, Variable{Name: v.Name, Required: v.Required, Default: v.DefaultValue, Alternate: v.PresenceValue})
	}
	return out, nil
}

// Images returns the image of each enabled service, in service name order
// (`config --images`). A service without an image gets the name Docker
// Compose would build it under, "<project>-<service>".
func (p *Project) Images() []string {
	if p.model != nil {
		var out []string
		services, _ := p.model["services"].(map[string]any)
		for _, name := range slices.Sorted(maps.Keys(services)) {
			s, _ := services[name].(map[string]any)
			img, _ := s["image"].(string)
			out = append(out, ImageOrDefault(img, p.Name, name))
		}
		return out
	}
	out := make([]string, 0, len(p.Services))
	for _, s := range p.Services {
		out = append(out, ImageOrDefault(s.Image, p.Name, s.Name))
	}
	return out
}

// ImageOrDefault is a service's image reference: its image, or the name a
// build of it gets (PROJECT-SERVICE) when it has none.
func ImageOrDefault(image, project, service string) string {
	if image != "" {
		return image
	}
	return project + "-" + service
}

// AllProfiles returns every profile a service declares, enabled or not,
// sorted and without duplicates (`config --profiles`).
func (p *Project) AllProfiles() []string {
	var out []string
	switch {
	case p.model != nil:
		services, _ := p.model["services"].(map[string]any)
		for _, s := range services {
			m, _ := s.(map[string]any)
			list, _ := m["profiles"].([]any)
			for _, v := range list {
				if s, ok := v.(string); ok {
					out = append(out, s)
				}
			}
		}
	case p.config != nil:
		for _, s := range p.config.AllServices() {
			out = append(out, s.Profiles...)
		}
	default:
		for _, s := range p.Services {
			out = append(out, s.Profiles...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ConfigHashes returns "name hash" lines for `config --hash`: for every
// enabled service when selector is "*", else for the comma-separated
// service names it lists, in name order. An unknown or disabled service is
// an error wrapping errdefs.ErrNotFound.
func (p *Project) ConfigHashes(selector string) ([]string, error) {
	want := map[string]bool{}
	if selector != "*" {
		for _, name := range strings.Split(selector, ",") {
			if name = strings.TrimSpace(name); name != "" {
				want[name] = true
			}
		}
	}
	var out []string
	for _, s := range p.Services {
		if len(want) == 0 || want[s.Name] {
			out = append(out, s.Name+" "+ConfigHash(s))
			delete(want, s.Name)
		}
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("no such service: %s: %w", strings.Join(slices.Sorted(maps.Keys(want)), ", "), errdefs.ErrNotFound)
	}
	return out, nil
}

// Service returns the enabled service called name.
func (p *Project) Service(name string) (Service, bool) {
	for _, s := range p.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

func modelKeys(model map[string]any, key string) []string {
	m, _ := model[key].(map[string]any)
	return slices.Sorted(maps.Keys(m))
}
