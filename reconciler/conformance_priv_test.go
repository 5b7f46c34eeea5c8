package reconciler

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-dev/berth/engine"
	"github.com/berth-dev/berth/engine/image"
	"github.com/berth-dev/berth/internal/testimage"
	"github.com/berth-dev/berth/internal/testutil"
	"github.com/berth-dev/berth/netmgr"
	"github.com/berth-dev/berth/reconciler/reconcilertest"
)

// TestPrivEngineConforms runs the runtime, volumes and images suites
// against the engine and its volume and image stores, each clause on a
// fresh root; images are pulled from an in-memory registry on 127.0.0.1.
func TestPrivEngineConforms(t *testing.T) {
	testutil.RequirePrivileged(t)
	t.Run("Runtime", func(t *testing.T) {
		reconcilertest.RunRuntimeSuite(t, func(t *testing.T) reconcilertest.Runtime { return privEngine(t) })
	})
	t.Run("Volumes", func(t *testing.T) {
		reconcilertest.RunVolumesSuite(t, func(t *testing.T) (reconcilertest.Volumes, reconcilertest.Runtime) {
			e := privEngine(t)
			return e.Volumes(), e
		})
	})
	t.Run("Images", func(t *testing.T) {
		refs := testRegistry(t)
		reconcilertest.RunImagesSuite(t, func(t *testing.T) (reconcilertest.Images, reconcilertest.Runtime, reconcilertest.ImageRefs) {
			e := privEngine(t)
			return e.Images(), e, refs
		})
	})
}

// testRegistry serves go-containerregistry's in-memory registry on
// 127.0.0.1 (spoken to over plain HTTP) holding one random image, and
// returns the references of the images suite there.
func testRegistry(t *testing.T) reconcilertest.ImageRefs {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	refs := reconcilertest.ImageRefs{Pullable: host + "/conformance/app:1", Unknown: host + "/conformance/missing:1"}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(refs.Pullable)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	return refs
}

// TestPrivNetworkManagerConforms runs the networks suite against the
// network manager, each clause on a fresh root: real bridges and rules.
func TestPrivNetworkManagerConforms(t *testing.T) {
	testutil.RequirePrivileged(t)
	reconcilertest.RunNetworksSuite(t, func(t *testing.T) reconcilertest.Networks { return privNetworks(t) })
}

// trackingEngine is the engine, noting the containers it makes so that the
// cleanup can look for what each left behind.
type trackingEngine struct {
	*engine.Engine
	mu  sync.Mutex // guards ids
	ids []engine.ContainerID
}

func (e *trackingEngine) Create(ctx context.Context, c engine.ContainerConfig) (*engine.Container, error) {
	ctr, err := e.Engine.Create(ctx, c)
	if err == nil {
		e.mu.Lock()
		e.ids = append(e.ids, ctr.ID)
		e.mu.Unlock()
	}
	return ctr, err
}

