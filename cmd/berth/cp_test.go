package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/errdefs"

	"github.com/berth-dev/berth/internal/tarcopy"
)

func TestSplitCpArg(t *testing.T) {
	tests := []struct {
		arg  string
		want cpArg
	}{
		{"web:/etc/hosts", cpArg{ctr: "web", path: "/etc/hosts"}},
		{"web:rel", cpArg{ctr: "web", path: "rel"}},
		{"/abs:olute", cpArg{path: "/abs:olute"}},
		{"./dir:x", cpArg{path: "./dir:x"}},
		{"plain", cpArg{path: "plain"}},
		{"-", cpArg{path: "-"}},
	}
	for _, tc := range tests {
		t.Run(tc.arg, func(t *testing.T) {
			if got := splitCpArg(tc.arg); got != tc.want {
				t.Errorf("splitCpArg(%q) = %+v, want %+v", tc.arg, got, tc.want)
			}
		})
	}
}

func TestParseCpArgsRefuses(t *testing.T) {
	for _, args := range [][2]string{{"a:/x", "b:/y"}, {"x", "y"}, {"a:", "/tmp"}} {
		t.Run(args[0]+" "+args[1], func(t *testing.T) {
			if _, _, err := parseCpArgs(args[0], args[1]); !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("err = %v, want invalid argument", err)
			}
		})
	}
}

func TestLocalDestination(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		dst              string
		srcIsDir, conten bool
		wantDir          string
		wantRename       tarcopy.Rename
		wantErr          error
	}{
		{"into a directory", dir, false, false, dir, tarcopy.Rename{}, nil},
		{"content into a directory", dir, true, true, dir, tarcopy.Rename{From: "top", To: "."}, nil},
		{"a new name", filepath.Join(dir, "new"), true, false, dir, tarcopy.Rename{From: "top", To: "new"}, nil},
		{"over a file", file, false, false, dir, tarcopy.Rename{From: "top", To: "file"}, nil},
		{"a directory over a file", file, true, false, "", tarcopy.Rename{}, errdefs.ErrInvalidArgument},
		{"a file into a missing directory", filepath.Join(dir, "missing") + "/", false, false, "", tarcopy.Rename{}, errdefs.ErrNotFound},
		{"a missing parent", filepath.Join(dir, "no", "such"), false, false, "", tarcopy.Rename{}, errdefs.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gotDir, rename, err := localDestination(tc.dst, "top", tc.srcIsDir, tc.conten)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || gotDir != tc.wantDir || rename != tc.wantRename {
				t.Errorf("= %q, %+v, %v; want %q, %+v", gotDir, rename, err, tc.wantDir, tc.wantRename)
			}
		})
	}
}
