package image

import (
	"reflect"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	for _, tc := range []struct {
		name    string
		changes []string
		want    v1.Config
	}{
		{"cmd exec form", []string{`CMD ["a", "b c"]`}, v1.Config{Cmd: []string{"a", "b c"}}},
		{"cmd shell form", []string{`cmd echo "hi there"`}, v1.Config{Cmd: []string{"/bin/sh", "-c", `echo "hi there"`}}},
		{"cmd bad json is shell form", []string{`CMD [oops`}, v1.Config{Cmd: []string{"/bin/sh", "-c", "[oops"}}},
		{"entrypoint drops earlier cmd only if not set here", []string{`ENTRYPOINT ["x"]`}, v1.Config{Entrypoint: []string{"x"}}},
		{"entrypoint keeps cmd set before", []string{`CMD ["y"]`, `ENTRYPOINT ["x"]`}, v1.Config{Entrypoint: []string{"x"}, Cmd: []string{"y"}}},
		{"env forms", []string{`ENV A=1 B="two words" C=a\ b`, `ENV D legacy value`, `ENV A=3`},
			v1.Config{Env: []string{"A=3", "B=two words", "C=a b", "D=legacy value"}}},
		{"env single quotes", []string{`ENV A='$x "y"'`}, v1.Config{Env: []string{`A=$x "y"`}}},
		{"workdir relative", []string{"WORKDIR /a", "WORKDIR b/../c"}, v1.Config{WorkingDir: "/a/c"}},
		{"user", []string{"USER 1000:1000"}, v1.Config{User: "1000:1000"}},
		{"labels", []string{`LABEL a=b "c d"="e f"`}, v1.Config{Labels: map[string]string{"a": "b", "c d": "e f"}}},
		{"expose", []string{"EXPOSE 80 443/TCP 53/udp 8000-8002"}, v1.Config{ExposedPorts: map[string]struct{}{
			"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "8000/tcp": {}, "8001/tcp": {}, "8002/tcp": {}}}},
		{"volume forms", []string{`VOLUME ["/a", "/b"]`, "VOLUME /c /d"}, v1.Config{Volumes: map[string]struct{}{"/a": {}, "/b": {}, "/c": {}, "/d": {}}}},
		{"stopsignal", []string{"STOPSIGNAL 9", "STOPSIGNAL SIGRTMIN+3", "STOPSIGNAL term"}, v1.Config{StopSignal: "term"}},
		{"healthcheck none", []string{"HEALTHCHECK NONE"}, v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}}},
		{"healthcheck exec", []string{`HEALTHCHECK --timeout=2s CMD ["true"]`}, v1.Config{Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}, Timeout: 2e9}}},
		{"tab after keyword", []string{"USER\tnobody"}, v1.Config{User: "nobody"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got v1.Config
			if err := applyChanges(&got, tc.changes); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestApplyChangesErrors(t *testing.T) {
	for _, tc := range []struct{ change, mention string }{
		{"FROM scratch", "FROM"},
		{"RUN true", "RUN"},
		{"", "empty"},
		{"CMD", "missing"},
		{"ENV", "missing"},
		{"ENV A", "needs a value"},
		{"ENV A=1 B", "KEY=VALUE"},
		{`ENV A="x`, "quote"},
		{"EXPOSE 0", "port"},
		{"EXPOSE 80/icmp", "protocol"},
		{"EXPOSE 9-1", "port"},
		{"STOPSIGNAL SIGNOPE", "signal"},
		{"STOPSIGNAL 99", "range"},
		{"VOLUME [bad", "JSON"},
		{"HEALTHCHECK --bogus=1 CMD x", "option"},
		{"HEALTHCHECK x", "CMD"},
		{"WORKDIR", "missing"},
	} {
		t.Run(tc.change, func(t *testing.T) {
			var cfg v1.Config
			err := applyChanges(&cfg, []string{tc.change})
			if !errdefs.IsInvalidArgument(err) || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("err = %v; want invalid argument mentioning %q", err, tc.mention)
			}
		})
	}
}
