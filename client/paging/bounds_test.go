package paging

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
)

func TestCapsResponseSize(t *testing.T) {
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(`{"images": [{"id": "a", "status": "ACTIVE", "name": "` + strings.Repeat("x", 10000) + `"}]}`)
	})
	c.Requester.Opts.MaxResponseBytes = 1000
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "response body larger than 1000 bytes") {
		t.Fatalf("error %v, want the size cap", err)
	}
}

func TestStopsPaginationLoop(t *testing.T) {
	c, p, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		// A server that ignores the marker: the same full page with a next link, forever.
		return clienttest.OK(`{"images": [{"id": "a", "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "http://x"}]}`)
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 1})
	if err == nil || !strings.Contains(err.Error(), "pagination loop: marker a was already requested") {
		t.Fatalf("error %v, want a pagination loop", err)
	}
	if len(p.Requests()) != 2 {
		t.Errorf("%d requests, want 2", len(p.Requests()))
	}
}

func TestCapsPages(t *testing.T) {
	c, p, _ := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
		return clienttest.OK(fmt.Sprintf(`{"images": [{"id": "i%d", "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "http://x"}]}`, n))
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 1})
	if err == nil || !strings.Contains(err.Error(), "more than 20 pages") {
		t.Fatalf("error %v, want the page cap", err)
	}
	if len(p.Requests()) != 20 {
		t.Errorf("%d requests, want 20", len(p.Requests()))
	}
}

func TestRefusesAnswersWithoutImages(t *testing.T) {
	for _, body := range []string{`{}`, `{"error_code": "X", "error_msg": "y"}`, `{"images_links": []}`} {
		c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(body) })
		if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), `no "images" list`) {
			t.Errorf("%s: error %v, want the missing list reported", body, err)
		}
	}
}

// Sizes of the hostile fills: the same bound must hold for both.
var hostileSizes = []int64{64 << 20, 300 << 20}

func TestBoundsOneValue(t *testing.T) {
	const image = `{"id": "a", "status": "ACTIVE", `
	tests := []struct {
		name            string
		answer          clienttest.Hostile
		wantErr         string
		metadataWanted  bool
		inflated1GiBToo bool
	}{
		{"a name", clienttest.Hostile{Head: `{"images": [` + image + `"name": "`, Fill: "x", Tail: `"}]}`}, "images[0]: larger than 1048576 bytes", false, false},
		{"an exported metadata value", clienttest.Hostile{Head: `{"images": [` + image + `"metadata": {"image_type": "`, Fill: "é", Tail: `"}}]}`}, "images[0]: larger than 1048576 bytes", true, false},
		{"a metadata value", clienttest.Hostile{Head: `{"images": [` + image + `"metadata": {"other": "`, Fill: "x", Tail: `"}}]}`}, "images[0]: larger than 1048576 bytes", false, false},
		{"whitespace between images", clienttest.Hostile{Head: `{"images": [` + image + `"name": "a"},`, Fill: " \n", Tail: image + `"name": "b"}]}`}, "images[1]: larger than 1048576 bytes", false, false},
		{"whitespace before the end", clienttest.Hostile{Head: `{"images": []`, Fill: "\t", Tail: `}`}, "larger than 1048576 bytes", false, false},
		{"another key's value", clienttest.Hostile{Head: `{"images": [], "links": "`, Fill: "x", Tail: `"}`}, `"links": larger than 1048576 bytes`, false, false},
		{"a key", clienttest.Hostile{Head: `{"images": [], "`, Fill: "k", Tail: `": 1}`}, "larger than 1048576 bytes", false, false},
		{"a gzip body inflating to 1 GiB", clienttest.Hostile{Head: `{"images": [`, Fill: " ", Tail: `]}`, Gzip: true}, "larger than 1048576 bytes", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sizes := hostileSizes
			if tt.inflated1GiBToo {
				sizes = append(sizes[:1:1], 1<<30)
			}
			answer := tt.answer
			answer.Status = http.StatusOK
			clienttest.CheckBounded(t, answer, sizes, tt.wantErr, func(url string) func() error {
				opts := client.Options{MaxRetries: -1, MaxResponseBytes: 1 << 40} // the bound holds whatever the flag says
				if tt.metadataWanted {
					opts.MetadataKeys = []string{"image_type"}
				}
				c := newLister(&clienttest.Auth{URL: url + "/v2.1/p", Token: "bounds-test-token"}, opts)
				return func() error {
					_, err := client.Collect(context.Background(), c, client.ListOptions{})
					return err
				}
			})
		})
	}
}

func TestDefaultCapCountsInflatedBytes(t *testing.T) {
	// Many small images, each within every bound, add up past the response cap: the cap
	// counts the bytes after gzip, not the 100 times fewer on the wire.
	srv := httptest.NewServer(clienttest.Hostile{Status: http.StatusOK, Head: `{"images": [`, Fill: `{"id": "a", "status": "ACTIVE"},`, N: 1 << 30, Gzip: true})
	defer srv.Close()
	c := newLister(&clienttest.Auth{URL: srv.URL + "/v2.1/p", Token: "bounds-test-token"}, client.Options{MaxRetries: -1, MaxResponseBytes: 1 << 20})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "response body larger than 1048576 bytes (--client.max-response-bytes)") {
		t.Fatalf("error %v, want the response cap", err)
	}
}

