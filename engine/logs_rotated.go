package engine

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"strconv"
)

// rotatedLogs are the rotated files of the log at path (path.1, path.2, …),
// oldest first.
func rotatedLogs(path string) []string {
	var out []string
	for i := 1; ; i++ {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		out = append([]string{p}, out...)
	}
	return out
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
	readLines := func(f *os.File) (int64, error) {
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
		f, err := os.Open(p)
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
