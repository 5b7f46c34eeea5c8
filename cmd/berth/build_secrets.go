package main

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/engine/build"
)

// buildSecrets parses --secret flags as docker buildx does:
// id=ID[,type=file|env][,src=PATH|source=PATH][,env=VAR]. A secret with
// neither a file nor a variable is the variable named ID when it is set,
// else the file named ID. The file must exist and the variable be set.
func buildSecrets(flags []string, getenv func(string) (string, bool)) ([]build.Secret, error) {
	var out []build.Secret
	for _, f := range flags {
		bad := func(format string, a ...any) error {
			return fmt.Errorf("--secret %q: %s: %w", f, fmt.Sprintf(format, a...), errdefs.ErrInvalidArgument)
		}
		var id, typ, src, env string
		for _, field := range strings.Split(f, ",") {
			k, v, ok := strings.Cut(field, "=")
			if !ok {
				return nil, bad("%q is not KEY=VALUE", field)
			}
			switch strings.ToLower(k) {
			case "id":
				id = v
			case "type":
				if v != "file" && v != "env" {
					return nil, bad("type %q: want file or env", v)
				}
				typ = v
			case "src", "source":
				src = v
			case "env":
				env = v
			default:
				return nil, bad("unknown key %q: want id, type, src or env", k)
			}
		}
		if id == "" {
			return nil, bad("no id=")
		}
		if typ == "env" && env == "" {
			env, src = src, ""
		}
		if src == "" && env == "" {
			if _, ok := getenv(id); ok {
				env = id
			} else {
				src = id
			}
		}
		s := build.Secret{ID: id}
		if env != "" {
			v, ok := getenv(env)
			if !ok {
				return nil, bad("the variable %s is not set", env)
			}
			s.Value = []byte(v)
		} else {
			fi, err := os.Stat(src)
			if err != nil || !fi.Mode().IsRegular() {
				return nil, bad("%s is not a file", src)
			}
			s.File = src
		}
		out = append(out, s)
	}
	return out, nil
}

// buildSSH parses --ssh flags: default or ID, for the agent at
// $SSH_AUTH_SOCK, or ID=SOCKET. Only agent sockets are forwarded: a key
// file is refused.
func buildSSH(flags []string, getenv func(string) (string, bool)) (map[string]string, error) {
	if len(flags) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, f := range flags {
		id, sock, ok := strings.Cut(f, "=")
		if id == "" {
			return nil, fmt.Errorf("--ssh %q: want ID or ID=SOCKET: %w", f, errdefs.ErrInvalidArgument)
		}
		if !ok {
			if sock, ok = getenv("SSH_AUTH_SOCK"); !ok || sock == "" {
				return nil, fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set: give the agent's socket as %s=SOCKET: %w", f, id, errdefs.ErrInvalidArgument)
			}
		}
		if strings.Contains(sock, ",") {
			return nil, fmt.Errorf("--ssh %q: one agent socket per id (key files are not supported): %w", f, errdefs.ErrNotImplemented)
		}
		if fi, err := os.Stat(sock); err != nil || fi.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("--ssh %q: %s is not an agent socket (key files are not supported): %w", f, sock, errdefs.ErrInvalidArgument)
		}
		out[id] = sock
	}
	return out, nil
}
