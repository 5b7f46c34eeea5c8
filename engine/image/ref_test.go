package image

import (
	"net"
	"testing"

	"github.com/containerd/errdefs"
)

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"hello", "docker.io/library/hello:latest"},
		{"hello:1.2", "docker.io/library/hello:1.2"},
		{"library/hello", "docker.io/library/hello:latest"},
		{"docker.io/hello", "docker.io/library/hello:latest"},
		{"index.docker.io/library/hello:x", "docker.io/library/hello:x"},
		{"me/app", "docker.io/me/app:latest"},
		{"localhost/x", "localhost/x:latest"},
		{"localhost:5000/x", "localhost:5000/x:latest"},
		{"registry.example.com/a/b/c:t", "registry.example.com/a/b/c:t"},
		{"busybox@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64},
		{"busybox:1@sha256:" + hex64, "docker.io/library/busybox@sha256:" + hex64},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Normalize(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("Normalize(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	for _, in := range []string{"", "UPPER", "a b", "x:", "-x", "a/b-", "a..b", "x:-tag", hex64, "http://x/y"} {
		t.Run("bad "+in, func(t *testing.T) {
			if got, err := Normalize(in); !errdefs.IsInvalidArgument(err) {
				t.Errorf("Normalize(%q) = %q, %v; want invalid argument", in, got, err)
			}
		})
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestFamiliarName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"docker.io/library/hello:latest", "hello:latest"},
		{"docker.io/me/app:1", "me/app:1"},
		{"docker.io/library/a/b:1", "library/a/b:1"},
		{"index.docker.io/library/hello:latest", "hello:latest"},
		{"docker.io/library/busybox@sha256:" + hex64, "busybox@sha256:" + hex64},
		{"localhost:5000/x:latest", "localhost:5000/x:latest"},
		{"hello", "hello"},
		{"sha256:" + hex64, "sha256:" + hex64},
		{"", ""},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := FamiliarName(tc.in); got != tc.want {
				t.Errorf("FamiliarName(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestIsLocalRegistry: loopback names and addresses, and the addresses of
// this machine's interfaces, are local; other hosts are not.
func TestIsLocalRegistry(t *testing.T) {
	cases := map[string]bool{
		"localhost": true, "localhost:5000": true, "127.0.0.1:5000": true, "127.0.0.2": true, "[::1]:5000": true,
		"registry.example.com": false, "docker.io": false, "192.0.2.7:5000": false, // TEST-NET-1: on no interface here
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			cases[n.IP.String()+":5000"] = true
			break
		}
	}
	for host, want := range cases {
		if got := isLocalRegistry(host); got != want {
			t.Errorf("isLocalRegistry(%q) = %v, want %v", host, got, want)
		}
	}
}
