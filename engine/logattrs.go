package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/containerd/errdefs"
)

// CheckLogAttrs checks the json-file options that make log attributes:
// the regular expressions and the tag's template.
func CheckLogAttrs(l LogConfig) error {
	for _, re := range []string{l.LabelsRegex, l.EnvRegex} {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("logging: %q is not a regular expression: %w", re, errdefs.ErrInvalidArgument)
		}
	}
	if _, err := template.New("tag").Parse(l.Tag); err != nil {
		return fmt.Errorf("logging: tag %q: %v: %w", l.Tag, err, errdefs.ErrInvalidArgument)
	}
	return nil
}

// logTagInfo is what a logging tag's template reads, Docker's names.
type logTagInfo struct {
	ID, FullID, Name, ImageID, ImageFullID, ImageName, DaemonName string
}

// logAttrs are the attributes Docker's json-file driver keeps with every
// line of rec's log, from its logging options (LogConfig): labels and
// environment variables by name or pattern, and the tag.
func logAttrs(rec *record) (map[string]string, error) {
	l := rec.Config.Logging
	if err := CheckLogAttrs(l); err != nil {
		return nil, err
	}
	attrs := map[string]string{}
	pick := func(all map[string]string, names []string, pattern string) {
		var re *regexp.Regexp
		if pattern != "" {
			re = regexp.MustCompile(pattern) // checked above
		}
		for k, v := range all {
			if slices.Contains(names, k) || (re != nil && re.MatchString(k)) {
				attrs[k] = v
			}
		}
	}
	if len(l.Labels) > 0 || l.LabelsRegex != "" {
		pick(rec.Config.Labels, l.Labels, l.LabelsRegex)
	}
	if len(l.Env) > 0 || l.EnvRegex != "" {
		env := map[string]string{}
		for _, kv := range append(slices.Clone(rec.ImageConfig.Env), rec.Config.Env...) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		pick(env, l.Env, l.EnvRegex)
	}
	if l.Tag != "" {
		t := template.Must(template.New("tag").Parse(l.Tag)) // checked above
		full, img := string(rec.ID), strings.TrimPrefix(rec.ImageID, "sha256:")
		info := logTagInfo{FullID: full, ID: short(full), Name: rec.Config.Name, ImageFullID: rec.ImageID, ImageID: short(img),
			ImageName: rec.Config.Image, DaemonName: "berth"}
		var b strings.Builder
		if err := t.Execute(&b, info); err != nil {
			return nil, fmt.Errorf("logging: tag %q: %v: %w", l.Tag, err, errdefs.ErrInvalidArgument)
		}
		attrs["tag"] = b.String()
	}
	return attrs, nil
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
