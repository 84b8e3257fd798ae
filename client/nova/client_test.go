package nova

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// newTestClient is a client of a scripted server, through an authenticator sending "tok".
func newTestClient(t *testing.T, answer clienttest.Answer) (*Client, *clienttest.Server) {
	t.Helper()
	s := clienttest.NewServer(t, answer)
	auth := &clienttest.Auth{URL: s.URL + "/v2.1/proj", Token: "tok"}
	return New(auth, client.Options{UserAgent: "test-agent", MaxPages: 20, RetryBackoff: time.Millisecond}), s
}

const imageA = `{"id": "a", "name": "alpha", "status": "ACTIVE", "progress": 100, "OS-EXT-IMG-SIZE:size": 4096,
  "minDisk": 1, "minRam": 512, "created": "2026-11-28T20:05:16Z", "updated": "2026-11-28T20:05:17Z",
  "metadata": {"os_distro": "cirros", "nested": {"x": [1, 2]}, "n": null}, "links": [{"rel": "self", "href": "http://x"}]}`

func TestListImagesRequest(t *testing.T) {
	c, p := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(`{"images": [` + imageA + `]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{Status: "queued", Name: "Ubuntu 22.04 – Ü", PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || len(p.Requests()) != 1 {
		t.Fatalf("got %d images in %d requests, want 1 in 1", len(images), len(p.Requests()))
	}
	r := p.Requests()[0]
	if r.Method != http.MethodGet || r.URL.Path != "/v2.1/proj/images/detail" {
		t.Errorf("request %s %s, want GET /v2.1/proj/images/detail", r.Method, r.URL.Path)
	}
	wantQuery := url.Values{"status": {"queued"}, "name": {"Ubuntu 22.04 – Ü"}, "limit": {"50"}}
	if got := r.URL.Query(); got.Encode() != wantQuery.Encode() {
		t.Errorf("query %v, want %v", got, wantQuery)
	}
	for header, want := range map[string]string{
		"X-Auth-Token": "tok", "Accept": "application/json", "User-Agent": "test-agent",
		"X-Openstack-Nova-Api-Version": "", "Openstack-Api-Version": "",
	} {
		if got := r.Header.Get(header); got != want {
			t.Errorf("header %s = %q, want %q", header, got, want)
		}
	}
}

func TestListImagesDecodesFields(t *testing.T) {
	c, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(`{"images": [` + imageA + `,
		  {"id": "b", "name": null, "status": "saving", "progress": 25, "OS-EXT-IMG-SIZE:size": 0, "minDisk": 0, "minRam": 0,
		   "created": "2026-11-28T20:05:16.5+01:00", "updated": null, "metadata": {},
		   "server": {"id": "srv-1", "links": []}},
		  {"id": "c", "status": "UNKNOWN", "created": "2026-11-28T20:05:16"}]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(year, month, day, hour, minute, second, nsec int) int64 {
		return time.Date(year, time.Month(month), day, hour, minute, second, nsec, time.UTC).UnixMilli()
	}
	want := []client.Image{
		{ID: "a", Name: "alpha", Status: "ACTIVE", APIStatus: "ACTIVE", Size: 4096, MinDisk: 1, MinRAM: 512, Progress: 100,
			Created: ms(2026, 11, 28, 20, 5, 16, 0), Updated: ms(2026, 11, 28, 20, 5, 17, 0), Missing: client.FieldVirtualSize},
		{ID: "b", Status: "SAVING", APIStatus: "saving", Size: 0, MinDisk: 0, MinRAM: 0, Progress: 25,
			Created: ms(2026, 11, 28, 19, 5, 16, 5e8), ServerID: "srv-1", Missing: client.FieldVirtualSize | client.FieldUpdated},
		{ID: "c", Status: "UNKNOWN", APIStatus: "UNKNOWN", Created: ms(2026, 11, 28, 20, 5, 16, 0), Missing: client.FieldVirtualSize | client.FieldSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldProgress | client.FieldUpdated},
	}
	clienttest.EqualImages(t, images, want)
}

func TestListImagesPaginatesByMarker(t *testing.T) {
	// Four images, two per page: 2, 2, then an empty page, as Nova answers. The next links
	// name an internal host the client must not follow.
	pageBodies := []string{
		`{"images": [{"id": "i1", "status": "ACTIVE"}, {"id": "i2", "status": "ACTIVE"}],
		  "images_links": [{"rel": "next", "href": "http://nova.internal:8774/v2.1/proj/images/detail?limit=2&marker=i2"}]}`,
		`{"images": [{"id": "i3", "status": "ACTIVE"}, {"id": "i4", "status": "SAVING"}],
		  "images_links": [{"rel": "next", "href": "http://nova.internal:8774/v2.1/proj/images/detail?limit=2&marker=i4"}]}`,
		`{"images": []}`,
	}
	c, p := newTestClient(t, func(n int, _ *http.Request) (int, http.Header, string) {
		if n >= len(pageBodies) {
			return http.StatusInternalServerError, nil, `{"computeFault": {"code": 500, "message": "too many requests"}}`
		}
		return clienttest.OK(pageBodies[n])
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2, Type: "snapshot"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, img := range images {
		ids = append(ids, img.ID)
	}
	if got := strings.Join(ids, ","); got != "i1,i2,i3,i4" {
		t.Errorf("ids %s, want i1,i2,i3,i4", got)
	}
	wantMarkers := []string{"", "i2", "i4"}
	if len(p.Requests()) != len(wantMarkers) {
		t.Fatalf("%d requests, want %d", len(p.Requests()), len(wantMarkers))
	}
	for i, r := range p.Requests() {
		q := r.URL.Query()
		if q.Get("marker") != wantMarkers[i] || q.Get("limit") != "2" || q.Get("type") != "snapshot" {
			t.Errorf("request %d query %q, want marker=%q limit=2 type=snapshot", i, r.URL.RawQuery, wantMarkers[i])
		}
		if r.Host == "nova.internal:8774" {
			t.Errorf("request %d went to the internal host of the next link", i)
		}
	}
}

func TestListImagesStopsWithoutNextLink(t *testing.T) {
	c, p := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(`{"images": [{"id": "i1", "status": "ACTIVE"}, {"id": "i2", "status": "ACTIVE"}]}`)
	})
	if _, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2}); err != nil {
		t.Fatal(err)
	}
	if len(p.Requests()) != 1 {
		t.Errorf("%d requests for a page without a next link, want 1", len(p.Requests()))
	}
}

