package hostplatform

import "testing"

func TestIs(t *testing.T) {
	for p, want := range map[string]bool{
		"linux/amd64": true, "linux/x86_64": true, "linux/x86-64": true, "LINUX/AMD64": true, "linux/amd64/v3": true,
		"linux/arm64": false, "windows/amd64": false, "amd64": false, "linux/amd64/v3/x": false, "": false,
	} {
		if got := isFor(p, "amd64"); got != want {
			t.Errorf("isFor(%q, amd64) = %v, want %v", p, got, want)
		}
	}
	if !isFor("linux/aarch64", "arm64") {
		t.Error("aarch64 is arm64")
	}
}
