package deploy

import (
	"strings"
	"testing"
)

type svcSpec struct {
	Image string
	Env   []string `json:",omitempty"`
	Ports []int    `json:",omitempty"`
}

func svc(name, image string, after ...string) Object {
	return Object{Kind: KindService, Name: "p_" + name, Service: name, Spec: svcSpec{Image: image}, After: after}
}

func observed(o Object, spec any) Object {
	o.ID, o.Version, o.Spec = "id-"+o.Name, 7, spec
	return o
}

func TestCompute(t *testing.T) {
	net := Object{Kind: KindNetwork, Name: "p_default", Immutable: true}
	cfgNew := Object{Kind: KindConfig, Name: "p_motd-2", Immutable: true}
	cfgOld := observed(Object{Kind: KindConfig, Name: "p_motd-1", Immutable: true}, nil)
	// Versions of one Compose config: the file now makes motd-2.
	motd1 := observed(Object{Kind: KindConfig, Name: "p_motd-1", Immutable: true, Lineage: "motd"}, nil)
	motd2 := Object{Kind: KindConfig, Name: "p_motd-2", Immutable: true, Lineage: "motd"}
	for _, tc := range []struct {
		name     string
		desired  []Object
		observed []Object
		opt      PlanOptions
		want     string
	}{
		{
			name:    "an empty cluster gets everything, dependencies first",
			desired: []Object{svc("web", "a", "db"), svc("db", "b"), net, cfgNew},
			want:    "create network p_default\ncreate config p_motd-2\ncreate service p_db\ncreate service p_web\n",
		},
		{
			name:     "nothing changed: nothing to do, defaults filled in by the cluster are no change",
			desired:  []Object{svc("web", "a"), net},
			observed: []Object{observed(svc("web", "a"), map[string]any{"Image": "a", "Env": []string{}, "ForceUpdate": 0}), observed(net, nil)},
			want:     "unchanged network p_default\nunchanged service p_web\nnothing to change\n",
		},
		{
			name:     "a changed service is updated with a field diff, the other not",
			desired:  []Object{svc("web", "a2"), svc("db", "b")},
			observed: []Object{observed(svc("web", "a"), svcSpec{Image: "a", Env: []string{"X=1"}}), observed(svc("db", "b"), svcSpec{Image: "b"})},
			want:     "update service p_web (2 changes)\n  Env: [\"X=1\"] → (unset)\n  Image: \"a\" → \"a2\"\nunchanged service p_db\n",
		},
		{
			name:     "without --prune what left the file is kept",
			desired:  []Object{svc("web", "a"), cfgNew},
			observed: []Object{observed(svc("web", "a"), svcSpec{Image: "a"}), observed(svc("old", "x"), nil), cfgOld},
			want:     "create config p_motd-2\nunchanged service p_web\nkeep config p_motd-1 (not in the file; --prune removes it)\nkeep service p_old (not in the file; --prune removes it)\n",
		},
		{
			name:     "a config's earlier version goes once its successor is made, without --prune",
			desired:  []Object{motd2, svc("web", "a")},
			observed: []Object{motd1, observed(svc("web", "a"), svcSpec{Image: "a"})},
			want:     "create config p_motd-2\nremove config p_motd-1\nunchanged service p_web\n",
		},
		{
			name:     "... but not when only some services are deployed: the others may use it",
			desired:  []Object{motd2, svc("web", "a")},
			observed: []Object{motd1, observed(svc("web", "a"), svcSpec{Image: "a"})},
			opt:      PlanOptions{Services: []string{"web"}},
			want:     "create config p_motd-2\nunchanged service p_web\n",
		},
		{
			name:     "--prune removes services before what they used",
			desired:  []Object{svc("web", "a")},
			observed: []Object{cfgOld, observed(svc("web", "a"), svcSpec{Image: "a"}), observed(svc("old", "x"), nil)},
			opt:      PlanOptions{Prune: true},
			want:     "remove service p_old\nremove config p_motd-1\nunchanged service p_web\n",
		},
		{
			name:     "naming services deploys only those and prunes nothing",
			desired:  []Object{svc("web", "a2"), svc("db", "b2")},
			observed: []Object{observed(svc("web", "a"), svcSpec{Image: "a"}), observed(svc("old", "x"), nil)},
			opt:      PlanOptions{Services: []string{"db"}, Prune: true},
			want:     "create service p_db\n",
		},
		{
			name:     "down removes everything",
			desired:  []Object{svc("web", "a")},
			observed: []Object{observed(net, nil), cfgOld, observed(svc("web", "a"), nil)},
			opt:      PlanOptions{Down: true},
			want:     "remove service p_web\nremove config p_motd-1\nremove network p_default\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Compute(tc.desired, tc.observed, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			if got := plan.String(); got != tc.want {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestComputeRefusesACycle(t *testing.T) {
	_, err := Compute([]Object{svc("a", "x", "b"), svc("b", "x", "a")}, nil, PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "depends_on cycle") {
		t.Fatalf("err = %v", err)
	}
}
