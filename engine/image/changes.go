package image

import (
	"encoding/json"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// ApplyChanges applies Dockerfile instructions to cfg, in order, as
// `docker commit --change` and `docker import --change` do; see
// applyChanges.
func ApplyChanges(cfg *v1.Config, changes []string) error { return applyChanges(cfg, changes) }

// applyChanges applies Dockerfile instructions to cfg, in order, like
// `docker import --change`. A bad or unknown instruction is an
// errdefs.ErrInvalidArgument error naming it. Variables ($VAR) are not
// expanded.
func applyChanges(cfg *v1.Config, changes []string) error {
	cmdSet := false
	for _, ch := range changes {
		kw, args := strings.TrimSpace(ch), ""
		if i := strings.IndexAny(kw, " \t"); i >= 0 {
			kw, args = kw[:i], strings.TrimSpace(kw[i+1:])
		}
		var err error
		switch strings.ToUpper(kw) {
		case "CMD":
			cfg.Cmd, err = command(args)
			cmdSet = true
		case "ENTRYPOINT":
			cfg.Entrypoint, err = command(args)
			if !cmdSet {
				cfg.Cmd = nil // as in a Dockerfile: an inherited CMD does not survive a new ENTRYPOINT
			}
		case "ENV":
			err = keyValues(args, func(k, v string) { cfg.Env = setEnv(cfg.Env, k, v) })
		case "LABEL":
			err = keyValues(args, func(k, v string) {
				if cfg.Labels == nil {
					cfg.Labels = map[string]string{}
				}
				cfg.Labels[k] = v
			})
		case "WORKDIR":
			err = need(args)
			if path.IsAbs(args) {
				cfg.WorkingDir = path.Clean(args)
			} else {
				cfg.WorkingDir = path.Join("/", cfg.WorkingDir, args)
			}
		case "USER":
			err = need(args)
			cfg.User = args
		case "EXPOSE":
			err = expose(cfg, args)
		case "VOLUME":
			err = volume(cfg, args)
		case "STOPSIGNAL":
			err = checkSignal(args)
			cfg.StopSignal = args
		case "HEALTHCHECK":
			cfg.Healthcheck, err = healthcheck(args)
		case "":
			err = fmt.Errorf("empty instruction")
		default:
			return fmt.Errorf("change %q: unknown instruction %s: %w", ch, kw, errdefs.ErrInvalidArgument)
		}
		if err != nil {
			return fmt.Errorf("change %q: %w (%w)", ch, err, errdefs.ErrInvalidArgument)
		}
	}
	return nil
}

func need(args string) error {
	if args == "" {
		return fmt.Errorf("missing argument")
	}
	return nil
}

// command parses the exec form (a JSON array) or the shell form of CMD and
// ENTRYPOINT; the shell form runs under /bin/sh -c.
func command(args string) ([]string, error) {
	if strings.HasPrefix(args, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err == nil {
			return argv, nil
		}
		// Not valid JSON: Docker takes it as the shell form.
	}
	if args == "" {
		return nil, fmt.Errorf("missing command")
	}
	return []string{"/bin/sh", "-c", args}, nil
}

// setEnv sets k=v in env, replacing an earlier value of k.
func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// keyValues parses the arguments of ENV and LABEL: "k=v k2="v 2"…" or the
// legacy "k value with spaces".
func keyValues(args string, set func(k, v string)) error {
	words, err := splitWords(args)
	if err != nil {
		return err
	}
	if len(words) == 0 {
		return fmt.Errorf("missing argument")
	}
	if words[0].eq < 0 {
		k := words[0].text
		v := strings.TrimSpace(strings.TrimPrefix(args, words[0].raw))
		if v == "" {
			return fmt.Errorf("%s needs a value", k)
		}
		set(k, unquote(v))
		return nil
	}
	for _, w := range words {
		if w.eq <= 0 {
			return fmt.Errorf("%q is not KEY=VALUE", w.raw)
		}
		set(unquote(w.raw[:w.eq]), unquote(w.raw[w.eq+1:]))
	}
	return nil
}

// word is a whitespace-separated word of an instruction, quotes kept in raw.
type word struct {
	raw  string
	text string // raw unquoted
	eq   int    // index in raw of the first '=' outside quotes, -1 if none
}

// splitWords splits s at whitespace outside quotes, shell-like.
func splitWords(s string) ([]word, error) {
	var (
		out   []word
		start = -1
		quote byte
		eq    = -1
	)
	flush := func(end int) {
		if start >= 0 {
			raw := s[start:end]
			out = append(out, word{raw: raw, text: unquote(raw), eq: eq})
		}
		start, eq = -1, -1
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if start < 0 && c != ' ' && c != '\t' {
			start = i
		}
		switch {
		case quote != 0:
			if c == '\\' && quote == '"' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\\':
			i++
		case c == '"' || c == '\'':
			quote = c
		case c == '=' && eq < 0 && start >= 0:
			eq = i - start
		case c == ' ' || c == '\t':
			flush(i)
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	flush(len(s))
	return out, nil
}

// unquote removes shell quotes and backslash escapes.
func unquote(s string) string {
	if !strings.ContainsAny(s, `"'\`) {
		return s
	}
	var b strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
				continue
			}
		case c == '\\' && i+1 < len(s) && (quote == 0 || strings.IndexByte(`"\$`+"`", s[i+1]) >= 0):
			i++
			c = s[i]
		case c == quote:
			quote = 0
			continue
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// expose adds "port[/proto]" and "from-to[/proto]" to ExposedPorts.
func expose(cfg *v1.Config, args string) error {
	ports := strings.Fields(args)
	if len(ports) == 0 {
		return fmt.Errorf("missing port")
	}
	for _, p := range ports {
		spec, proto, ok := strings.Cut(p, "/")
		proto = strings.ToLower(proto)
		if !ok {
			proto = "tcp"
		}
		if proto != "tcp" && proto != "udp" && proto != "sctp" {
			return fmt.Errorf("port %q: unknown protocol %q", p, proto)
		}
		lo, hi, isRange := strings.Cut(spec, "-")
		if !isRange {
			hi = lo
		}
		from, err1 := strconv.ParseUint(lo, 10, 16)
		to, err2 := strconv.ParseUint(hi, 10, 16)
		if err1 != nil || err2 != nil || from == 0 || to < from {
			return fmt.Errorf("%q is not a port or port range", p)
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for port := from; port <= to; port++ {
			cfg.ExposedPorts[strconv.FormatUint(port, 10)+"/"+proto] = struct{}{}
		}
	}
	return nil
}

// volume adds the mount points of a JSON array or a space-separated list.
func volume(cfg *v1.Config, args string) error {
	var vols []string
	if strings.HasPrefix(args, "[") {
		if err := json.Unmarshal([]byte(args), &vols); err != nil {
			return fmt.Errorf("bad JSON array: %w", err)
		}
	} else {
		vols = strings.Fields(args)
	}
	if len(vols) == 0 {
		return fmt.Errorf("missing mount point")
	}
	for _, v := range vols {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("empty mount point")
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	return nil
}

// checkSignal accepts a signal number or name (with or without SIG).
func checkSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return fmt.Errorf("signal %d out of range", n)
		}
		return nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN+"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n <= 30 {
			return nil
		}
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMAX-"); ok {
		if n, err := strconv.Atoi(rest); err == nil && n >= 0 && n <= 30 {
			return nil
		}
	}
	if name == "SIGRTMIN" || name == "SIGRTMAX" || unix.SignalNum(name) != 0 {
		return nil
	}
	return fmt.Errorf("unknown signal %q", s)
}

// healthcheck parses "NONE" or "[--interval=D] [--timeout=D]
// [--start-period=D] [--retries=N] CMD command".
func healthcheck(args string) (*v1.HealthConfig, error) {
	if strings.EqualFold(args, "NONE") {
		return &v1.HealthConfig{Test: []string{"NONE"}}, nil
	}
	h := &v1.HealthConfig{}
	rest := args
	for strings.HasPrefix(rest, "--") {
		opt, tail, _ := strings.Cut(rest, " ")
		rest = strings.TrimSpace(tail)
		k, v, ok := strings.Cut(strings.TrimPrefix(opt, "--"), "=")
		if !ok {
			return nil, fmt.Errorf("option %q needs a value", opt)
		}
		var err error
		switch k {
		case "interval":
			h.Interval, err = time.ParseDuration(v)
		case "timeout":
			h.Timeout, err = time.ParseDuration(v)
		case "start-period":
			h.StartPeriod, err = time.ParseDuration(v)
		case "retries":
			h.Retries, err = strconv.Atoi(v)
		default:
			return nil, fmt.Errorf("unknown HEALTHCHECK option %q", opt)
		}
		if err != nil {
			return nil, fmt.Errorf("option %q: %w", opt, err)
		}
	}
	kw, cmd, _ := strings.Cut(rest, " ")
	if !strings.EqualFold(kw, "CMD") {
		return nil, fmt.Errorf("HEALTHCHECK needs NONE or CMD")
	}
	argv, err := command(strings.TrimSpace(cmd))
	if err != nil {
		return nil, err
	}
	if len(argv) == 3 && argv[0] == "/bin/sh" && argv[1] == "-c" && !strings.HasPrefix(strings.TrimSpace(cmd), "[") {
		h.Test = []string{"CMD-SHELL", argv[2]}
	} else {
		h.Test = append([]string{"CMD"}, argv...)
	}
	return h, nil
}