func TestImageLabelBounds(t *testing.T) {
	long := strings.Repeat
	body := fmt.Sprintf(`{"images": [{"id": %q, "status": %q, "name": %q, "server": {"id": %q}, "metadata": {"image_type": %q}}]}`,
		long("i", 255), long("s", 100), "x"+long("€", 400), long("v", 300), "xx"+long("😀", 300))
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(body) })
	c.Requester.Opts.MetadataKeys = []string{"image_type"}
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := images[0]
	for _, f := range []struct {
		name, got, full string
		max             int
	}{
		{"id", img.ID, long("i", 255), 255},
		{"status", img.Status, long("S", 100), 64},
		{"name", img.Name, "x" + long("€", 400), 1024},
		{"server id", img.ServerID, long("v", 300), 255},
		{"metadata", img.Metadata.Get("image_type"), "xx" + long("😀", 300), 1024},
	} {
		// Cut at the last whole rune within the bound: € is 3 bytes, 😀 4.
		if len(f.got) > f.max || len(f.got) <= f.max-utf8.UTFMax || !utf8.ValidString(f.got) || !strings.HasPrefix(f.full, f.got) {
			t.Errorf("%s: %d bytes %q..., want a whole-rune prefix of at most %d bytes", f.name, len(f.got), f.got[:min(len(f.got), 8)], f.max)
		}
	}

	body = fmt.Sprintf(`{"images": [{"id": %q, "status": "ACTIVE"}]}`, long("i", 256))
	c, _, _ = newTestClient(t, func(int, *http.Request) (int, http.Header, string) { return clienttest.OK(body) })
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "id longer than 255 bytes") {
		t.Fatalf("error %v, want the id refused", err)
	}
}

// Page after page of small images, each page within --client.max-response-bytes: the
// listing as a whole is bounded.
func TestListingIsBoundedAcrossPages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := len(r.URL.Query().Get("marker"))
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		_, _ = bw.WriteString(`{"images":[`)
		for n := range 1000 {
			if n > 0 {
				_ = bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"id":"%s%04d","status":"A"}`, strings.Repeat("p", page%50), n)
		}
		_, _ = bw.WriteString(`],"images_links":[{"rel":"next"}]}`)
		_ = bw.Flush()
	}))
	defer srv.Close()
	const budget = 1 << 20
	c := newLister(&cloud.StaticToken{Token: echoedToken, ComputeEndpoint: srv.URL + "/v2.1/p"}, client.Options{MaxListingBytes: budget})
	var held int64
	err := c.EachImage(context.Background(), client.ListOptions{}, func(img client.Image) error {
		held += client.ImageBytes(img)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "--client.max-listing-bytes") {
		t.Fatalf("error %v, want one naming --client.max-listing-bytes", err)
	}
	if held > budget {
		t.Errorf("%d bytes of images handed over, want at most %d", held, budget)
	}
}

// A body that is no page of images (not JSON, cut short, an image without its id or status)
// fails the listing, naming what is wrong.
func TestRejectsBadBodies(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		body    string
		wantErr string
	}{
		{"malformed", nil, `{"images": [{"id": "a",,}]}`, "malformed JSON"},
		{"truncated", nil, `{"images": [{"id": "a", "status": "ACTIVE"}, {"id": "b"`, "body ends early"},
		{"not an object", nil, `[]`, `want "{"`},
		{"images not a list", nil, `{"images": {"id": "a"}}`, `images: malformed JSON: want "["`},
		{"no id", nil, `{"images": [{"status": "ACTIVE"}]}`, "images[0]: image without an id"},
		{"no status", nil, `{"images": [{"id": "a"}]}`, "image a: no status"},
		{"html 200", http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<html>login</html>`, "response is text/html; charset=utf-8, not JSON"},
		{"trailing garbage", nil, `{"images": []} {"images": []}`, "data after the top-level object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
				return http.StatusOK, tt.header, tt.body
			})
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// --client.max-listing-bytes counts what the listing's caller keeps: an image it drops
// (client.ErrDropped) counts client.DroppedImageBytes, not its ImageBytes, and the listing
// goes on.
func TestListingCountsOnlyWhatIsKept(t *testing.T) {
	const pages, perPage = 5, 1000
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := 0 // page n's ids are n times "pagepage" and 4 digits
		if marker := r.URL.Query().Get("marker"); marker != "" {
			page = (len(marker)-4)/8 + 1
		}
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		_, _ = bw.WriteString(`{"images":[`)
		for n := range perPage {
			if n > 0 {
				_ = bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"id":"%s%04d","status":"A"}`, strings.Repeat("pagepage", page), n)
		}
		_, _ = bw.WriteString(`]`)
		if page < pages-1 {
			_, _ = bw.WriteString(`,"images_links":[{"rel":"next"}]`)
		}
		_, _ = bw.WriteString(`}`)
		_ = bw.Flush()
	}))
	defer srv.Close()
	keepTen := func() func(client.Image) error {
		n := 0
		return func(client.Image) error {
			if n++; n > 10 {
				return client.ErrDropped
			}
			return nil
		}
	}
	for _, tt := range []struct {
		budget int64
		fn     func(client.Image) error
		fails  bool
	}{
		{1 << 20, func(client.Image) error { return nil }, true},                 // 5 000 images of some 280 bytes
		{1 << 20, keepTen(), false},                                              // 10 of them, and 4 990 × 32 bytes
		{100 << 10, func(client.Image) error { return client.ErrDropped }, true}, // 5 000 × 32 bytes
	} {
		c := newLister(&cloud.StaticToken{Token: echoedToken, ComputeEndpoint: srv.URL + "/v2.1/p"}, client.Options{MaxListingBytes: tt.budget})
		err := c.EachImage(context.Background(), client.ListOptions{}, tt.fn)
		if failed := err != nil && strings.Contains(err.Error(), "--client.max-listing-bytes"); failed != tt.fails || (err != nil && !failed) {
			t.Errorf("budget %d: %v, want it to fail: %t", tt.budget, err, tt.fails)
		}
	}
}
