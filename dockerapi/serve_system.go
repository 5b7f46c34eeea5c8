package dockerapi

import (
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/engine"
)

func (s *Server) ping(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
	w.Header().Set("Pragma", "no-cache")
	w.Header().Set("Builder-Version", "1")
	w.Header().Set("OSType", "linux")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Length", "0")
		return nil
	}
	_, _ = w.Write([]byte("OK"))
	return nil
}

func (s *Server) version(w http.ResponseWriter, _ *http.Request) error {
	v := system.VersionResponse{
		Platform:      struct{ Name string }{Name: "berth"},
		Version:       s.opt.Version,
		APIVersion:    APIVersion,
		MinAPIVersion: MinAPIVersion,
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		Components: []system.ComponentVersion{{Name: "Engine", Version: s.opt.Version,
			Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": runtime.GOOS, "Arch": runtime.GOARCH}}},
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	ctrs, err := s.eng.List(r.Context(), nil)
	if err != nil {
		return err
	}
	imgs, err := s.eng.Images().List(r.Context())
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	info := system.Info{
		ID:              "berth",
		Containers:      len(ctrs),
		Images:          len(imgs),
		Driver:          "overlayfs",
		DockerRootDir:   s.opt.Root,
		OperatingSystem: "berth",
		OSType:          runtime.GOOS,
		Architecture:    runtime.GOARCH,
		NCPU:            runtime.NumCPU(),
		MemTotal:        memTotal(),
		KernelVersion:   kernelVersion(),
		Name:            host,
		ServerVersion:   s.opt.Version,
		CgroupDriver:    "cgroupfs",
		CgroupVersion:   "2",
		LoggingDriver:   "json-file",
		DefaultRuntime:  "runc",
		SystemTime:      time.Now().Format(time.RFC3339Nano),
	}
	for _, c := range ctrs {
		switch c.State.Status {
		case engine.StatusRunning, engine.StatusRestarting:
			info.ContainersRunning++
		case engine.StatusPaused:
			info.ContainersPaused++
		default:
			info.ContainersStopped++
		}
	}
	return writeJSON(w, http.StatusOK, info)
}

// memTotal is the host's memory in bytes.
func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// kernelVersion is the host kernel's release.
func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
