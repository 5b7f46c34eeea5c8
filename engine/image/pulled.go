package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-dev/berth/internal/atomicfile"
)

// pulledVersion is the version of a pull record.
const pulledVersion = 1

// pulledRecord says when a reference was last pulled, for pull_policy
// daily, weekly and every_<duration>: <root>/images/pulled/<hex>.json,
// hex the SHA-256 of the normalised reference.
type pulledRecord struct {
	Version int       `json:"version"`
	Ref     string    `json:"ref"`
	Time    time.Time `json:"time"`
}

func (s *Store) pulledPath(norm string) string {
	sum := sha256.Sum256([]byte(norm))
	return filepath.Join(s.root, "images", "pulled", hex.EncodeToString(sum[:])+".json")
}

// recordPull notes that norm was pulled at t.
func (s *Store) recordPull(norm string, t time.Time) error {
	p := s.pulledPath(norm)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("record the pull of %q: %w", norm, err)
	}
	if err := atomicfile.WriteJSON(p, pulledRecord{Version: pulledVersion, Ref: norm, Time: t.UTC()}, 0o644); err != nil {
		return fmt.Errorf("record the pull of %q: %w", norm, err)
	}
	return nil
}

// LastPulled returns when ref was last pulled into this store; the zero
// time if it never was (an image imported, loaded or built). A malformed
// reference is errdefs.ErrInvalidArgument; a corrupt record is an error
// naming its path.
func (s *Store) LastPulled(_ context.Context, ref string) (time.Time, error) {
	r, err := parseRef(ref)
	if err != nil {
		return time.Time{}, err
	}
	p := s.pulledPath(canonical(r))
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var rec pulledRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return time.Time{}, fmt.Errorf("pull record %s: %w", p, err)
	}
	if rec.Version != pulledVersion {
		return time.Time{}, fmt.Errorf("pull record %s: version %d is not known to this berth", p, rec.Version)
	}
	return rec.Time, nil
}