// privEngine is an engine without a network manager on a fresh root with
// busybox imported. Its cleanup removes every container and volume, then
// fails the test for anything left: a process, mount, cgroup or file of a
// container.
func privEngine(t *testing.T) *trackingEngine {
	t.Helper()
	root := t.TempDir()
	images := busyboxImages(t, root, "busybox:latest")
	eng, err := engine.New(engine.Options{Root: root, RunDir: filepath.Join(root, "run"), Shim: shimBinary(t)}, images, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &trackingEngine{Engine: eng}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		ctrs, err := eng.List(ctx, nil)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, c := range ctrs {
			if err := eng.Remove(ctx, c.ID, true); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		vols, err := eng.Volumes().List(ctx, nil)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, v := range vols {
			if err := eng.Volumes().Remove(ctx, v.Name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		assertNothingLeft(t, root, e.ids)
	})
	return e
}

// assertNothingLeft fails the test for a process naming root, a mount under
// it, and a cgroup or file of any of the containers ids.
func assertNothingLeft(t *testing.T, root string, ids []engine.ContainerID) {
	t.Helper()
	for _, pid := range testutil.ProcessesMentioning(root) {
		t.Errorf("process %d left behind", pid)
	}
	mounts, err := testutil.MountsUnder(root)
	if err != nil {
		t.Error(err)
	}
	for _, m := range mounts {
		t.Errorf("mount %s left behind", m)
	}
	for _, id := range ids {
		cgroups, _ := filepath.Glob("/sys/fs/cgroup/*/berth/" + string(id))
		if _, err := os.Stat("/sys/fs/cgroup/berth/" + string(id)); err == nil {
			cgroups = append(cgroups, "/sys/fs/cgroup/berth/"+string(id))
		}
		for _, cg := range cgroups {
			t.Errorf("cgroup %s left behind", cg)
		}
	}
	_ = filepath.WalkDir(root, func(p string, _ os.DirEntry, err error) error {
		for _, id := range ids {
			if strings.Contains(filepath.Base(p), string(id)) {
				t.Errorf("%s left behind", p)
			}
		}
		return nil
	})
}

// privNetworks is a network manager on a fresh root. Its cleanup removes
// every network, then fails the test for any link, mount, process or
// firewall rule of the suite's networks left.
func privNetworks(t *testing.T) *netmgr.Manager {
	t.Helper()
	root := t.TempDir()
	m, err := netmgr.New(netmgr.Options{Root: root, RunDir: filepath.Join(root, "run"), Pool: netip.MustParsePrefix("10.236.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.WithoutCancel(t.Context())
		nets, err := m.List(ctx, nil)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, n := range nets {
			if err := m.Remove(ctx, n.Name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		assertNothingLeft(t, root, nil)
		ifaces, err := net.Interfaces()
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, ifc := range ifaces {
			alias, _ := os.ReadFile(filepath.Join("/sys/class/net", ifc.Name, "ifalias"))
			if a := strings.TrimSpace(string(alias)); strings.HasSuffix(a, "@"+root) {
				t.Errorf("link %s (%s) left behind", ifc.Name, a)
			}
		}
		// The suite's networks, and only they, are named conformance-….
		for _, cmd := range [][]string{{"iptables", "-w", "-S"}, {"iptables", "-w", "-t", "nat", "-S"}, {"ip6tables", "-w", "-S"}, {"ip6tables", "-w", "-t", "nat", "-S"}} {
			out, err := exec.Command(cmd[0], cmd[1:]...).Output()
			if err != nil {
				t.Errorf("cleanup: %s: %v", strings.Join(cmd, " "), err)
			}
			for _, line := range strings.Split(string(out), "\n") {
				if strings.Contains(line, "berth:conformance-") {
					t.Errorf("%s rule left behind: %s", cmd[0], line)
				}
			}
		}
	})
	return m
}

// busyboxImages is the image store on root holding the busybox rootfs
// under each name of refs; a ref may carry Dockerfile changes after a
// space ("db:latest VOLUME /db").
func busyboxImages(t *testing.T, root string, refs ...string) *image.Store {
	t.Helper()
	images, err := image.Open(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	var tar bytes.Buffer
	if err := testimage.BusyboxRootfs(&tar); err != nil {
		t.Fatal(err)
	}
	for _, ref := range refs {
		ref, change, _ := strings.Cut(ref, " ")
		opt := image.ImportOptions{Created: testimage.MTime}
		if change != "" {
			opt.Changes = []string{change}
		}
		if _, err := images.Import(t.Context(), bytes.NewReader(tar.Bytes()), ref, opt); err != nil {
			t.Fatal(err)
		}
	}
	return images
}

// The shim, built once for the package's tests as `make build` builds it.
var testShim struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := testutil.MainLocked(m.Run, false)
	if testShim.dir != "" {
		_ = os.RemoveAll(testShim.dir)
	}
	os.Exit(code)
}

// shimBinary is the shim for the engines of the package's tests.
func shimBinary(t *testing.T) string {
	t.Helper()
	testShim.once.Do(func() {
		if testShim.dir, testShim.err = os.MkdirTemp("", "berth-reconciler-test-"); testShim.err != nil {
			return
		}
		testShim.path = filepath.Join(testShim.dir, "berth-shim")
		testShim.err = testutil.BuildShim(testShim.path)
	})
	if testShim.err != nil {
		t.Fatal(testShim.err)
	}
	return testShim.path
}
