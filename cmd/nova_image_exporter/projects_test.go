package main

import "testing"

// The demo's Glance names its images' owning project, read by its admin user from the
// simulated Keystone; Nova sends no owner, so names none.
func TestDemoNamesOwningProjects(t *testing.T) {
	for api, want := range map[string]bool{"glance": true, "nova": false} {
		base, _ := startExporter(t, "--demo", "--images.api="+api)
		families := scrape(t, base+"/metrics")
		_, found := value(families, "nova_project_info",
			map[string]string{"project_id": "0123456789abcdef0123456789abcdef", "project_name": "demo", "domain_id": "default"})
		if found != want {
			t.Errorf("--images.api=%s: nova_project_info of the demo project found %t, want %t", api, found, want)
		}
	}
}
