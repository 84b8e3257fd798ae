package cloud

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// The project a compute listing without all_tenants covers: the token's, or AK/SK's
// configured one; a pre-issued token knows none.
func TestProjectID(t *testing.T) {
	srv := httptest.NewServer(simulator.New(simulator.Options{}))
	t.Cleanup(srv.Close)
	for name, tc := range map[string]struct {
		auth client.Authenticator
		want string
	}{
		"keystone, before any request": {demoKeystone(srv.URL), "0123456789abcdef0123456789abcdef"},
		"aksk":                         {&AKSK{AccessKey: "ak", SecretKey: "sk", ProjectID: "f00d"}, "f00d"},
	} {
		scoped, ok := tc.auth.(client.ProjectScoped)
		if !ok {
			t.Fatalf("%s: not a client.ProjectScoped", name)
		}
		if got, err := scoped.ScopeProject(context.Background()); err != nil || got != tc.want {
			t.Errorf("%s: ScopeProject = %q, %v; want %q", name, got, err, tc.want)
		}
	}
	if _, ok := client.Authenticator(&StaticToken{}).(client.ProjectScoped); ok {
		t.Error("a pre-issued token claims to know its project")
	}
}
