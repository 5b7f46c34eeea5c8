package reconciler

import (
	"slices"
	"testing"
)

func TestFailedUpTakesBackWhatItMade(t *testing.T) {
	f := newFake()
	f.FailOn("start", "p-client-1")
	if _, err := Converge(t.Context(), deps(f), "p", project(), Options{Mode: ModeUp}, ApplyOptions{Parallel: 2}); err == nil {
		t.Fatal("up succeeded though client's start failed")
	}
	if n := containers(t, f); len(n) != 0 {
		t.Errorf("containers left: %d", len(n))
	}
	if v := volumeNames(t, f); len(v) != 0 {
		t.Errorf("volumes left: %v", v)
	}
	if nets, _ := f.Networks().List(t.Context(), nil); len(nets) != 0 {
		t.Errorf("networks left: %d", len(nets))
	}
}

func TestFailedUpKeepsWhatWasThere(t *testing.T) {
	f := newFake()
	d := deps(f)
	if _, err := Converge(t.Context(), d, "p", project(), Options{Mode: ModeUp}, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// client is recreated and fails to start; a new service's container
	// that starts is taken back with it.
	p := project()
	service(p, "client").Command = []string{"wget", "-q", "http://web/"}
	extra := *service(p, "web")
	extra.Name, extra.Mounts = "extra", nil
	p.Services = append(p.Services, extra)
	f.FailOn("start", "p-client-1")
	if _, err := Converge(t.Context(), d, "p", p, Options{Mode: ModeUp}, ApplyOptions{}); err == nil {
		t.Fatal("up succeeded though client's start failed")
	}
	var names []string
	for _, c := range containers(t, f) {
		names = append(names, c.Config.Name)
	}
	if want := []string{"p-client-1", "p-web-1"}; !slices.Equal(names, want) {
		t.Errorf("containers %v, want %v: the recreated one and the untouched one stay, the new one goes", names, want)
	}
	if v := volumeNames(t, f); !slices.Equal(v, []string{"p_site"}) {
		t.Errorf("volumes %v, want p_site kept", v)
	}
	if _, err := f.Networks().Get(t.Context(), "p_default"); err != nil {
		t.Errorf("the network that was there: %v", err)
	}
}
