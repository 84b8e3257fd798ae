package collector_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/glance"
	"github.com/nova-image-exporter/nova_image_exporter/client/ims"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// replay answers every request with the body recorded for its URL: the pages of a
// listing, made once by the simulator, cost nothing to serve while the client is measured.
type replay struct {
	mu     sync.Mutex
	bodies map[string][]byte
	base   http.RoundTripper // records what is not there yet; nil replays only
}

func (r *replay) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	body, ok := r.bodies[req.URL.String()]
	r.mu.Unlock()
	if !ok {
		if r.base == nil {
			return nil, fmt.Errorf("no page recorded for %s", req.URL)
		}
		resp, err := r.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if body, err = io.ReadAll(resp.Body); err != nil {
			return nil, err
		}
		r.mu.Lock()
		r.bodies[req.URL.String()] = body
		r.mu.Unlock()
	}
	return &http.Response{StatusCode: http.StatusOK, Request: req, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}, nil
}

// BenchmarkAPIs lists the same 10 000 images through each image API's client, from pages
// recorded once: what the client of each API costs per image (decoding, checks, bounds).
// Glance decodes each image's fields and picks its properties from the same bytes; it also
// asks for the hidden images in a second listing.
func BenchmarkAPIs(b *testing.B) {
	const n = 10000
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	sim := simulator.New(simulator.Options{Images: simulator.GenerateImages(n, 1, now), IMSMaxLimit: benchPageSize})
	api := httptest.NewServer(sim)
	b.Cleanup(api.Close)
	auth := &cloud.StaticToken{Token: sim.IssueToken(), ComputeEndpoint: api.URL + "/v2.1/0123456789abcdef0123456789abcdef", ImageEndpoint: api.URL}
	for _, tt := range []struct {
		api      string
		endpoint string
		source   func(client.Authenticator, client.Options) client.ImageSource
	}{
		{"nova", "", func(a client.Authenticator, o client.Options) client.ImageSource { return nova.New(a, o) }},
		{"glance", "/image", func(a client.Authenticator, o client.Options) client.ImageSource { return glance.New(a, o) }},
		{"ims", "", func(a client.Authenticator, o client.Options) client.ImageSource { return ims.New(a, o, "") }},
	} {
		b.Run("api="+tt.api, func(b *testing.B) {
			pages := &replay{bodies: map[string][]byte{}, base: http.DefaultTransport}
			a := cloud.StaticToken{Token: auth.Token, ComputeEndpoint: auth.ComputeEndpoint, ImageEndpoint: auth.ImageEndpoint}
			a.ImageEndpoint += tt.endpoint
			source := tt.source(&a, client.Options{HTTPClient: &http.Client{Transport: pages}, MetadataKeys: exposition.DefaultImageExports().MetadataKeys()})
			opts := client.ListOptions{PageSize: benchPageSize}
			if images, err := client.Collect(context.Background(), source, opts); err != nil || len(images) != n {
				b.Fatalf("recording: %d images, %v", len(images), err)
			}
			pages.base = nil
			var body int
			for _, page := range pages.bodies {
				body += len(page)
			}
			b.ReportAllocs()
			for b.Loop() {
				images, err := client.Collect(context.Background(), source, opts)
				if err != nil || len(images) != n {
					b.Fatalf("%d images, %v", len(images), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/image")
			b.ReportMetric(float64(body)/n, "body-B/image")
		})
	}
}