// Nova's fields of the wrong type or out of range fail the listing (paging's
// TestRejectsBadBodies: bodies that are no page at all).
func TestListImagesRejectsBadBodies(t *testing.T) {
	tests := []struct {
		name    string
		header  http.Header
		body    string
		wantErr string
	}{
		{"wrong type", nil, `{"images": [{"id": "a", "status": "ACTIVE", "minDisk": "ten"}]}`, "wrong JSON type: field minDisk holds a string"},
		{"float size", nil, `{"images": [{"id": "a", "status": "ACTIVE", "OS-EXT-IMG-SIZE:size": 1.5}]}`, "wrong JSON type"},
		{"negative size", nil, `{"images": [{"id": "a", "status": "ACTIVE", "OS-EXT-IMG-SIZE:size": -1}]}`, "image a: OS-EXT-IMG-SIZE:size is negative (-1)"},
		{"absurd progress", nil, `{"images": [{"id": "a", "status": "ACTIVE", "progress": 250}]}`, "image a: progress is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
				return http.StatusOK, tt.header, tt.body
			})
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestImagesURL(t *testing.T) {
	for endpoint, want := range map[string]string{
		"https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1":  "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1/images/detail",
		"https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1/": "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/p1/images/detail",
		"http://user:pw@127.0.0.1:8774/v2.1/p1?x=1":         "http://127.0.0.1:8774/v2.1/p1/images/detail",
	} {
		u, err := imagesURL(endpoint)
		if err != nil || u.String() != want {
			t.Errorf("imagesURL(%q) = %v, %v; want %s", endpoint, u, err, want)
		}
	}
	for _, bad := range []string{"", "ecs.example.com/v2.1", "ftp://x/v2.1", "http://%zz"} {
		if _, err := imagesURL(bad); err == nil {
			t.Errorf("imagesURL(%q) accepted a bad endpoint", bad)
		}
	}
}

func TestListImagesReadsOddTimesAndDropsBadOnes(t *testing.T) {
	c, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) {
		return clienttest.OK(`{"images": [
		  {"id": "z", "status": "ACTIVE", "created": "2026-11-28T10:00:00Z", "updated": "2026-11-28T10:00:00.123456Z"},
		  {"id": "o", "status": "ACTIVE", "created": "2026-11-28T12:00:00+02:00", "updated": "2026-11-28T12:00:00+0200"},
		  {"id": "n", "status": "ACTIVE", "created": "2026-11-28T10:00:00", "updated": "2026-11-28 10:00:00"},
		  {"id": "b", "status": "ACTIVE", "name": "bad-` + "\xff\xfe" + `-name", "created": "yesterday", "updated": "2026-11-28T10:00:00Z"}]}`)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ten := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC).UnixMilli()
	for _, img := range images[:3] {
		if img.Created != ten || img.Updated < ten || img.Updated > ten+1000 || img.Problems != nil {
			t.Errorf("image %s: created %v updated %v problems %q, want 10:00 UTC", img.ID, img.Created, img.Updated, img.Problems)
		}
	}
	bad := images[3]
	if !bad.Missing.Has(client.FieldCreated) || bad.Updated != ten || len(bad.Problems) != 1 || bad.Problems[0] != `created is not an ISO 8601 time: "yesterday"` {
		t.Errorf("image b: created %v updated %v problems %q; want created left out, updated kept", bad.Created, bad.Updated, bad.Problems)
	}
	if bad.Name != "bad-\uFFFD\uFFFD-name" {
		t.Errorf("name %q, want invalid UTF-8 repaired to U+FFFD", bad.Name)
	}
}

