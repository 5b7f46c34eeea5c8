package diskusage

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOf(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 64<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := Of(dir); n < 64<<10 {
		t.Errorf("Of(dir with 64 KiB written) = %d", n)
	}
	if n := Of(filepath.Join(dir, "missing")); n != 0 {
		t.Errorf("Of(missing) = %d, want 0", n)
	}
}
