package cloud

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

func TestKeystoneBoundsAnswers(t *testing.T) {
	const token = `{"token": {"expires_at": "2099-01-01T00:00:00Z", "project": {"id": "p"}, "catalog": [`
	subject := http.Header{"X-Subject-Token": {"tok"}}
	large := []int64{64 << 20, 1 << 30}
	tests := []struct {
		name    string
		answer  clienttest.Hostile
		sizes   []int64
		wantErr string
	}{
		{"a 401 inflating to 1 GiB", clienttest.Hostile{Status: http.StatusUnauthorized, Head: `{"error": {"code": 401, "message": "`, Fill: "x", Tail: `"}}`, Gzip: true},
			large, "HTTP 401: unrecognised body (application/json, 65536 bytes or more)"},
		{"a 201 with a huge catalog", clienttest.Hostile{Status: http.StatusCreated, Header: subject, Head: token + `{"type": "compute", "name": "`, Fill: "x", Tail: `"}]}}`},
			large, "the identity service's answer (HTTP 201) is larger than 2097152 bytes"},
		{"a 201 inflating to 1 GiB", clienttest.Hostile{Status: http.StatusCreated, Header: subject, Head: token, Fill: " ", Tail: `]}}`, Gzip: true},
			large, "the identity service's answer (HTTP 201) is larger than 2097152 bytes"},
		// Within the size bound, but each value costs gophercloud some 300 bytes.
		{"a 201 with a catalog of many small values", clienttest.Hostile{Status: http.StatusCreated, Header: subject, Head: token, Fill: "0,", Tail: `0]}}`},
			[]int64{1 << 20, 2<<20 - 1024}, "the identity service's answer (HTTP 201) holds more than 100000 JSON values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clienttest.CheckBounded(t, tt.answer, tt.sizes, tt.wantErr, func(url string) func() error {
				k := NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: url + "/v3", Username: "u", Password: "keystone-password", DomainName: "Default"},
					gophercloud.EndpointOpts{}, nil, client.NewHTTPClient(time.Minute, nil))
				return func() error {
					_, err := k.Endpoint(context.Background(), client.ServiceCompute)
					return err
				}
			})
		})
	}
}

func TestKeystoneRefusesLongEndpoint(t *testing.T) {
	url := "http://nova.example/" + strings.Repeat("v", 4000)
	srv := httptest.NewServer(clienttest.Hostile{Status: http.StatusCreated, Header: http.Header{"X-Subject-Token": {"tok"}},
		Head: `{"token": {"expires_at": "2099-01-01T00:00:00Z", "project": {"id": "p"}, "catalog": [{"type": "compute", "endpoints": [{"interface": "public", "url": "` + url + `"}]}]}}`})
	defer srv.Close()
	k := NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: srv.URL + "/v3", Username: "u", Password: "keystone-password", DomainName: "Default"},
		gophercloud.EndpointOpts{}, nil, client.NewHTTPClient(time.Minute, nil))
	_, err := k.Endpoint(context.Background(), client.ServiceCompute)
	if err == nil || !strings.Contains(err.Error(), "compute endpoint is longer than 2048 bytes") || len(err.Error()) > 1024 {
		t.Fatalf("error %.2000v, want the endpoint refused in a short message", err)
	}
}

// Two listings renew the token at once: gophercloud hands one renewal's outcome to both, so
// the renewal must not run under the deadline of the listing that asked first.
func TestShortListingDoesNotSpoilASharedRenewal(t *testing.T) {
	sim := simulator.New(simulator.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	k := NewKeystone(gophercloud.AuthOptions{
		IdentityEndpoint: srv.URL + "/v3", Username: "demo", Password: "demo-secret", DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
	}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, client.NewHTTPClient(10*time.Second, nil))
	c := nova.New(k, client.Options{})
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	sim.RevokeTokens() // the next page of each listing gets 401: both renew
	renewing := make(chan struct{})
	sim.SetKeystoneFaults(func(n int, _ *http.Request) simulator.Fault {
		if n == 0 {
			close(renewing)
			return simulator.Fault{Delay: time.Second} // a slow Keystone, slower than the short listing
		}
		return simulator.Fault{}
	})
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	go func() { _, _ = client.Collect(short, c, client.ListOptions{Name: "x"}) }()
	<-renewing
	long, cancelLong := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLong()
	if _, err := client.Collect(long, c, client.ListOptions{}); err != nil {
		t.Errorf("a listing with 10 s to go failed with the renewal another listing started: %v", err)
	}
}