func TestURLCredentialsAreNotReported(t *testing.T) {
	for _, endpoint := range []string{"https://user:hunter2@host%zz/v2.1", "ftp://user:hunter2@host/v2.1"} {
		if _, err := imagesURL(endpoint); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("imagesURL(%q): %v", endpoint, err)
		}
	}
}

func TestFiltersInNovasTerms(t *testing.T) {
	zero, three := 0, 3
	got := filters(client.ListOptions{
		Name: "a b", Status: "active", Type: "snapshot", Server: "s1", MinRAM: &zero, MinDisk: &three,
		ChangesSince: time.Date(2026, 11, 2, 13, 0, 0, 0, time.FixedZone("CET", 3600)), PageSize: 7,
	}).Encode()
	const want = "changes-since=2026-11-02T12%3A00%3A00Z&limit=7&minDisk=3&minRam=0&name=a+b&server=s1&status=active&type=snapshot"
	if got != want {
		t.Errorf("query %s, want %s", got, want)
	}
	if got := filters(client.ListOptions{}).Encode(); got != "limit=1000" {
		t.Errorf("the zero options give %q, want only the default page size", got)
	}
}

// imagesURL is the images-detail URL of a compute endpoint, as EachImage builds it.
func imagesURL(endpoint string) (*url.URL, error) {
	return paging.BaseURL(client.Redactor{}, "compute endpoint", endpoint, detailPath)
}

// filters are opts in images-detail's query parameters, as EachImage sends them.
func filters(opts client.ListOptions) url.Values { return paging.Query(opts, queryNames) }
