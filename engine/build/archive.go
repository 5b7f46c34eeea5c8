package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// decompress reads r through the decompressor its first bytes name (gzip,
// bzip2, xz, zstd), or as it is.
func decompress(r io.Reader) (io.ReadCloser, error) {
	br := bufio.NewReader(r)
	magic, _ := br.Peek(6) // a short read leaves fewer bytes: then it is plain
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return gzip.NewReader(br)
	case bytes.HasPrefix(magic, []byte("BZh")):
		return io.NopCloser(bzip2.NewReader(br)), nil
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		xr, err := xz.NewReader(br)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(xr), nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(br), nil
}

// isArchive tells whether the file p is a tar archive, compressed or not,
// as Docker tells it for ADD: its first entry reads.
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return false
	}
	defer r.Close()
	_, err = tar.NewReader(r).Next()
	return err == nil
}

// extract writes the entries of the archive f into the layer under the
// directory f.dst: names are cleaned so that none leaves it, hard links
// are re-rooted there, and ownership is the archive's unless --chown was
// given.
func (pl *copyPlan) extract(tw *tar.Writer, f srcFile, below lowers, made map[string]bool) error {
	file, err := os.Open(f.abs)
	if err != nil {
		return err
	}
	defer file.Close()
	r, err := decompress(file)
	if err != nil {
		return fmt.Errorf("archive %s: %w", f.abs, err)
	}
	defer r.Close()
	if err := pl.mkdirAll(tw, f.dst, below, made); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("archive %s: %w", f.abs, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
		if strings.HasPrefix(path.Base(name), ".wh.") {
			return fmt.Errorf("archive %s: entry %q: a name starting with .wh. cannot be extracted into a layer", f.abs, hdr.Name)
		}
		name = path.Join(f.dst, name)
		if err := pl.mkdirAll(tw, path.Dir(name), below, made); err != nil {
			return err
		}
		hdr.Name = name
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
			made[name] = true
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = path.Join(f.dst, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		}
		if pl.hasChown {
			hdr.Uid, hdr.Gid = pl.uid, pl.gid
		}
		hdr.Uname, hdr.Gname, hdr.Format = "", "", tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("archive %s: %w", f.abs, err)
		}
	}
}
