package dockerapi

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"

	"github.com/berth-dev/berth/engine"
)

// maxArchive bounds the file content of an archive uploaded with
// `PUT /containers/{id}/archive`.
const maxArchive = 8 << 30

// pathStatHeader is the header that describes the path of an archive
// request.
const pathStatHeader = "X-Docker-Container-Path-Stat"

// archiveTarget reads what the archive endpoints act on: the path
// parameter they require and the container.
func (s *Server) archiveTarget(r *http.Request) (string, *engine.Container, error) {
	p := r.URL.Query().Get("path")
	if p == "" {
		return "", nil, fmt.Errorf("path is required: %w", errdefs.ErrInvalidArgument)
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	return p, c, err
}

// setPathStat writes st into the X-Docker-Container-Path-Stat header:
// base64 of its JSON, as Docker.
func setPathStat(w http.ResponseWriter, st engine.PathStat) {
	b, _ := json.Marshal(container.PathStat{Name: st.Name, Size: st.Size, Mode: st.Mode, Mtime: st.Mtime, LinkTarget: st.LinkTarget}) // plain data
	w.Header().Set(pathStatHeader, base64.StdEncoding.EncodeToString(b))
}

// archiveHead is `HEAD /containers/{id}/archive?path=`: the path's
// description alone.
func (s *Server) archiveHead(w http.ResponseWriter, r *http.Request) error {
	p, c, err := s.archiveTarget(r)
	if err != nil {
		return err
	}
	st, err := s.eng.StatPath(r.Context(), c.ID, p)
	if err != nil {
		return err
	}
	setPathStat(w, st)
	w.WriteHeader(http.StatusOK)
	return nil
}

// archiveGet is `GET /containers/{id}/archive?path=`: a tar of the path,
// its description in the header.
func (s *Server) archiveGet(w http.ResponseWriter, r *http.Request) error {
	p, c, err := s.archiveTarget(r)
	if err != nil {
		return err
	}
	started := false
	err = s.eng.CopyOut(r.Context(), string(c.ID), p, func(st engine.PathStat) error {
		setPathStat(w, st)
		w.Header().Set("Content-Type", "application/x-tar")
		w.WriteHeader(http.StatusOK)
		started = true
		return nil
	}, w)
	if err != nil && started {
		// The header is out: the client sees a truncated archive.
		s.log.Warn("archive", "container", c.Config.Name, "path", p, "err", err)
		return nil
	}
	return err
}

// archivePut is `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`:
// the tar body extracted into the directory path.
func (s *Server) archivePut(w http.ResponseWriter, r *http.Request) error {
	p, c, err := s.archiveTarget(r)
	if err != nil {
		return err
	}
	opt := engine.CopyInOptions{CopyUIDGID: boolParam(r, "copyUIDGID"), NoOverwriteDirNonDir: boolParam(r, "noOverwriteDirNonDir"), MaxBytes: maxArchive}
	body, err := decompressed(r.Body)
	if err != nil {
		return err
	}
	if err := s.eng.CopyIn(r.Context(), string(c.ID), p, body, opt); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// decompressed is the tar archive r holds, plain or compressed with gzip or
// bzip2 (as Docker takes it: testcontainers sends gzip).
func decompressed(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("archive: gzip: %v: %w", err, errdefs.ErrInvalidArgument)
		}
		return zr, nil
	case bytes.HasPrefix(magic, []byte("BZh")):
		return bzip2.NewReader(br), nil
	}
	return br, nil
}

// containerTop is `GET /containers/{id}/top`: the processes of a running
// container, with the columns berth knows of each.
func (s *Server) containerTop(w http.ResponseWriter, r *http.Request) error {
	if a := r.URL.Query().Get("ps_args"); a != "" && a != "-ef" {
		return fmt.Errorf("ps_args=%q: not supported by berth (only -ef): %w", a, errdefs.ErrInvalidArgument)
	}
	c, err := s.container(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	procs, err := s.eng.Top(r.Context(), c.ID)
	if err != nil {
		return err
	}
	out := container.TopResponse{Titles: []string{"UID", "PID", "PPID", "CMD"}, Processes: [][]string{}}
	for _, p := range procs {
		out.Processes = append(out.Processes, []string{strconv.Itoa(p.UID), strconv.Itoa(p.PID), strconv.Itoa(p.PPID), p.Cmd})
	}
	return writeJSON(w, http.StatusOK, out)
}

// containerRename is `POST /containers/{id}/rename?name=`.
func (s *Server) containerRename(w http.ResponseWriter, r *http.Request) error {
	name := r.URL.Query().Get("name")
	if name == "" {
		return fmt.Errorf("name is required: %w", errdefs.ErrInvalidArgument)
	}
	return s.lifecycle(w, r, func(ctx context.Context, c *engine.Container) error {
		return s.eng.Rename(ctx, string(c.ID), name)
	})
}
