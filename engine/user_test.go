package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

const testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
postgres:x:105:109:PostgreSQL administrator:/var/lib/postgresql:/bin/bash
broken line
nohome:x:1000:1000::
`

const testGroup = `root:x:0:
daemon:x:1:
adm:x:4:www-data
www-data:x:33:
ssl-cert:x:108:postgres
postgres:x:109:
staff:x:50:www-data,postgres
`

func TestResolveUser(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		passwd  string
		group   string
		noFiles bool
		want    ExecUser
		wantErr bool
	}{
		{name: "empty is root", spec: "", want: ExecUser{UID: 0, GID: 0, Home: "/root"}},
		{name: "name brings gid, home, additional groups", spec: "postgres", want: ExecUser{UID: 105, GID: 109, AdditionalGIDs: []uint32{108, 50}, Home: "/var/lib/postgresql"}},
		{name: "uid found in passwd is like its name", spec: "33", want: ExecUser{UID: 33, GID: 33, AdditionalGIDs: []uint32{4, 50}, Home: "/var/www"}},
		{name: "uid not in passwd", spec: "4242", want: ExecUser{UID: 4242, GID: 0, Home: "/"}},
		{name: "uid:gid numeric", spec: "4242:4343", want: ExecUser{UID: 4242, GID: 4343, Home: "/"}},
		{name: "name:group replaces primary, no additional", spec: "www-data:staff", want: ExecUser{UID: 33, GID: 50, Home: "/var/www"}},
		{name: "name:gid", spec: "www-data:7", want: ExecUser{UID: 33, GID: 7, Home: "/var/www"}},
		{name: "uid:group name", spec: "4242:adm", want: ExecUser{UID: 4242, GID: 4, Home: "/"}},
		{name: "empty home defaults to /", spec: "nohome", want: ExecUser{UID: 1000, GID: 1000, Home: "/"}},
		{name: "unknown name", spec: "nobody-here", wantErr: true},
		{name: "unknown group name", spec: "www-data:nogroup", wantErr: true},
		{name: "numeric user without files", spec: "1000:1000", noFiles: true, want: ExecUser{UID: 1000, GID: 1000, Home: "/"}},
		{name: "root without files", spec: "", noFiles: true, want: ExecUser{Home: "/"}},
		{name: "name without files", spec: "www-data", noFiles: true, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got ExecUser
			var err error
			if tc.noFiles {
				got, err = ResolveUser(tc.spec, nil, nil)
			} else {
				got, err = ResolveUser(tc.spec, strings.NewReader(testPasswd), strings.NewReader(testGroup))
			}
			if tc.wantErr {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err = %v, want InvalidArgument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.UID != tc.want.UID || got.GID != tc.want.GID || got.Home != tc.want.Home || !slices.Equal(got.AdditionalGIDs, tc.want.AdditionalGIDs) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
