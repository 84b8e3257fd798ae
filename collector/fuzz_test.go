package collector

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// FuzzPageToMetrics runs arbitrary page bodies through the whole path, client to exposition:
// a body the client accepts must always be served as valid metrics (no duplicate series, no
// invalid label values, as a registry checks them), so that no API answer can fail a scrape
// of the exporter.
func FuzzPageToMetrics(f *testing.F) {
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{Images: simulator.GenerateImages(10, 7, now)})
	srv := httptest.NewServer(sim)
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2.1/images/detail", nil)
	req.Header.Set("X-Auth-Token", sim.IssueToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.Fatal(err)
	}
	seed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	srv.Close()
	f.Add(seed)
	f.Add([]byte(`{"images": [{"id": "a", "status": "x"}, {"id": "a", "status": "y", "name": "\xff\xfe"}]}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		// Every page is body, served from memory: cheap enough for many executions a second.
		page := &http.Client{Transport: roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			return &http.Response{
				StatusCode: http.StatusOK, Request: req, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)),
			}, nil
		})}
		c := nova.New(&cloud.StaticToken{Token: "test-token-0123456789", ComputeEndpoint: "http://nova.invalid/v2.1/p"},
			client.Options{HTTPClient: page, MaxRetries: -1, MaxPages: 3, MetadataKeys: exposition.DefaultImageExports().MetadataKeys()})
		served := scrapeText(t, listerHandler(c, nil, log.NewNopLogger()))
		if _, err := served.Gather(); err != nil {
			t.Fatalf("gathering failed on an API answer: %v", err)
		}
	})
}
