package dockerapi

import (
	"encoding/base64"
	"net/http/httptest"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestClientKeychain(t *testing.T) {
	reg, err := name.NewRegistry("127.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	enc := func(s string) string { return base64.URLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name, header string
		wantUser     string // "": no keychain
		wantErr      bool
	}{
		{name: "no header"},
		{name: "no credentials", header: enc(`{"serveraddress":"127.0.0.1:5000"}`)},
		{name: "user and password", header: enc(`{"username":"me","password":"secret","serveraddress":"127.0.0.1:5000"}`), wantUser: "me"},
		{name: "unpadded", header: base64.RawURLEncoding.EncodeToString([]byte(`{"username":"you","password":"p"}`)), wantUser: "you"},
		{name: "not base64", header: "%%%", wantErr: true},
		{name: "not JSON", header: enc(`{"username":`), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/images/create?fromImage=x", nil)
			if tc.header != "" {
				r.Header.Set(registryAuthHeader, tc.header)
			}
			keys, err := clientKeychain(r)
			if tc.wantErr {
				if !errdefs.IsInvalidArgument(err) {
					t.Fatalf("err %v, want invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantUser == "" {
				if keys != nil {
					t.Fatalf("a keychain for %q, want none", tc.header)
				}
				return
			}
			a, err := keys.Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := a.Authorization()
			if err != nil || cfg.Username != tc.wantUser {
				t.Fatalf("authorization %+v (%v), want user %q", cfg, err, tc.wantUser)
			}
		})
	}
}
