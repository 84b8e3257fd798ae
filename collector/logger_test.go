package collector

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// A Handler without a Logger logs nothing, and answers every scrape that would log.
func TestHandlerWithoutLogger(t *testing.T) {
	unreadable := client.Image{ID: "u1", Status: "ACTIVE", Problems: []string{"created: unparsable time"}}
	for _, tt := range []struct {
		name    string
		resolve func(*http.Request) (Target, bool, error)
		timeout string
		want    string
	}{
		{"failed listing", StaticTarget(Target{Listings: NewListings(&fakeLister{err: errors.New("HTTP 500")}, 0)}), "", "\nnova_up 0\n"},
		{"malformed timeout", StaticTarget(Target{Listings: NewListings(&fakeLister{images: testImages}, 0)}), "soon", "\nnova_up 1\n"},
		{"unreadable field", StaticTarget(Target{Listings: NewListings(&fakeLister{images: []client.Image{unreadable}}, 0)}), "", "\nnova_listing_unreadable_fields 1\n"},
		{"bad request", func(*http.Request) (Target, bool, error) { return Target{}, false, errors.New("no such cloud") }, "", "no such cloud"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{Resolve: tt.resolve, Timeouts: ScrapeTimeouts{Default: time.Second}}
			if body := serve(h, tt.timeout).Body.String(); !strings.Contains(body, tt.want) {
				t.Errorf("answer %q, want it to hold %q", body, tt.want)
			}
		})
	}
}
