//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// glanceQuota is one resource of Glance's GET /v2/info/usage: counts, sizes in MiB.
type glanceQuota struct {
	Usage int64 `json:"usage"`
	Limit int64 `json:"limit"`
}

// glanceQuotaResources are the resources of Glance's unified limits: name → in MiB.
var glanceQuotaResources = map[string]bool{
	"image_count_total": false, "image_count_uploading": false,
	"image_size_total": true, "image_stage_total": true,
}

// glanceUsage asks Glance for GET /v2/info/usage with token, without the exporter's code.
func (rs realstack) glanceUsage(t *testing.T, token string) map[string]glanceQuota {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, strings.TrimRight(os.Getenv("GLANCE_URL"), "/")+"/v2/info/usage", nil)
	req.Header.Set("X-Auth-Token", token)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("Glance: %v", err)
	}
	defer resp.Body.Close()
	var answer struct {
		Usage map[string]glanceQuota `json:"usage"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("Glance's /v2/info/usage answered %d, %v", resp.StatusCode, err)
	}
	if got := slices.Sorted(maps.Keys(answer.Usage)); !slices.Equal(got, slices.Sorted(maps.Keys(glanceQuotaResources))) {
		t.Fatalf("Glance's /v2/info/usage reports %v, want the four unified limits: is use_keystone_limits on (re-run scripts/realstack/up.sh)?", got)
	}
	return answer.Usage
}

// glanceCreateImage creates a queued image (no data) with token and deletes it when the
// test ends.
func (rs realstack) glanceCreateImage(t *testing.T, token, name string) string {
	t.Helper()
	status, body := rs.glanceTryCreateImage(t, token, name)
	var image struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(body), &image); status != http.StatusCreated || err != nil || image.ID == "" {
		t.Fatalf("creating an image: Glance answered %d, %v", status, err)
	}
	return image.ID
}

// compareQuotas checks that families hold exactly Glance's answer in the quota families:
// quota_up 1, the counts in nova_image_quota_{limit,usage}, the sizes (MiB) in bytes in
// nova_image_quota_{limit,usage}_bytes, a limit of -1 as 0, and nothing else.
func compareQuotas(t *testing.T, families map[string]*dto.MetricFamily, glance map[string]glanceQuota) {
	t.Helper()
	if up, found := value(families, "nova_image_quota_up", nil); !found || up != 1 {
		t.Errorf("nova_image_quota_up = %v (present %v), want 1", up, found)
	}
	want := map[string][]string{}
	for resource, q := range glance {
		family, unit := "nova_image_quota_", int64(1)
		if glanceQuotaResources[resource] {
			unit = 1 << 20
		}
		for kind, v := range map[string]int64{"limit": q.Limit, "usage": q.Usage} {
			name := family + kind
			if unit != 1 {
				name += "_bytes"
			}
			if kind == "limit" && v == -1 {
				v = 0 // Glance allows nothing under -1 (TestIntegrationGlanceLimitMinusOneAllowsNothing)
			}
			want[name] = append(want[name], fmt.Sprintf("%s{resource=%q} %v", name, resource, float64(v*unit)))
		}
	}
	for _, name := range []string{"nova_image_quota_limit", "nova_image_quota_usage", "nova_image_quota_limit_bytes", "nova_image_quota_usage_bytes"} {
		var got []string
		for _, m := range families[name].GetMetric() {
			got = append(got, seriesLine(name, m))
		}
		slices.Sort(got)
		slices.Sort(want[name])
		if !slices.Equal(got, want[name]) {
			t.Errorf("%s: the exporter gives\n  %v\nGlance's /v2/info/usage says\n  %v", name, got, want[name])
		}
	}
}

// TestIntegrationGlanceQuota reads the real Glance's unified limits (Keystone's registered
// limits, which scripts/realstack/up.sh sets up) through image_api glance and checks them
// against Glance's own /v2/info/usage; then creates an image and checks that the exported
// image_count_total usage moves by exactly one; and that image_quota: false exports none.
func TestIntegrationGlanceQuota(t *testing.T) {
	rs := loadRealstack(t)
	token := rs.token(t)
	before := rs.glanceUsage(t, token)
	// The recipe's registered limits reach Glance (the demo project has no limit of its own).
	for resource, env := range map[string]string{
		"image_size_total": "QUOTA_IMAGE_SIZE_TOTAL_MIB", "image_stage_total": "QUOTA_IMAGE_STAGE_TOTAL_MIB",
		"image_count_total": "QUOTA_IMAGE_COUNT_TOTAL", "image_count_uploading": "QUOTA_IMAGE_COUNT_UPLOADING",
	} {
		registered, err := strconv.ParseInt(os.Getenv(env), 10, 64)
		if err != nil {
			t.Fatalf("%s: %v; re-run scripts/realstack/up.sh (it registers the limits)", env, err)
		}
		if before[resource].Limit != registered {
			t.Fatalf("Glance's %s limit is %d, the recipe registered %d", resource, before[resource].Limit, registered)
		}
	}
	if before["image_size_total"].Usage == 0 {
		t.Fatalf("Glance's image_size_total usage is 0 MiB: the seeded 3 MiB image (IMG_3MIB) is missing")
	}

	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, rs.glanceClouds(`  realstack-glance-noquota:
    image_api: glance
    image_quota: false
    auth: *auth
    region_name: RegionOne
    interface: public
`)))
	base, logs := startExporter(t, "--cloud=realstack-glance")
	probeGlance := func() map[string]*dto.MetricFamily {
		families := scrape(t, base+"/probe?cloud=realstack-glance")
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Fatalf("nova_up = %v, want 1\n%s", up, logs)
		}
		return families
	}

	first := probeGlance()
	compareQuotas(t, first, before)

	rs.glanceCreateImage(t, token, "quota-integration-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	after := rs.glanceUsage(t, token)
	if after["image_count_total"].Usage != before["image_count_total"].Usage+1 {
		t.Fatalf("Glance's own image_count_total usage went from %d to %d on creating an image: is something else using the project?",
			before["image_count_total"].Usage, after["image_count_total"].Usage)
	}
	second := probeGlance()
	compareQuotas(t, second, after)
	count := map[string]string{"resource": "image_count_total"}
	was, _ := value(first, "nova_image_quota_usage", count)
	is, _ := value(second, "nova_image_quota_usage", count)
	if is != was+1 {
		t.Errorf("nova_image_quota_usage{resource=\"image_count_total\"} went from %v to %v on creating an image, want +1", was, is)
	}

	t.Run("image_quota false", func(t *testing.T) {
		families := scrape(t, base+"/probe?cloud=realstack-glance-noquota")
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Fatalf("nova_up = %v, want 1\n%s", up, logs)
		}
		for name := range families {
			if strings.HasPrefix(name, "nova_image_quota_") {
				t.Errorf("image_quota: false, yet %s is exported", name)
			}
		}
	})
}
