package shim

import (
	"os"
	"syscall"
)

// startRemoval starts `berth container rm ID` (the berth binary --berth
// names, else this one, with the shim's root, run directory and runtime) to remove the container now that
// its run is over (--auto-remove, docker run --rm -d). The remover runs in
// its own session and the shim does not wait for it: the shim's exit is
// what Stop and Wait watch for, and the removal waits for the container's
// lock, which a Stop may hold. Its errors go to the shim's standard error
// (shim.log, kept if the removal fails); a removal that never happens is
// done by the engine's SweepAutoRemove at the next berth command that
// sweeps.
func (s *shim) startRemoval() {
	exe := s.opt.berth
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			s.logf("auto-remove: " + err.Error())
			return
		}
	}
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		s.logf("auto-remove: " + err.Error())
		return
	}
	defer devnull.Close()
	// The shim's working directory is already "/" (the engine starts it there).
	p, err := spawn([]string{exe, "--root", s.opt.root, "--run-dir", s.opt.runDir, "--runtime", s.opt.runtime,
		"container", "rm", s.opt.id}, []*os.File{devnull, devnull, os.Stderr}, &syscall.SysProcAttr{Setsid: true})
	if err != nil {
		s.logf("auto-remove: " + err.Error())
		return
	}
	_ = p.Release()
}
