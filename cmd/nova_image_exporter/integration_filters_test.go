//go:build integration

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// TestIntegrationFiltersMatchSimulator lists the real Nova and the simulator, loaded with
// the same images, with every listing option the exporter documents: both must list the
// same images, so that what docs/configuration.md says of a filter (and what the simulator-based tests
// assume) is what the real API does. The cases the documentation names are pinned too.
func TestIntegrationFiltersMatchSimulator(t *testing.T) {
	rs := loadRealstack(t)
	token := rs.token(t)
	listed := rs.novaImages(t, token)
	sim := simulator.New(simulator.Options{Images: rs.simulatorImages(t, token, listed)})
	srv := httptest.NewServer(sim)
	defer srv.Close()

	realClient := newListingClient(t, rs.cloudsFile, "realstack")
	simClient := newListingClient(t, writeClouds(t, fmt.Sprintf(`clouds:
  sim:
    auth:
      auth_url: %s/v3
      username: demo
      password: demo-secret
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    region_name: RegionOne
`, srv.URL)), "sim")

	updated := func(image string) string { return listed[rs.images[image]]["updated"].(string) }
	cases := []struct {
		options url.Values
		want    []string // IMG_* names pinned on the real API; nil to compare only
	}{
		{url.Values{"name": {"cirros-0.6.2-x86_64-disk"}}, []string{"IMG_ACTIVE"}},
		{url.Values{"name": {"Ubuntu 22.04 LTS – Ünïcödé 名前 test"}}, []string{"IMG_UNICODE"}},
		{url.Values{"name": {"cirros"}}, []string{}}, // exact, not a prefix
		{url.Values{"status": {"queued"}}, []string{"IMG_QUEUED"}},
		{url.Values{"status": {"deactivated"}}, []string{"IMG_DEACTIVATED"}},
		{url.Values{"status": {"ACTIVE"}}, nil},
		{url.Values{"status": {"killed"}}, []string{}},
		// min-ram and min-disk match exactly, not as lower bounds.
		{url.Values{"min-ram": {"300"}}, []string{}},
		{url.Values{"min-ram": {"512"}}, []string{"IMG_ACTIVE"}},
		{url.Values{"min-ram": {"256"}}, []string{"IMG_UNICODE"}},
		{url.Values{"min-ram": {"0"}}, nil},
		{url.Values{"min-disk": {"3"}}, []string{"IMG_PUBLIC"}},
		{url.Values{"min-disk": {"2"}}, []string{"IMG_DEACTIVATED"}},
		{url.Values{"min-disk": {"1"}}, nil},
		{url.Values{"type": {"snapshot"}}, []string{"IMG_SNAPSHOT"}},
		{url.Values{"type": {"backup"}}, []string{}},
		{url.Values{"server": {rs.images["SNAPSHOT_SERVER_UUID"]}}, []string{"IMG_SNAPSHOT"}},
		{url.Values{"server": {"00000000-0000-0000-0000-000000000000"}}, []string{}},
		{url.Values{"changes-since": {"2000-01-01T00:00:00Z"}}, nil},
		{url.Values{"changes-since": {time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}}, []string{}},
		{url.Values{"changes-since": {updated("IMG_PUBLIC")}}, nil},
		{url.Values{"changes-since": {updated("IMG_ACTIVE")}}, nil},
		{url.Values{"status": {"active"}, "min-ram": {"256"}}, []string{"IMG_UNICODE"}},
		{url.Values{"min-ram": {"64"}, "min-disk": {"1"}, "type": {"snapshot"}}, []string{"IMG_SNAPSHOT"}},
	}
	for _, tc := range cases {
		t.Run(tc.options.Encode(), func(t *testing.T) {
			selection, err := client.ParseSelection(client.Selection{}, tc.options)
			if err != nil {
				t.Fatal(err)
			}
			opts := selection.ListOptions(time.Now())
			gotReal := listIDs(t, realClient, opts)
			gotSim := listIDs(t, simClient, opts)
			if !slices.Equal(gotReal, gotSim) {
				t.Errorf("the real Nova lists %v, the simulator %v", gotReal, gotSim)
			}
			if tc.want == nil {
				return
			}
			want := []string{}
			for _, name := range tc.want {
				want = append(want, rs.images[name])
			}
			slices.Sort(want)
			if !slices.Equal(gotReal, want) {
				t.Errorf("the real Nova lists %v, want %v (%v)", gotReal, want, tc.want)
			}
		})
	}
}

func newListingClient(t *testing.T, cloudsFile, name string) *nova.Client {
	t.Helper()
	cfg, err := cloud.LoadCloud(cloudsFile, name)
	if err != nil {
		t.Fatal(err)
	}
	auth, opts, err := cfg.Connect(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return nova.New(auth, opts)
}

// listIDs lists with opts and returns the sorted ids.
func listIDs(t *testing.T, c *nova.Client, opts client.ListOptions) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	images, err := client.Collect(ctx, c, opts)
	if err != nil {
		t.Fatalf("listing with %+v: %v", opts, err)
	}
	ids := []string{}
	for _, img := range images {
		ids = append(ids, img.ID)
	}
	slices.Sort(ids)
	return ids
}

// simulatorImages turns what Nova lists into the simulator's images, with each image's
// status as Glance itself holds it (Nova shows only its own five).
func (rs realstack) simulatorImages(t *testing.T, token string, nova map[string]novaImage) []simulator.Image {
	t.Helper()
	glance := os.Getenv("GLANCE_URL")
	if glance == "" {
		t.Fatal("GLANCE_URL is not set: source the realstack's env.sh")
	}
	var images []simulator.Image
	for id, img := range nova {
		images = append(images, simulatorImage(t, id, img, glanceStatus(t, glance, token, id)))
	}
	return images
}

func simulatorImage(t *testing.T, id string, img novaImage, status string) simulator.Image {
	t.Helper()
	parse := func(v any) time.Time {
		parsed, err := time.Parse(time.RFC3339, v.(string))
		if err != nil {
			t.Fatalf("image %s: time %v: %v", id, v, err)
		}
		return parsed
	}
	out := simulator.Image{ID: id, Status: status, Created: parse(img["created"])}
	if name, ok := img["name"].(string); ok {
		out.Name = &name
	}
	if size, ok := number(img["OS-EXT-IMG-SIZE:size"]); ok {
		n := int64(size)
		out.Size = &n
	}
	minDisk, _ := number(img["minDisk"])
	minRAM, _ := number(img["minRam"])
	out.MinDisk, out.MinRAM = int64(minDisk), int64(minRAM)
	if img["updated"] != nil {
		updated := parse(img["updated"])
		out.Updated = &updated
	}
	out.Metadata, _ = img["metadata"].(map[string]any)
	if server, ok := img["server"].(map[string]any); ok {
		out.ServerID, _ = server["id"].(string)
	}
	return out
}

func glanceStatus(t *testing.T, glance, token, id string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, glance+"/v2/images/"+id, nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Glance: %v", err)
	}
	defer resp.Body.Close()
	var image struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&image); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Glance image %s: %d, %v", id, resp.StatusCode, err)
	}
	return image.Status
}
