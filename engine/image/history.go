package image

import (
	"context"
	"time"
)

// HistoryEntry is one step of an image's history, as docker image history
// lists it: the top one carries the image's ID and names, the others none.
type HistoryEntry struct {
	ID        string // the image's ID on the newest entry; "" below it
	Created   time.Time
	CreatedBy string
	Tags      []string
	Size      int64 // the size of the layer the step made; 0 for a step without one
	Comment   string
}

// History returns the history of img, newest first. The layers' sizes are
// those of their blobs. errdefs.ErrNotFound when its blobs are gone.
func (s *Store) History(ctx context.Context, img *Image) ([]HistoryEntry, error) {
	v, err := s.V1Image(ctx, img)
	if err != nil {
		return nil, err
	}
	cf, err := v.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := v.Manifest()
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	layer := 0
	for _, h := range cf.History {
		e := HistoryEntry{Created: h.Created.Time, CreatedBy: h.CreatedBy, Comment: h.Comment}
		if !h.EmptyLayer && layer < len(m.Layers) {
			e.Size = m.Layers[layer].Size
			layer++
		}
		out = append(out, e)
	}
	// Layers the history does not tell of (an image made without one).
	for ; layer < len(m.Layers); layer++ {
		out = append(out, HistoryEntry{Created: img.Created, Size: m.Layers[layer].Size})
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if len(out) == 0 {
		out = append(out, HistoryEntry{Created: img.Created})
	}
	out[0].ID, out[0].Tags = img.ID, img.RepoTags
	return out, nil
}
