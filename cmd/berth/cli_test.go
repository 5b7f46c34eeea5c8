package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/berth-dev/berth/spec"
)

func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	got, err := parseTimeFlag("--since", "42m", now)
	if err != nil || !got.Equal(now.Add(-42*time.Minute)) {
		t.Fatalf("42m: %v %v", got, err)
	}
	got, err = parseTimeFlag("--since", "2026-01-01T10:00:00Z", now)
	if err != nil || got.Hour() != 10 {
		t.Fatalf("RFC 3339: %v %v", got, err)
	}
	if _, err := parseTimeFlag("--since", "yesterday", now); err == nil || !strings.Contains(err.Error(), "--since") {
		t.Fatalf("bad value: err = %v", err)
	}
	got, err = parseTimeFlag("--until", "1767268800.25", now)
	if err != nil || !got.Equal(time.Unix(1767268800, 250000000)) {
		t.Fatalf("Unix time: %v %v", got, err)
	}
	if _, err := parseTimeFlag("--until", "1767268800.", now); err == nil {
		t.Fatal("a Unix time without its fraction's digits: no error")
	}
}

func TestOneLine(t *testing.T) {
	err := errors.Join(errors.New("compose.yaml: a"), errors.New("compose.yaml: b"))
	if got := oneLine(err); strings.Contains(got, "\n") || !strings.HasPrefix(got, "Error: ") {
		t.Fatalf("oneLine = %q", got)
	}
}

// TestConfigBadFileExitCode runs the CLI in-process on a malformed file: exit
// code 1 and a single line naming the file.
func TestConfigBadFileExitCode(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  web:\n    image: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	g := &globalOptions{stdout: &out, stderr: &errb}
	cmd := newRootCommand(g)
	cmd.SetArgs([]string{"--project-directory", dir, "-f", filepath.Join(dir, "compose.yaml"), "config"})
	err := cmd.ExecuteContext(t.Context())
	if err == nil {
		t.Fatal("config of a malformed file succeeded")
	}
	msg := oneLine(err)
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "compose.yaml") {
		t.Fatalf("error %q is not one line naming the file", msg)
	}
}

func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		err     error
		code    int
		printed bool
	}{
		{"success", t.Context(), nil, 0, false},
		{"container's code", t.Context(), exitError{code: 3}, 3, false},
		{"error", t.Context(), errors.New("boom"), 1, true},
		{"interrupted", cancelled, fmt.Errorf("pull: %w", context.Canceled), 130, false},
		{"failed while interrupted", cancelled, errors.New("stop: boom"), 130, true},
		{"container's code while interrupted", cancelled, exitError{code: 130}, 130, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errb bytes.Buffer
			if got := exitCode(tt.ctx, tt.err, &errb); got != tt.code {
				t.Errorf("exit code %d, want %d", got, tt.code)
			}
			if printed := errb.Len() > 0; printed != tt.printed {
				t.Errorf("printed %q, want printed=%v", errb.String(), tt.printed)
			}
		})
	}
}

func TestComposeGoWarningsAreOneLine(t *testing.T) {
	b, err := warningFormatter{}.Format(&logrus.Entry{Level: logrus.WarnLevel, Message: "the attribute `version` is obsolete\nsecond"})
	if err != nil || string(b) != "WARN the attribute `version` is obsolete; second\n" {
		t.Errorf("Format = %q, %v", b, err)
	}
}

func TestSeveralRefusalsOnePerLine(t *testing.T) {
	err := errors.Join(
		spec.FieldError{File: "compose.yaml", Path: "services.web.runtime", Issue: "not supported by berth yet"},
		spec.FieldError{File: "compose.yaml", Path: "services.web.storage_opt", Issue: "not supported"},
	)
	var errb bytes.Buffer
	if code := exitCode(t.Context(), err, &errb); code != 1 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "Error: compose.yaml: services.web.runtime:") || !strings.HasPrefix(lines[1], "Error: compose.yaml: services.web.storage_opt:") {
		t.Errorf("printed %q", errb.String())
	}
}
