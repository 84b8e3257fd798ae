//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// keystone sends method path (under /v3) with body (none if empty) and token to the real
// Keystone, without the exporter's code, and decodes the answer into answer (if not nil).
// It returns the status.
func (rs realstack) keystone(t *testing.T, token, method, path, body string, answer any) int {
	t.Helper()
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, rs.authURL+path, reader)
	req.Header.Set("X-Auth-Token", token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Keystone: %v", err)
	}
	defer resp.Body.Close()
	if answer != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(answer); err != nil {
			t.Fatalf("Keystone's answer to %s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

// adminToken is a token of the realstack's admin (ADMIN_PASSWORD in images.env), scoped to
// the admin project: Keystone lets it create and delete limits.
func (rs realstack) adminToken(t *testing.T) string {
	t.Helper()
	password := os.Getenv("ADMIN_PASSWORD")
	if password == "" {
		t.Fatal("ADMIN_PASSWORD is not set: run scripts/realstack/up.sh and source its images.env (make test-integration does)")
	}
	admin := rs
	admin.username, admin.password, admin.projectName = "admin", password, "admin"
	return admin.token(t)
}

// setGlanceProjectLimit gives the demo project its own Keystone limit of value on Glance's
// resource in RegionOne, and deletes it when the test ends, even when it fails. A limit an
// interrupted run left behind is deleted first.
func (rs realstack) setGlanceProjectLimit(t *testing.T, adminToken, resource string, value int64) {
	t.Helper()
	var services struct {
		Services []struct {
			ID string `json:"id"`
		} `json:"services"`
	}
	if code := rs.keystone(t, adminToken, http.MethodGet, "/services?type=image", "", &services); code != http.StatusOK || len(services.Services) != 1 {
		t.Fatalf("Keystone's image services: %d, %v", code, services.Services)
	}
	service := services.Services[0].ID
	type limit struct {
		ID string `json:"id"`
	}
	var left struct {
		Limits []limit `json:"limits"`
	}
	query := fmt.Sprintf("/limits?service_id=%s&region_id=RegionOne&project_id=%s&resource_name=%s", service, rs.projectID, resource)
	if code := rs.keystone(t, adminToken, http.MethodGet, query, "", &left); code != http.StatusOK {
		t.Fatalf("listing Keystone's limits: %d", code)
	}
	deleteLimit := func(id string) {
		if code := rs.keystone(t, adminToken, http.MethodDelete, "/limits/"+id, "", nil); code != http.StatusNoContent && code != http.StatusNotFound {
			t.Errorf("deleting the project limit %s: Keystone answered %d", id, code)
		}
	}
	for _, l := range left.Limits {
		deleteLimit(l.ID)
	}
	body := fmt.Sprintf(`{"limits": [{"service_id": %q, "project_id": %q, "region_id": "RegionOne", "resource_name": %q, "resource_limit": %d}]}`,
		service, rs.projectID, resource, value)
	var created struct {
		Limits []limit `json:"limits"`
	}
	if code := rs.keystone(t, adminToken, http.MethodPost, "/limits", body, &created); code != http.StatusCreated || len(created.Limits) != 1 {
		t.Fatalf("creating the project limit %s %d: Keystone answered %d", resource, value, code)
	}
	t.Cleanup(func() { deleteLimit(created.Limits[0].ID) })
}

// glanceTryCreateImage asks Glance to create a queued image (no data) with token and returns
// its status and body; an image it created is deleted when the test ends.
func (rs realstack) glanceTryCreateImage(t *testing.T, token, name string) (int, string) {
	t.Helper()
	root := strings.TrimRight(os.Getenv("GLANCE_URL"), "/")
	body := fmt.Sprintf(`{"name": %q, "disk_format": "raw", "container_format": "bare"}`, name)
	req, _ := http.NewRequest(http.MethodPost, root+"/v2/images", strings.NewReader(body))
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Glance: %v", err)
	}
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		t.Fatalf("Glance's answer: %v", err)
	}
	var image struct {
		ID string `json:"id"`
	}
	if resp.StatusCode == http.StatusCreated && json.Unmarshal(answer, &image) == nil && image.ID != "" {
		t.Cleanup(func() {
			req, _ := http.NewRequest(http.MethodDelete, root+"/v2/images/"+image.ID, nil)
			req.Header.Set("X-Auth-Token", token)
			if resp, err := httpClient.Do(req); err != nil {
				t.Errorf("deleting the image %s: %v", image.ID, err)
			} else {
				resp.Body.Close()
			}
		})
	}
	return resp.StatusCode, string(answer)
}

// TestIntegrationGlanceLimitMinusOneAllowsNothing gives the demo project a Keystone limit of
// -1 on image_count_total, which Keystone accepts and Glance's /v2/info/usage reports as is,
// and checks what the real Glance does with it: it refuses to create an image (413, "over
// limit of -1"), as oslo.limit compares usage + delta > limit with no exception for -1. So
// the exporter reports the limit as what Glance enforces, 0 (nothing allowed), never as
// unlimited (no limit sample). The limit is deleted when the test ends.
func TestIntegrationGlanceLimitMinusOneAllowsNothing(t *testing.T) {
	rs := loadRealstack(t)
	token := rs.token(t)
	rs.setGlanceProjectLimit(t, rs.adminToken(t), "image_count_total", -1)

	usage := rs.glanceUsage(t, token)
	if got := usage["image_count_total"].Limit; got != -1 {
		t.Fatalf("Glance's /v2/info/usage reports an image_count_total limit of %d, want the project's -1", got)
	}
	status, body := rs.glanceTryCreateImage(t, token, "minus-one-limit-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "image_count_total is over limit of -1") {
		t.Errorf("creating an image under a limit of -1: Glance answered %d:\n%s\nwant 413 (over limit of -1), as docs/testing.md records", status, body)
	}
	if after := rs.glanceUsage(t, token); after["image_count_total"].Usage != usage["image_count_total"].Usage {
		t.Errorf("Glance's image_count_total usage went from %d to %d: an image was created under a limit of -1",
			usage["image_count_total"].Usage, after["image_count_total"].Usage)
	}

	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, rs.glanceClouds("")))
	base, logs := startExporter(t, "--cloud=realstack-glance")
	families := scrape(t, base+"/probe?cloud=realstack-glance")
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Fatalf("nova_up = %v, want 1\n%s", up, logs)
	}
	count := map[string]string{"resource": "image_count_total"}
	if limit, found := value(families, "nova_image_quota_limit", count); !found || limit != 0 {
		t.Errorf("nova_image_quota_limit{resource=\"image_count_total\"} = %v (present %v) under Glance's -1, want 0: Glance allows nothing", limit, found)
	}
	if used, found := value(families, "nova_image_quota_usage", count); !found || used != float64(usage["image_count_total"].Usage) {
		t.Errorf("nova_image_quota_usage{resource=\"image_count_total\"} = %v (present %v), Glance says %d", used, found, usage["image_count_total"].Usage)
	}
	compareQuotas(t, families, usage)
}
