package engine

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// shimMaxLine is MAX_LINE of cmd/berth-shim/shim.c: longer lines are split.
const shimMaxLine = 16 << 10

// FuzzLogLine writes what a container printed as the shim writes
// container.log, and reads it back with the log reader; then reads
// arbitrary bytes as a log, current and rotated. Properties: no panic; the
// reader returns each line the shim wrote, its text with each byte that is
// not UTF-8 replaced by U+FFFD, its stream and time; --tail returns the
// last lines; on arbitrary bytes it returns at most one entry per line and
// no more than --tail asks.
func FuzzLogLine(f *testing.F) {
	f.Add([]byte("line 0\nline 1\n"), false, int64(1741064400), uint32(0), 1, []byte(`{"time":"2025-03-04T05:00:00Z","stream":"stdout","log":"a"}`+"\nnot json\n"+`{"time":"2025-03-04T05:00:01Z","str`))
	f.Add([]byte("tab\there \"quoted\" back\\slash \x01\x1f\x7f\r\n"), true, int64(0), uint32(123456789), -1, []byte("\n\n\n"))
	f.Add([]byte("bad utf-8 \xff\xfe \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 ok \xe2\x82\xac \xef\xbf\xbd no newline"), false, int64(253402300799), uint32(999999999), 0, []byte(`{"time":"x","log":1}`+"\n"))
	f.Add(bytes.Repeat([]byte("€"), shimMaxLine/3+1), true, int64(1), uint32(1), 2, []byte{})
	f.Fuzz(func(t *testing.T, out []byte, stderr bool, sec int64, nsec uint32, tail int, junk []byte) {
		stream := "stdout"
		if stderr {
			stream = "stderr"
		}
		// A wall-clock time as the shim reads it: after 1970, before 10000.
		ts := time.Unix(absMod(sec, 253402300800), int64(nsec%1e9)).UTC()
		var log []byte
		var want []LogLine
		for _, line := range shimLines(out) {
			log = appendShimEntry(log, ts, stream, line)
			want = append(want, LogLine{Time: ts, Stream: stream, Text: sanitizeUTF8(line)})
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "container.log")
		if err := os.WriteFile(p, log, 0o644); err != nil {
			t.Fatal(err)
		}
		got := readLogLines(t, p, -1)
		if !slices.EqualFunc(got, want, sameLogLine) {
			t.Fatalf("read %q, wrote %q:\n%q", got, want, log)
		}
		n := len(want)
		k := absMod(int64(tail), int64(n)+2)
		if got := readLogLines(t, p, int(k)); !slices.EqualFunc(got, want[n-min(n, int(k)):], sameLogLine) {
			t.Fatalf("tail %d: read %q of %q", k, got, want)
		}

		lines := bytes.Count(junk, []byte("\n"))
		if err := os.WriteFile(p, junk, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := readLogLines(t, p, tail); len(got) > lines || (tail >= 0 && len(got) > tail) {
			t.Fatalf("tail %d: %d entries from %d lines", tail, len(got), lines)
		}
		if err := os.WriteFile(p+".1", junk, 0o644); err != nil {
			t.Fatal(err)
		}
		var history []LogLine
		lr := logReader{path: p, opt: LogOptions{Tail: tail}, fn: func(l LogLine) error { history = append(history, l); return nil }}
		if err := lr.readHistory(rotatedLogs(p)); err != nil {
			t.Fatal(err)
		}
		if len(history) > 2*lines || (tail >= 0 && len(history) > tail) {
			t.Fatalf("tail %d over a rotated log: %d entries from %d lines", tail, len(history), 2*lines)
		}
	})
}

func absMod(a, m int64) int64 {
	if a %= m; a < 0 {
		a += m
	}
	return a
}

func readLogLines(t *testing.T, p string, tail int) []LogLine {
	t.Helper()
	var got []LogLine
	lr := logReader{path: p, opt: LogOptions{Tail: tail}, fn: func(l LogLine) error { got = append(got, l); return nil }}
	if _, err := lr.readAvailable(); err != nil {
		t.Fatal(err)
	}
	return got
}

func sameLogLine(a, b LogLine) bool {
	return a.Time.Equal(b.Time) && a.Stream == b.Stream && a.Text == b.Text
}

// shimLines cuts a stream's output into log entries as the shim's feed()
// does: one per line, without the newline, lines longer than MAX_LINE bytes
// split (even within a UTF-8 sequence); the end of the stream ends the last.
func shimLines(out []byte) [][]byte {
	var lines [][]byte
	for len(out) > 0 {
		line, rest, found := bytes.Cut(out, []byte("\n"))
		for len(line) > shimMaxLine {
			lines = append(lines, line[:shimMaxLine])
			line = line[shimMaxLine:]
		}
		if found || len(line) > 0 {
			lines = append(lines, line)
		}
		out = rest
	}
	return lines
}

// appendShimEntry appends the entry the shim's emit() writes: buf_time's
// time, then the line as buf_json_string escapes it (", \ and control
// characters escaped, each byte that does not start valid UTF-8 written
// \ufffd).
func appendShimEntry(b []byte, ts time.Time, stream string, line []byte) []byte {
	b = append(b, `{"time":"`...)
	b = ts.AppendFormat(b, "2006-01-02T15:04:05")
	if ns := ts.Nanosecond(); ns > 0 {
		b = append(b, strings.TrimRight(ts.Format(".000000000"), "0")...)
	}
	b = append(b, `Z","stream":"`+stream+`","log":"`...)
	for len(line) > 0 {
		c := line[0]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		case c < 0x80:
			b = append(b, c)
		default:
			r, size := utf8.DecodeRune(line)
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, line[:size]...)
			}
			line = line[size:]
			continue
		}
		line = line[1:]
	}
	return append(b, "\"}\n"...)
}

// sanitizeUTF8 is s with each byte that does not start valid UTF-8
// replaced by U+FFFD.
func sanitizeUTF8(s []byte) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.Write(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
