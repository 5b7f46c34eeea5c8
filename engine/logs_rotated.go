package engine

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// gzSuffix names a rotated log the compress option has gzipped, as
// Docker's json-file and local drivers do (container.log.2.gz).
const gzSuffix = ".gz"

// rotatedLogs are the rotated files of the log at path (path.1 or
// path.1.gz, path.2…), oldest first. Where both names of one file exist
// (its compression is being finished) the compressed one is complete.
func rotatedLogs(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p + gzSuffix); err == nil {
			p += gzSuffix
		} else if _, err := os.Stat(p); err != nil {
			break
		}
		out = append([]string{p}, out...)
	}
	return out
}

// openRotated opens the rotated log p for reading its lines, decompressing
// a gzipped one. A plain file compressed meanwhile is read under its new
// name. A missing file is fs.ErrNotExist.
func openRotated(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) && !strings.HasSuffix(p, gzSuffix) {
		p += gzSuffix
		f, err = os.Open(p)
	}
	if err != nil || !strings.HasSuffix(p, gzSuffix) {
		return f, err
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("log %s: %w", p, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{zr, f}, nil
}

// CompressRotatedLogs gzips every rotated file of the container log at
// path that is not yet compressed (path.N into path.N.gz, written
// atomically, then path.N removed), as Docker's drivers do after a
// rotation when their compress option is set. The shim runs it (through
// `berth log-compress PATH`) after each rotation and does not rotate again
// before it is done; readers take path.N.gz where both names exist.
func CompressRotatedLogs(path string) error {
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name()] = true
	}
	var errs []error
	for _, e := range entries {
		n, ok := strings.CutPrefix(e.Name(), filepath.Base(path)+".")
		if _, err := strconv.Atoi(n); !ok || err != nil || !e.Type().IsRegular() {
			continue // not a plain rotated file
		}
		p := filepath.Join(filepath.Dir(path), e.Name())
		if names[e.Name()+gzSuffix] { // compressed, not yet removed
			errs = append(errs, os.Remove(p))
			continue
		}
		errs = append(errs, compressFile(p))
	}
	return errors.Join(errs...)
}

// compressFile writes p's content gzipped to p.gz and removes p.
func compressFile(p string) error {
	src, err := os.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		zw := gzip.NewWriter(pw)
		_, err := io.Copy(zw, src)
		pw.CloseWithError(errors.Join(err, zw.Close()))
	}()
	if err := atomicfile.WriteFrom(p+gzSuffix, pr, fi.Mode().Perm()); err != nil {
		_ = pr.CloseWithError(err)
		return fmt.Errorf("compress %s: %w", p, err)
	}
	return os.Remove(p)
}

// readHistory passes the lines of the rotated files and of the current one
// as it is now, oldest first, keeping only the last Tail (when not
// negative); a follow then goes on in the current file from there.
func (r *logReader) readHistory(rotated []string) error {
	cur, err := os.Open(r.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var ring [][]byte // the last Tail lines, when Tail >= 0
	pass := func(line []byte) error {
		if r.opt.Tail < 0 {
			return r.emit(line)
		}
		if r.opt.Tail == 0 {
			return nil
		}
		if len(ring) == r.opt.Tail {
			ring = ring[1:]
		}
		ring = append(ring, append([]byte(nil), line...))
		return nil
	}
	readLines := func(f io.Reader) (int64, error) {
		br := bufio.NewReaderSize(f, 64<<10)
		var off int64
		for !r.pastUntil {
			line, err := br.ReadSlice('\n')
			if err == bufio.ErrBufferFull {
				// A line longer than the buffer: gather it.
				long := append([]byte(nil), line...)
				for err == bufio.ErrBufferFull {
					line, err = br.ReadSlice('\n')
					long = append(long, line...)
				}
				line = long
			}
			if err == io.EOF {
				return off, nil // a line not yet complete is left for the follow
			}
			if err != nil {
				return off, err
			}
			off += int64(len(line))
			if err := pass(line[:len(line)-1]); err != nil {
				return off, err
			}
		}
		return off, nil
	}
	for _, p := range rotated {
		f, err := openRotated(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return err
		}
		_, err = readLines(f)
		_ = f.Close()
		if err != nil {
			return err
		}
	}
	var off int64
	if cur != nil {
		if off, err = readLines(cur); err != nil {
			_ = cur.Close()
			return err
		}
	}
	for _, line := range ring {
		if r.pastUntil {
			break
		}
		if err := r.emit(line); err != nil {
			if cur != nil {
				_ = cur.Close()
			}
			return err
		}
	}
	if !r.opt.Follow || cur == nil {
		if cur != nil {
			_ = cur.Close()
		}
		return nil
	}
	r.f, r.offset, r.opt.Tail = cur, off, -1
	return nil
}

// reopenIfRotated tells whether the file being followed was rotated away;
// if so, what remained in it is read and the new current file is opened
// from its start by the next readAvailable.
func (r *logReader) reopenIfRotated() (bool, error) {
	if r.f == nil {
		return false, nil
	}
	have, err := r.f.Stat()
	if err != nil {
		return false, err
	}
	now, err := os.Stat(r.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if err == nil && os.SameFile(have, now) {
		return false, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // not yet re-created: look again later
	}
	if _, err := r.readAvailable(); err != nil {
		return false, err
	}
	_ = r.f.Close()
	r.f, r.offset, r.partial, r.opt.Tail = nil, 0, nil, -1
	return true, nil
}
