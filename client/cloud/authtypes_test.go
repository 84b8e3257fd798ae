package cloud

import (
	"context"
	"net/http"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// keyAuth is the authenticator of a made-up auth type.
type keyAuth struct{ key, endpoint string }

func (a *keyAuth) Endpoint(context.Context, string) (string, error) { return a.endpoint, nil }
func (a *keyAuth) Authorize(_ context.Context, req *http.Request, _ *client.Renewals) (string, error) {
	req.Header.Set("X-Api-Key", a.key)
	return a.key, nil
}
func (a *keyAuth) Renew(context.Context, string) error { return nil }
func (a *keyAuth) Secrets() []string                   { return []string{a.key} }

// Adding an auth type is one entry of authTypes: its key is read from clouds.yaml and
// secure.yaml, is known to the unknown-key check, is required, and builds its
// authenticator, with nothing else touched.
func TestAnAuthTypeIsOneEntry(t *testing.T) {
	saved := authTypes
	t.Cleanup(func() { authTypes = saved })
	authTypes = append(append([]authType(nil), saved...), authType{
		name:     "apikey",
		authKeys: []string{"api_key"},
		requires: func(c *Config) []required {
			return []required{{[]string{"auth.api_key"}, c.Auth["api_key"] != ""}, {[]string{"compute_endpoint_override"}, c.ComputeEndpointOverride != ""}}
		},
		authenticator: func(c *Config, _ client.Options) client.Authenticator {
			return &keyAuth{key: c.Auth["api_key"], endpoint: c.ComputeEndpointOverride}
		},
	})
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", `clouds:
  keyed:
    auth_type: apikey
    compute_endpoint_override: https://compute.example/v2.1/p
  unkeyed:
    auth_type: apikey
    compute_endpoint_override: https://compute.example/v2.1/p
`)
	writeFile(t, dir, "secure.yaml", "clouds:\n  keyed:\n    auth:\n      api_key: k-123\n")
	clouds, err := ReadClouds(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if unknown := clouds.UnknownKeys(); len(unknown) != 0 {
		t.Errorf("unknown keys %v", unknown)
	}
	cfg, err := clouds.Load("keyed")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := cfg.Authenticator(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := auth.(*keyAuth); !ok || a.key != "k-123" || a.endpoint != "https://compute.example/v2.1/p" {
		t.Errorf("authenticator %#v", auth)
	}
	if _, err := clouds.Load("unkeyed"); err == nil {
		t.Error("a cloud without its api_key loaded")
	}
}
