package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/engine/build"
)

func TestBuildSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tok")
	if err := os.WriteFile(file, []byte("v"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TOKEN": "from-env", "ONLYID": "by-id"}
	getenv := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	for _, tc := range []struct {
		name, flag string
		want       build.Secret
		err        string
	}{
		{name: "file", flag: "id=a,src=" + file, want: build.Secret{ID: "a", File: file}},
		{name: "source spelling", flag: "id=a,source=" + file, want: build.Secret{ID: "a", File: file}},
		{name: "env", flag: "id=a,env=TOKEN", want: build.Secret{ID: "a", Value: []byte("from-env")}},
		{name: "type env takes src as the variable", flag: "id=a,type=env,src=TOKEN", want: build.Secret{ID: "a", Value: []byte("from-env")}},
		{name: "id alone is the variable of that name", flag: "id=ONLYID", want: build.Secret{ID: "ONLYID", Value: []byte("by-id")}},
		{name: "id alone is else the file of that name", flag: "id=" + file, want: build.Secret{ID: file, File: file}},
		{name: "no id", flag: "src=" + file, err: `--secret "src=` + file + `": no id=`},
		{name: "missing file", flag: "id=a,src=/nonexistent/x", err: `--secret "id=a,src=/nonexistent/x": /nonexistent/x is not a file`},
		{name: "unset variable", flag: "id=a,env=NOPE", err: `--secret "id=a,env=NOPE": the variable NOPE is not set`},
		{name: "unknown key", flag: "id=a,path=x", err: `--secret "id=a,path=x": unknown key "path"`},
		{name: "bad type", flag: "id=a,type=ssh", err: `--secret "id=a,type=ssh": type "ssh": want file or env`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := buildSecrets([]string{tc.flag}, getenv)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("got %v, want %s…", err, tc.err)
				}
				return
			}
			if err != nil || len(got) != 1 || got[0].ID != tc.want.ID || got[0].File != tc.want.File || string(got[0].Value) != string(tc.want.Value) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestBuildSSH(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "agent")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	with := func(k string) (string, bool) { return sock, k == "SSH_AUTH_SOCK" }
	without := func(string) (string, bool) { return "", false }
	got, err := buildSSH([]string{"default", "work=" + sock}, with)
	if err != nil || got["default"] != sock || got["work"] != sock {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, tc := range []struct{ name, flag, err string }{
		{name: "no agent", flag: "default", err: "--ssh default: SSH_AUTH_SOCK is not set: give the agent's socket as default=SOCKET"},
		{name: "key file", flag: "default=" + key, err: `--ssh "default=` + key + `": ` + key + ` is not an agent socket (key files are not supported)`},
		{name: "no id", flag: "=" + sock, err: `--ssh "=` + sock + `": want ID or ID=SOCKET`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := buildSSH([]string{tc.flag}, without); err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Fatalf("got %v, want %s…", err, tc.err)
			}
		})
	}
}
