package build

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// describe evaluates the plan as a build would, with every image base
// empty: each step's name, what a layer step runs or copies (its cache key
// text) and each stage's final configuration.
func describe(t *testing.T, p *Plan) string {
	t.Helper()
	var b strings.Builder
	b.WriteString(p.String())
	states := map[*Stage]*stageConfig{}
	for _, s := range p.Stages {
		sc := &stageConfig{}
		if s.BaseStage != nil {
			sc = states[s.BaseStage].clone()
			sc.args, sc.cmdSet = envList{}, false
		}
		b.WriteString("\nstage " + s.Name + " from " + s.Base + "\n")
		triggers, err := p.onBuild(s, sc)
		if err != nil {
			t.Fatal(err)
		}
		cmds := append(triggers, s.Commands...)
		for i, c := range cmds {
			text := commandText(c)
			if i < len(triggers) {
				text = "ONBUILD " + text
			}
			st, err := p.apply(sc, c)
			if err != nil {
				b.WriteString(stepNameOf(s, i+1, len(cmds)+1, text+": error: "+err.Error()) + "\n")
				continue
			}
			if k := st.keyText(); k != "" {
				b.WriteString(stepNameOf(s, i+1, len(cmds)+1, k) + "\n")
			}
		}
		cfg, _ := json.MarshalIndent(sc.Config, "", "  ")
		b.WriteString("config " + string(cfg) + "\n")
		states[s] = sc
	}
	return b.String()
}

func TestPlanGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  PlanOptions
	}{
		{name: "multistage"},
		{name: "argscope", opt: PlanOptions{BuildArgs: map[string]string{"OVERRIDDEN": "given"}}},
		{name: "target", opt: PlanOptions{Target: "test"}},
		{name: "heredoc"},
		{name: "copyfrom"},
		{name: "copyflags"},
		{name: "onbuild"},
		{name: "bad-copy"},
		{name: "runmount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata/plan", tc.name+".Dockerfile"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Parse(data, tc.opt)
			if err != nil {
				t.Fatal(err)
			}
			got := describe(t, p)
			golden := filepath.Join("testdata/plan", tc.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("plan differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name, file, target, want string
	}{
		{name: "unknown instruction", file: "bad-instruction", want: "Dockerfile:3: unknown instruction: BOGUS"},
		{name: "copy from a later stage", file: "bad-from", want: "Dockerfile:2: --from=a names this stage or a later one"},
		{name: "unknown target", file: "target", target: "nope", want: `Dockerfile: target stage "nope" could not be found`},
		{name: "empty", file: "", want: "Dockerfile: file with no instructions"},
		{name: "unterminated heredoc", file: "bad-heredoc", want: "Dockerfile:2: unterminated heredoc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var data []byte
			if tc.file != "" {
				var err error
				if data, err = os.ReadFile(filepath.Join("testdata/plan", tc.file+".Dockerfile")); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Parse(data, PlanOptions{Target: tc.target})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
			var fe *Error
			if !errors.As(err, &fe) || !errdefs.IsInvalidArgument(err) {
				t.Errorf("%v: not an *Error of class InvalidArgument", err)
			}
		})
	}
}

// TestOnBuildTriggers: the triggers of a base image's configuration are
// parsed, cleared from the stage's, and a bad one names the FROM line.
func TestOnBuildTriggers(t *testing.T) {
	p, err := Parse([]byte("# a comment\nFROM parent\nRUN true\n"), PlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stages[0]
	sc := &stageConfig{}
	sc.Config.OnBuild = []string{"ARG WHO=child", "RUN echo $WHO", "COPY a /b"}
	cmds, err := p.onBuild(s, sc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, commandText(c))
	}
	if want := []string{"ARG WHO=child", "RUN echo $WHO", "COPY a /b"}; strings.Join(got, "|") != strings.Join(want, "|") || sc.Config.OnBuild != nil {
		t.Errorf("triggers %q (config keeps %q), want %q", got, sc.Config.OnBuild, want)
	}
	for _, tc := range []struct{ trigger, want string }{
		{"ONBUILD RUN x", `Dockerfile:2: ONBUILD trigger "ONBUILD RUN x" of parent: ONBUILD is not allowed as a trigger`},
		{"BOGUS x", `Dockerfile:2: ONBUILD trigger "BOGUS x" of parent: unknown instruction: BOGUS`},
	} {
		sc.Config.OnBuild = []string{tc.trigger}
		if _, err := p.onBuild(s, sc); err == nil || err.Error() != tc.want || !errdefs.IsInvalidArgument(err) {
			t.Errorf("trigger %q: got %v, want %s", tc.trigger, err, tc.want)
		}
	}
}
