package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// quotaSimulator serves FullImages with Glance unified limits (one of -1, which Glance
// allows nothing under) and IMS's default quotas.
func quotaSimulator(t *testing.T) (*simulator.Simulator, string) {
	t.Helper()
	sim := simulator.New(simulator.Options{
		Images:     simulator.FullImages(testNow),
		AccessKeys: []simulator.AccessKey{{AK: testAK, SK: testSK}},
		GlanceQuotas: map[string]int64{
			simulator.GlanceImageCountTotal: 12, simulator.GlanceImageCountUploading: -1,
			simulator.GlanceImageSizeTotal: 2048, simulator.GlanceImageStageTotal: 1024,
		},
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

// Quotas come with each listing where the API has them, in base units, and not elsewhere.
func TestQuotasEndToEnd(t *testing.T) {
	sim, simURL := quotaSimulator(t)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, threeAPIClouds(simURL)+
		"  glance-no-quota:\n    image_api: glance\n    image_quota: false\n"+passwordAuth(simURL)))
	base, logs := startExporter(t)

	glance := scrape(t, base+"/probe?cloud=glance")
	for _, tt := range []struct {
		metric, resource string
		want             float64
	}{
		{"nova_image_quota_limit", "image_count_total", 12},
		{"nova_image_quota_limit_bytes", "image_size_total", 2048 << 20},
		{"nova_image_quota_limit_bytes", "image_stage_total", 1024 << 20},
		{"nova_image_quota_limit", "image_count_uploading", 0}, // Glance's -1: nothing allowed, not unlimited
	} {
		if got, found := value(glance, tt.metric, map[string]string{"resource": tt.resource}); !found || got != tt.want {
			t.Errorf("glance: %s{resource=%q} = %v (found %v), want %v", tt.metric, tt.resource, got, found, tt.want)
		}
	}
	// Glance counts saving, uploading and importing images as uploading: FullImages has
	// one saving and one importing.
	if got, found := value(glance, "nova_image_quota_usage", map[string]string{"resource": "image_count_uploading"}); !found || got != 2 {
		t.Errorf("glance: usage of image_count_uploading %v (found %v), want 2", got, found)
	}
	ims := scrape(t, base+"/probe?cloud=ims")
	if got, found := value(ims, "nova_image_quota_limit", map[string]string{"resource": "image"}); !found || got != 20 {
		t.Errorf("ims: limit of image %v (found %v), want 20", got, found)
	}
	for cloud, families := range map[string]map[string]float64{"glance": {"nova_image_quota_up": 1}, "ims": {"nova_image_quota_up": 1}} {
		got := scrape(t, base+"/probe?cloud="+cloud)
		for metric, want := range families {
			if v, _ := value(got, metric, nil); v != want {
				t.Errorf("%s: %s %v, want %v", cloud, metric, v, want)
			}
		}
	}
	for _, cloud := range []string{"nova", "glance-no-quota"} {
		got := scrape(t, base+"/probe?cloud="+cloud)
		for name := range got {
			if strings.HasPrefix(name, "nova_image_quota") {
				t.Errorf("%s: %s although quotas are off", cloud, name)
			}
		}
	}
	if n := len(sim.QuotaRequests()); n != 4 {
		t.Errorf("%d quota requests for 4 scrapes of glance and ims, want 4", n)
	}

	// A refused quota request: the listing stands, quota_up says it, one log line.
	sim.SetQuotaFaults(func(int, *http.Request) simulator.Fault {
		return simulator.Fault{Status: http.StatusForbidden, Message: "Policy doesn't allow ims:quotas:get to be performed."}
	})
	before := strings.Count(logs.String(), "image quota request failed")
	refused := scrape(t, base+"/probe?cloud=ims")
	if up, _ := value(refused, "nova_up", nil); up != 1 {
		t.Errorf("nova_up %v beside a refused quota request, want 1", up)
	}
	if up, found := value(refused, "nova_image_quota_up", nil); !found || up != 0 {
		t.Errorf("nova_image_quota_up %v (found %v) for a refused quota request, want 0", up, found)
	}
	if _, found := value(refused, "nova_image_quota_limit", map[string]string{"resource": "image"}); found {
		t.Error("a limit sample from a refused quota request")
	}
	if n := strings.Count(logs.String(), "image quota request failed") - before; n != 1 || !strings.Contains(logs.String(), "ims:quotas:get") {
		t.Errorf("%d log lines for one refused quota request, want 1 naming the refusal:\n%s", n, logs)
	}
	// The quota requests count with the others.
	own := scrape(t, base+"/metrics")
	if n, _ := value(own, "nova_image_exporter_api_requests_total", map[string]string{"cloud": "ims", "code": "403"}); n != 1 {
		t.Errorf("api_requests_total{cloud=ims,code=403} %v, want the refused quota request", n)
	}
}

// --no-images.quota turns quotas off for every cloud.
func TestNoImagesQuota(t *testing.T) {
	sim, simURL := quotaSimulator(t)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, threeAPIClouds(simURL)))
	base, _ := startExporter(t, "--no-images.quota")
	for _, cloud := range []string{"glance", "ims"} {
		for name := range scrape(t, base+"/probe?cloud="+cloud) {
			if strings.HasPrefix(name, "nova_image_quota") {
				t.Errorf("%s: %s with --no-images.quota", cloud, name)
			}
		}
	}
	if n := len(sim.QuotaRequests()); n != 0 {
		t.Errorf("%d quota requests with --no-images.quota", n)
	}
}
