package spec

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/errdefs"
)

func TestCheckSupported(t *testing.T) {
	t.Run("every unsupported attribute, sorted, with its path", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkingDir: copyCase(t, "unsupported")})
		err := p.CheckSupported()
		if !errdefs.IsNotImplemented(err) {
			t.Fatalf("CheckSupported = %v, want not implemented", err)
		}
		want := []string{
			`compose.yaml: networks.front.driver: "overlay" is not supported by berth yet (supported: "bridge")`,
			`compose.yaml: secrets.ext.external: not supported: external secrets live in a Swarm cluster`,
			`compose.yaml: volumes.data.driver: "nfs" is not supported by berth yet (supported: "local")`,
			`compose.yaml: volumes.data.driver_opts.addr: not supported: the local volume driver takes type, o and device (size needs project quotas, which berth's volumes do not have)`,
		}
		if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
			t.Errorf("CheckSupported:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		var fe FieldError
		if !errors.As(err, &fe) || fe.Path != "networks.front.driver" {
			t.Errorf("first error = %#v, want a FieldError for networks.front.driver", fe)
		}
	})
	t.Run("config still renders", func(t *testing.T) {
		p := mustLoad(t, LoadOptions{WorkingDir: copyCase(t, "unsupported")})
		out, err := p.Render("yaml")
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"placement:", "healthcheck:", "restart: always"} {
			if !strings.Contains(string(out), s) {
				t.Errorf("Render lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("the file that sets the attribute is named", func(t *testing.T) {
		dir := copyCase(t, "discovery")
		writeFile(t, dir+"/compose.override.yaml", "services:\n  web:\n    storage_opt: {size: 1G}\n    deploy: {mode: global}\n")
		err := mustLoad(t, LoadOptions{WorkingDir: dir}).CheckSupported()
		want := "compose.override.yaml: services.web.deploy.mode: \"global\" is not supported by berth yet (supported: \"replicated\")\n" +
			"compose.override.yaml: services.web.storage_opt: not supported: per-container storage options need a storage driver with quotas; berth's overlay layers have none"
		if err == nil || err.Error() != want {
			t.Errorf("CheckSupported = %v, want:\n%s", err, want)
		}
	})
	t.Run("an included file is named", func(t *testing.T) {
		dir := copyCase(t, "include")
		writeFile(t, dir+"/sub/compose.yaml", "services:\n  db:\n    image: db\n    deploy: {mode: global}\n")
		err := mustLoad(t, LoadOptions{WorkingDir: dir}).CheckSupported()
		if want := "sub/compose.yaml: services.db.deploy.mode: \"global\" is not supported by berth yet (supported: \"replicated\")"; err == nil || err.Error() != want {
			t.Errorf("CheckSupported = %v, want %s", err, want)
		}
	})
	for _, name := range []string{"realistic", "networks", "include", "extends", "scale", "profiles", "envfiles"} {
		t.Run("supported project "+name, func(t *testing.T) {
			p := mustLoad(t, LoadOptions{WorkingDir: copyCase(t, name), Profiles: []string{"*"}})
			if err := p.CheckSupported(); err != nil {
				t.Errorf("CheckSupported = %v", err)
			}
		})
	}
	t.Run("values berth runs", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, dir+"/compose.yaml", `services:
  web:
    image: web
    restart: "no"
    pull_policy: if_not_present
    init: false
    deploy:
      mode: replicated
      replicas: 1
    depends_on:
      db:
        condition: service_started
        required: false
        restart: true
    networks:
      default:
        aliases: [w]
  db:
    image: db
    pull_policy: never
networks:
  default:
    driver: bridge
    internal: true
    labels: {a: b}
`)
		if err := mustLoad(t, LoadOptions{WorkingDir: dir}).CheckSupported(); err != nil {
			t.Errorf("CheckSupported = %v", err)
		}
	})
}
