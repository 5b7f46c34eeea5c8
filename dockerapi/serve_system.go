package dockerapi

import (
	"net/http"
	"runtime"

	"github.com/moby/moby/api/types/system"
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
	info, err := Info(r.Context(), s.eng, InfoOptions{Version: s.opt.Version, Root: s.opt.Root})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, info)
}
