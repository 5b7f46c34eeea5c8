package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/berth-dev/berth/reconciler"
)

// plainSink renders progress events as Docker Compose's plain progress does:
// one line per event, "<Kind> <name>  <Status>".
type plainSink struct {
	mu sync.Mutex // guards w
	w  io.Writer
}

func (s *plainSink) Event(e reconciler.Event) {
	kind, name, _ := strings.Cut(e.Target, "/")
	if kind != "" {
		kind = strings.ToUpper(kind[:1]) + kind[1:]
	}
	line := fmt.Sprintf(" %s %s  %s", kind, name, e.Status)
	if e.Err != nil {
		line += ": " + e.Err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintln(s.w, line)
}

// jsonSink writes one JSON object per event.
type jsonSink struct {
	mu  sync.Mutex // guards enc
	enc *json.Encoder
}

func (s *jsonSink) Event(e reconciler.Event) {
	kind, name, _ := strings.Cut(e.Target, "/")
	ev := struct {
		Kind   string `json:"kind"`
		Name   string `json:"name"`
		Status string `json:"status"`
		Error  string `json:"error,omitempty"`
	}{kind, name, string(e.Status), ""}
	if e.Err != nil {
		ev.Error = e.Err.Error()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.enc.Encode(ev)
}

type quietSink struct{}

func (quietSink) Event(reconciler.Event) {}

func newSink(mode string, w io.Writer) (reconciler.EventSink, error) {
	switch mode {
	case "", "auto", "tty", "plain":
		return &plainSink{w: w}, nil
	case "json":
		return &jsonSink{enc: json.NewEncoder(w)}, nil
	case "quiet":
		return quietSink{}, nil
	}
	return nil, fmt.Errorf("--progress %q: must be one of auto, tty, plain, json, quiet", mode)
}

// isTerminal reports whether w (a writer or reader) is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
