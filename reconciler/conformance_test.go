package reconciler

import (
	"testing"

	"github.com/berth-dev/berth/reconciler/reconcilertest"
)

// TestFakeConforms runs the contracts' suites against the fake the
// reconciler's tests use; conformance_priv_test.go runs them against the
// real implementations.
func TestFakeConforms(t *testing.T) {
	t.Run("Runtime", func(t *testing.T) {
		reconcilertest.RunRuntimeSuite(t, func(*testing.T) reconcilertest.Runtime { return newFake().Runtime() })
	})
	t.Run("Networks", func(t *testing.T) {
		reconcilertest.RunNetworksSuite(t, func(*testing.T) reconcilertest.Networks { return newFake().Networks() })
	})
	t.Run("Volumes", func(t *testing.T) {
		reconcilertest.RunVolumesSuite(t, func(*testing.T) (reconcilertest.Volumes, reconcilertest.Runtime) {
			f := newFake()
			return f.Volumes(), f.Runtime()
		})
	})
	t.Run("Images", func(t *testing.T) {
		reconcilertest.RunImagesSuite(t, func(*testing.T) (reconcilertest.Images, reconcilertest.Runtime, reconcilertest.ImageRefs) {
			f := newFake()
			f.AddToRegistry("registry.test/app:1")
			return f.Images(), f.Runtime(), reconcilertest.ImageRefs{Pullable: "registry.test/app:1", Unknown: "registry.test/missing:1"}
		})
	})
}
