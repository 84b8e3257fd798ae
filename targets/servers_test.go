package targets

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// Each image API's cloud lists its servers through its stack's compute API, with the
// authenticator of its images: Nova's (all_tenants refused to a member, then the own
// project with its SOFT_DELETED servers) for nova and glance over Keystone, ECS's (the
// own project once) for ims with AK/SK.
func TestServerClientsListTheComputeAPI(t *testing.T) {
	const own, other = "0123456789abcdef0123456789abcdef", "c0ffee00c0ffee00c0ffee00c0ffee00"
	sim := simulator.New(simulator.Options{
		AccessKeys: []simulator.AccessKey{{AK: "AK", SK: "SK-secret"}},
		Servers: []simulator.Server{
			{ID: "s-soft", Status: simulator.ServerSoftDeleted}, {ID: "s-shelved", Status: simulator.ServerShelvedOffloaded},
			{ID: "s-gone", Status: simulator.ServerDeleted}, {ID: "s-other", ProjectID: other},
		},
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	password := fmt.Sprintf("    auth: {auth_url: %s/v3, username: demo, password: demo-secret, user_domain_name: Default, project_name: demo, project_domain_name: Default}\n    region_name: RegionOne\n", srv.URL)
	content := "clouds:\n  nova:\n" + password + "  glance:\n    image_api: glance\n" + password +
		fmt.Sprintf("  ims:\n    image_api: ims\n    auth_type: aksk\n    auth: {ak: AK, sk: SK-secret, project_id: %s}\n    image_endpoint_override: %s\n    compute_endpoint_override: %s/v2.1/%s\n", own, srv.URL, srv.URL, own)
	configs := map[string]*cloud.Config{}
	setWithoutDefault(t, content, Options{Build: func(cfg *cloud.Config) (collector.Target, error) {
		configs[cfg.Name] = cfg
		return collector.Target{Cloud: cfg.Name}, nil
	}})
	for name, wantRequests := range map[string]int{"nova": 3, "glance": 3, "ims": 1} {
		before := len(sim.ServerRequests())
		_, auth, err := newSource(configs[name], client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		src, err := newServerSource(configs[name], auth, client.Options{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := src.Servers(context.Background())
		want := []string{"s-shelved"}
		if name != "ims" {
			want = []string{"s-shelved", "s-soft"}
		}
		if err != nil || !slices.Equal(got.IDs, want) || got.AllProjects || got.Project != own {
			t.Errorf("%s: %+v, %v; want %v of project %s", name, got, err, want, own)
		}
		if n := len(sim.ServerRequests()) - before; n != wantRequests {
			t.Errorf("%s: %d servers requests, want %d", name, n, wantRequests)
		}
	}
}
