package glance

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// newTestClient serves answer behind the endpoint prefix (a path, "" for none), as JSON or,
// for a body starting with <html>, as HTML; the token "tok" is renewed to "tok-renewed".
func newTestClient(t *testing.T, prefix string, answer func(n int, r *http.Request) (int, string)) (*Client, *clienttest.Server, *clienttest.Auth) {
	t.Helper()
	s := clienttest.NewServer(t, func(n int, r *http.Request) (int, http.Header, string) {
		status, body := answer(n, r)
		if strings.HasPrefix(body, "<html>") {
			return status, http.Header{"Content-Type": {"text/html; charset=UTF-8"}}, body
		}
		return status, nil, body
	})
	auth := &clienttest.Auth{URL: s.URL + prefix, Token: "tok"}
	return New(auth, client.Options{UserAgent: "test-agent", MaxPages: 20, RetryBackoff: time.Millisecond}), s, auth
}

// answers serves each listing (the default one, then os_hidden=true) from its own pages,
// chosen by the request's marker ("" for the first page).
func answers(listed, hidden map[string]string) func(int, *http.Request) (int, string) {
	return func(_ int, r *http.Request) (int, string) {
		pages := listed
		if r.URL.Query().Get("os_hidden") == "true" {
			pages = hidden
		}
		if body, ok := pages[r.URL.Query().Get("marker")]; ok {
			return http.StatusOK, body
		}
		return http.StatusBadRequest, "<html>\n <head>\n  <title>400 Bad Request</title>\n </head>\n <body>\n  <h1>400 Bad Request</h1>\n  No image found with ID x<br /><br />\n </body>\n</html>"
	}
}

// noHidden is the answer of Glance's hidden listing in a project without hidden images.
var noHidden = map[string]string{"": `{"images": [], "first": "/v2/images?os_hidden=true", "schema": "/v2/schemas/images"}`}

// Images as realstack's Glance 25 sends them.
const (
	imgSnapshot = `{"image_type": "snapshot", "instance_uuid": "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10", "instance_owner": "4d6a1c0b9e8f47a2b3c5d7e9f1a2b3c4", "name": "server-snapshot-1",
	  "disk_format": "qcow2", "container_format": "bare", "visibility": "shared", "size": 3072, "virtual_size": null, "status": "active",
	  "checksum": "24a73767824a9f4cef390b6f56013562", "protected": false, "min_ram": 64, "min_disk": 1, "owner": "93ddbd585732482aaa0b4604e671e77a",
	  "os_hidden": false, "os_hash_algo": "sha512", "os_hash_value": "aec0813e", "id": "97b81eca-9106-4ea1-9cf8-a2590026cd1d",
	  "created_at": "2026-12-02T19:53:42Z", "updated_at": "2026-12-02T19:53:43Z", "tags": [], "self": "/v2/images/97b81eca-9106-4ea1-9cf8-a2590026cd1d",
	  "file": "/v2/images/97b81eca-9106-4ea1-9cf8-a2590026cd1d/file", "schema": "/v2/schemas/image"}`
	imgHidden = `{"name": "hidden-one", "disk_format": "qcow2", "container_format": "bare", "visibility": "private", "size": null,
	  "virtual_size": null, "status": "queued", "checksum": null, "protected": false, "min_ram": 128, "min_disk": 0,
	  "owner": "93ddbd585732482aaa0b4604e671e77a", "os_hidden": true, "os_hash_algo": null, "os_hash_value": null,
	  "id": "8c5d9333-1850-4359-b71b-83f204b6326a", "created_at": "2026-12-02T19:54:32Z", "updated_at": "2026-12-02T19:54:32Z",
	  "tags": [], "self": "/v2/images/8c5d9333-1850-4359-b71b-83f204b6326a", "file": "/v2/images/8c5d9333-1850-4359-b71b-83f204b6326a/file",
	  "schema": "/v2/schemas/image"}`
)

func ms(s string) int64 {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMilli()
}

func TestDecodesFieldsAndProperties(t *testing.T) {
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [` + imgSnapshot + `,
	  {"id": "n", "name": null, "status": "importing", "visibility": "community", "size": 10, "virtual_size": 1073741824,
	   "min_disk": null, "min_ram": null, "created_at": "2026-12-02T19:54:32.5+01:00", "updated_at": null,
	   "instance_uuid": 42, "hw_qemu_guest_agent": "yes", "os_distro": null, "owner_specified.openstack.object": {"a": [1]}},
	  {"id": "m", "status": "saving"}],
	  "first": "/v2/images", "schema": "/v2/schemas/images"}`}, map[string]string{"": `{"images": [` + imgHidden + `], "first": "/v2/images?os_hidden=true", "schema": "/v2/schemas/images"}`}))
	c.Requester.Opts.MetadataKeys = []string{"image_type", "os_hidden", "hw_qemu_guest_agent", "os_distro", "owner_specified.openstack.object"}
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Image{
		{ID: "97b81eca-9106-4ea1-9cf8-a2590026cd1d", Name: "server-snapshot-1", Status: "ACTIVE", APIStatus: "active", Visibility: "shared",
			ServerID: "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10", Owner: "93ddbd585732482aaa0b4604e671e77a", ServerOwner: "4d6a1c0b9e8f47a2b3c5d7e9f1a2b3c4", Size: 3072, MinDisk: 1, MinRAM: 64, Progress: 100,
			Created: ms("2026-12-02T19:53:42Z"), Updated: ms("2026-12-02T19:53:43Z"),
			Metadata: client.Metadata{{Key: "image_type", Value: "snapshot"}, {Key: "os_hidden", Value: "false"}}, Missing: client.FieldVirtualSize},
		{ID: "n", Status: "UNKNOWN", APIStatus: "importing", Visibility: "community", Size: 10, VirtualSize: 1 << 30,
			Progress: 0, Created: ms("2026-12-02T18:54:32.5Z"), Metadata: client.Metadata{{Key: "hw_qemu_guest_agent", Value: "yes"}, {Key: "os_distro", Value: ""}, {Key: "owner_specified.openstack.object", Value: `{"a": [1]}`}}, Missing: client.FieldMinDisk | client.FieldMinRAM | client.FieldUpdated},
		{ID: "m", Status: "SAVING", APIStatus: "saving", Progress: 50, Missing: client.FieldSize | client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated},
		{ID: "8c5d9333-1850-4359-b71b-83f204b6326a", Name: "hidden-one", Status: "SAVING", APIStatus: "queued", Visibility: "private",
			Owner:   "93ddbd585732482aaa0b4604e671e77a",
			MinDisk: 0, MinRAM: 128, Progress: 25,
			Created: ms("2026-12-02T19:54:32Z"), Updated: ms("2026-12-02T19:54:32Z"), Metadata: client.Metadata{{Key: "os_hidden", Value: "true"}}, Missing: client.FieldSize | client.FieldVirtualSize},
	}
	clienttest.EqualImages(t, images, want)
}

func TestMapsStatusesAsNovasProxy(t *testing.T) {
	// nova/api/openstack/compute/views/images.py: _get_status and _get_progress.
	want := map[string][2]any{
		"queued": {"SAVING", 25}, "saving": {"SAVING", 50}, "uploading": {"UNKNOWN", 0}, "importing": {"UNKNOWN", 0},
		"active": {"ACTIVE", 100}, "deactivated": {"UNKNOWN", 0}, "killed": {"ERROR", 0}, "deleted": {"DELETED", 0},
		"pending_delete": {"DELETED", 0}, "ACTIVE": {"UNKNOWN", 0},
	}
	var listed []string
	for status := range want {
		listed = append(listed, fmt.Sprintf(`{"id": %q, "status": %q}`, status, status))
	}
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [` + strings.Join(listed, ",") + `]}`}, noHidden))
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil || len(images) != len(want) {
		t.Fatalf("%d images, %v", len(images), err)
	}
	for _, img := range images {
		if w := want[img.ID]; img.Status != w[0] || img.Progress != int64(w[1].(int)) || img.APIStatus != img.ID {
			t.Errorf("%s: status %s progress %d api_status %s, want %s %d %s", img.ID, img.Status, img.Progress, img.APIStatus, w[0], w[1], img.ID)
		}
	}
}

func TestFollowsNextBehindAPathPrefixThenListsHidden(t *testing.T) {
	// devstack's endpoint is http://host/image; Glance still writes next from the root.
	c, g, _ := newTestClient(t, "/image", answers(map[string]string{
		"": `{"images": [{"id": "i1", "status": "active"}, {"id": "i2", "status": "active"}], "first": "/v2/images?limit=2&name=x",
		  "schema": "/v2/schemas/images", "next": "/v2/images?limit=2&name=x&marker=i2"}`,
		"i2": `{"images": [{"id": "i3", "status": "active"}, {"id": "i4", "status": "saving"}], "first": "/v2/images?limit=2&name=x",
		  "schema": "/v2/schemas/images", "next": "/v2/images?limit=2&name=x&marker=i4"}`,
		"i4": `{"images": [], "first": "/v2/images?limit=2&name=x", "schema": "/v2/schemas/images"}`,
	}, map[string]string{
		"": `{"images": [{"id": "h1", "status": "queued"}], "first": "/v2/images?limit=2&name=x&os_hidden=true", "schema": "/v2/schemas/images"}`,
	}))
	images, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2, Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, img := range images {
		ids = append(ids, img.ID)
	}
	if got := strings.Join(ids, ","); got != "i1,i2,i3,i4,h1" {
		t.Errorf("ids %s, want i1,i2,i3,i4,h1", got)
	}
	wantQueries := []string{"limit=2&name=x", "limit=2&marker=i2&name=x", "limit=2&marker=i4&name=x", "limit=2&name=x&os_hidden=true"}
	if len(g.Requests()) != len(wantQueries) {
		t.Fatalf("%d requests, want %d", len(g.Requests()), len(wantQueries))
	}
	for i, r := range g.Requests() {
		if r.URL.Path != "/image/v2/images" || r.URL.RawQuery != wantQueries[i] || r.Header.Get("X-Auth-Token") != "tok" {
			t.Errorf("request %d: %s?%s token %q, want /image/v2/images?%s with the token", i, r.URL.Path, r.URL.RawQuery, r.Header.Get("X-Auth-Token"), wantQueries[i])
		}
	}

	// The pages of both listings count towards one bound.
	c.Requester.Opts.MaxPages = 3
	if _, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 2, Name: "x"}); err == nil || !strings.Contains(err.Error(), "more than 3 pages") {
		t.Errorf("error %v, want the page bound met in the hidden listing", err)
	}
}

func TestImagesURL(t *testing.T) {
	for endpoint, want := range map[string]string{
		"http://127.0.0.1:29292":                  "http://127.0.0.1:29292/v2/images",
		"http://127.0.0.1:29292/":                 "http://127.0.0.1:29292/v2/images",
		"https://cloud.example/image":             "https://cloud.example/image/v2/images",
		"https://cloud.example/image/v2/":         "https://cloud.example/image/v2/images",
		"https://glance.example:9292/v2":          "https://glance.example:9292/v2/images",
		"http://user:pw@glance.example/v2?x=1#f":  "http://glance.example/v2/images",
		"https://cloud.example/image/v2.1-compat": "https://cloud.example/image/v2.1-compat/v2/images",
	} {
		base, err := paging.BaseURL(client.Redactor{}, "image endpoint", endpoint, "")
		if err != nil {
			t.Fatalf("%q: %v", endpoint, err)
		}
		before := base.String()
		if got := imagesURL(base).String(); got != want || base.String() != before {
			t.Errorf("%q: %s, endpoint now %s; want %s and the endpoint unchanged", endpoint, got, base, want)
		}
	}
	for _, bad := range []string{"", "glance.example:9292", "ftp://x/", "http://%zz", "https://user:hunter2@host%zz/"} {
		if _, err := paging.BaseURL(client.Redactor{}, "image endpoint", bad, ""); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("imagesURL(%q): %v, want a bad endpoint refused without its password", bad, err)
		}
	}
}

// A next link is followed as Nova's are: its query goes to the image endpoint, whatever
// scheme, host or port it names, so that the token goes nowhere else.
func TestFollowsANextLinkElsewhereOnTheImageEndpoint(t *testing.T) {
	var leaked []string
	var mu sync.Mutex
	elsewhere := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		leaked = append(leaked, r.Header.Get("X-Auth-Token"))
	}))
	defer elsewhere.Close()
	for name, next := range map[string]string{
		"another host":           elsewhere.URL + "/v2/images?limit=1&marker=i1",
		"a scheme-relative host": "//" + strings.TrimPrefix(elsewhere.URL, "http://") + "/v2/images?limit=1&marker=i1",
		"another scheme":         "https://HOST/v2/images?limit=1&marker=i1",
		"another port":           "http://HOST:1/other/path?limit=1&marker=i1",
	} {
		t.Run(name, func(t *testing.T) {
			c, g, _ := newTestClient(t, "/image", func(n int, r *http.Request) (int, string) {
				if n == 0 {
					next := strings.ReplaceAll(next, "HOST", r.Host[:strings.LastIndex(r.Host, ":")])
					return http.StatusOK, fmt.Sprintf(`{"images": [{"id": "i1", "status": "active"}], "next": %q}`, next)
				}
				return http.StatusOK, `{"images": []}`
			})
			images, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err != nil || len(images) != 1 {
				t.Fatalf("%d images, %v; want the listing to follow the link", len(images), err)
			}
			if len(g.Requests()) != 3 || g.Requests()[1].URL.String() != "/image/v2/images?limit=1&marker=i1" {
				t.Errorf("%d requests, the second %v; want /image/v2/images?limit=1&marker=i1 then the hidden listing", len(g.Requests()), g.Requests()[1].URL)
			}
		})
	}
	if len(leaked) != 0 {
		t.Errorf("the other host was sent %d requests (tokens %q), want none", len(leaked), leaked)
	}
}

func TestRefusesABadNextLink(t *testing.T) {
	for _, tt := range []struct{ name, next, wantErr string }{
		{"no marker", "/v2/images?limit=1", "has no marker"},
		{"not a URL", "/v2/%zz/images?marker=i1", "is not a URL"},
		{"a secret", "http://x.example/?tok", "<redacted>"},
		{"longer than its bound", "/v2/images?marker=i1&x=" + strings.Repeat("x", 900<<10), fmt.Sprintf("longer than %d bytes", client.MaxNextLinkBytes)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, g, _ := newTestClient(t, "", func(_ int, r *http.Request) (int, string) {
				return http.StatusOK, fmt.Sprintf(`{"images": [{"id": "i1", "status": "active"}], "next": %q}`, tt.next)
			})
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "page 1") {
				t.Errorf("error %.300v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(fmt.Sprint(err), "?tok") || len(fmt.Sprint(err)) > 1024 {
				t.Errorf("error %.300q holds a secret or runs long (%d bytes)", err, len(fmt.Sprint(err)))
			}
			if len(g.Requests()) != 1 {
				t.Errorf("%d requests, want only the first", len(g.Requests()))
			}
		})
	}
}

func TestFollowsAnAbsoluteNextOnItsOwnEndpoint(t *testing.T) {
	c, g, _ := newTestClient(t, "/image", func(n int, r *http.Request) (int, string) {
		if n == 0 {
			// The default port spelled out, the host in capitals: the same endpoint.
			return http.StatusOK, fmt.Sprintf(`{"images": [{"id": "i1", "status": "active"}], "next": "HTTP://%s/v2/images?marker=i1"}`, strings.ToUpper(r.Host))
		}
		return http.StatusOK, `{"images": []}`
	})
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(g.Requests()) != 3 || g.Requests()[1].URL.String() != "/image/v2/images?marker=i1" {
		t.Errorf("%d requests, the second %v; want /image/v2/images?marker=i1 then the hidden listing", len(g.Requests()), g.Requests()[1].URL)
	}
}

func TestStopsAPaginationLoop(t *testing.T) {
	c, g, _ := newTestClient(t, "", func(int, *http.Request) (int, string) {
		// A server that ignores the marker: the same full page with its next link, forever.
		return http.StatusOK, `{"images": [{"id": "a", "status": "active"}], "next": "/v2/images?limit=1&marker=a"}`
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{PageSize: 1})
	if err == nil || !strings.Contains(err.Error(), "page 3: pagination loop: marker a was already requested") {
		t.Fatalf("error %v, want a pagination loop", err)
	}
	if len(g.Requests()) != 2 {
		t.Errorf("%d requests, want 2", len(g.Requests()))
	}
}

func TestListsHiddenImagesWithTheSameFilters(t *testing.T) {
	zero, three := 0, 3
	opts := client.ListOptions{
		Name: "a b", Status: "active", Type: "snapshot", Server: "s1", MinRAM: &zero, MinDisk: &three,
		ChangesSince: time.Date(2026, 11, 2, 13, 0, 0, 0, time.FixedZone("CET", 3600)), PageSize: 7,
	}
	const want = "image_type=snapshot&instance_uuid=s1&limit=7&min_disk=3&min_ram=0&name=a+b&status=active&updated_at=gte%3A2026-11-02T12%3A00%3A00Z"
	if got := filters(opts).Encode(); got != want {
		t.Errorf("query %s, want %s", got, want)
	}
	if got := filters(client.ListOptions{}).Encode(); got != "limit=1000" {
		t.Errorf("the zero options give %q, want only the default page size", got)
	}
	c, g, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": []}`}, noHidden))
	if _, err := client.Collect(context.Background(), c, opts); err != nil {
		t.Fatal(err)
	}
	if len(g.Requests()) != 2 {
		t.Fatalf("%d requests, want the listing and the hidden listing", len(g.Requests()))
	}
	for i, wantQuery := range []string{want, strings.Replace(want, "&status", "&os_hidden=true&status", 1)} {
		if got := g.Requests()[i].URL.Query().Encode(); got != wantQuery {
			t.Errorf("request %d: query %s, want %s", i, got, wantQuery)
		}
	}
}

func TestRefusesTheIMSImageType(t *testing.T) {
	c, g, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": []}`}, noHidden))
	err := c.EachImage(context.Background(), client.ListOptions{ImageType: "gold"}, func(client.Image) error { return nil })
	var inexpressible *client.InexpressibleError
	if !errors.As(err, &inexpressible) || inexpressible.Option != "imagetype" || inexpressible.API != "glance" || c.API() != "glance" {
		t.Fatalf("error %v, want imagetype inexpressible in glance", err)
	}
	if len(g.Requests()) != 0 {
		t.Errorf("%d requests, want none", len(g.Requests()))
	}
}

// glance401 is realstack's Glance refusing a token.
const glance401 = "<html>\n <head>\n  <title>401 Unauthorized</title>\n </head>\n <body>\n  <h1>401 Unauthorized</h1>\n  This server could not verify that you are authorized to access the document you requested.<br /><br />\n </body>\n</html>"

func TestRenewsOnceOn401(t *testing.T) {
	c, g, auth := newTestClient(t, "", func(_ int, r *http.Request) (int, string) {
		if r.Header.Get("X-Auth-Token") != "tok-renewed" {
			return http.StatusUnauthorized, glance401
		}
		return answers(map[string]string{"": `{"images": [{"id": "a", "status": "active"}]}`}, noHidden)(0, r)
	})
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 1 || auth.Renewals() != 1 || len(g.Requests()) != 3 {
		t.Errorf("got %d images, %d renewals, %d requests; want 1, 1, 3", len(images), auth.Renewals(), len(g.Requests()))
	}

	c, g, auth = newTestClient(t, "", func(int, *http.Request) (int, string) { return http.StatusUnauthorized, glance401 })
	_, err = client.Collect(context.Background(), c, client.ListOptions{})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized || auth.Renewals() != 1 || len(g.Requests()) != 2 {
		t.Errorf("error %v, %d renewals, %d requests; want a 401 after one renewal and 2 requests", err, auth.Renewals(), len(g.Requests()))
	}
}

func TestRejectsBadBodies(t *testing.T) {
	for _, tt := range []struct{ name, body, wantErr string }{
		{"wrong type", `{"images": [{"id": "a", "status": "active", "min_disk": "ten"}]}`, "images[0]: wrong JSON type: field min_disk holds a string"},
		{"float size", `{"images": [{"id": "a", "status": "active", "size": 1.5}]}`, "images[0]: wrong JSON type"},
		{"negative virtual size", `{"images": [{"id": "a", "status": "active", "virtual_size": -1}]}`, "image a: virtual_size is negative (-1)"},
		{"absurd size", `{"images": [{"id": "a", "status": "active", "size": 1125899906842625}]}`, "image a: size is out of range"},
		{"absurd min_ram", `{"images": [{"id": "a", "status": "active", "min_ram": 1073741825}]}`, "image a: min_ram is out of range"},
		{"absurd min_disk", `{"images": [{"id": "a", "status": "active", "min_disk": 1048577}]}`, "image a: min_disk is out of range"},
		{"no id", `{"images": [{"status": "active"}]}`, "images[0]: image without an id"},
		{"no status", `{"images": [{"id": "a", "status": null}]}`, "image a: no status"},
		{"next not a string", `{"images": [], "next": 3}`, "next: wrong JSON type"},
		{"no images", `{"first": "/v2/images", "schema": "/v2/schemas/images"}`, `no "images" list`},
		{"one value too large", `{"images": [{"id": "a", "status": "active", "name": "` + strings.Repeat("x", 2<<20) + `"}]}`, "images[0]: larger than 1048576 bytes"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, _, _ := newTestClient(t, "", func(int, *http.Request) (int, string) { return http.StatusOK, tt.body })
			c.Requester.Opts.MaxResponseBytes = 8 << 20
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestBoundsPagesAndListings(t *testing.T) {
	c, _, _ := newTestClient(t, "", func(int, *http.Request) (int, string) {
		return http.StatusOK, `{"images": [{"id": "a", "status": "active", "name": "` + strings.Repeat("x", 10000) + `"}]}`
	})
	c.Requester.Opts.MaxResponseBytes = 1000
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "response body larger than 1000 bytes") {
		t.Errorf("error %v, want the page bound", err)
	}
	// The name is cut at 1024 bytes: each image costs some 1300 bytes.
	c.Requester.Opts.MaxResponseBytes, c.Requester.Opts.MaxListingBytes = 1<<20, 2000
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "more than 2000 bytes of images") {
		t.Errorf("error %v, want the listing bound met in the hidden listing", err)
	}
}

func TestCutsLabels(t *testing.T) {
	long := strings.Repeat
	body := fmt.Sprintf(`{"images": [{"id": %q, "status": %q, "visibility": %q, "name": %q, "instance_uuid": %q, "image_type": %q}]}`,
		long("i", 255), long("s", 100), long("v", 100), "x"+long("€", 400), long("u", 300), "xx"+long("😀", 300))
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": body}, noHidden))
	c.Requester.Opts.MetadataKeys = []string{"image_type"}
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	img := images[0]
	got := []int{len(img.ID), len(img.APIStatus), len(img.Visibility), len(img.Name), len(img.ServerID), len(img.Metadata.Get("image_type"))}
	// Cut at the last whole rune within the bound: € is 3 bytes, 😀 4.
	if want := []int{255, 64, 64, 1 + 341*3, 255, 2 + 255*4}; !reflect.DeepEqual(got, want) {
		t.Errorf("id, api status, visibility, name, server id, property: %v bytes, want %v", got, want)
	}
	if img.Status != "UNKNOWN" {
		t.Errorf("status %q, want UNKNOWN", img.Status)
	}

	c, _, _ = newTestClient(t, "", answers(map[string]string{"": fmt.Sprintf(`{"images": [{"id": %q, "status": "active"}]}`, long("i", 256))}, noHidden))
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "id longer than 255 bytes") {
		t.Fatalf("error %v, want the id refused", err)
	}
}

func TestRedactsEchoedSecrets(t *testing.T) {
	c, _, auth := newTestClient(t, "", func(_ int, r *http.Request) (int, string) {
		token := r.Header.Get("X-Auth-Token")
		return http.StatusOK, fmt.Sprintf(`{"images": [{"id": "i1", "status": "active", "name": "token %s", "created_at": "at %s",
		  "instance_uuid": %q, "image_type": %q}]}`, token, token, token, token)
	})
	auth.Token = "0123456789abcdef0123456789abcdef"
	c.Requester.Opts.MetadataKeys = []string{"image_type"}
	var images []client.Image
	err := c.EachImage(context.Background(), client.ListOptions{}, func(img client.Image) error {
		images = append(images, img)
		return nil
	})
	if err != nil || len(images) != 2 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	text := fmt.Sprintf("%+v", images)
	if strings.Contains(text, auth.Token) {
		t.Errorf("images %s hold a secret", text)
	}
	if images[0].Name != "token <redacted>" {
		t.Errorf("name %q, want the secrets replaced", images[0].Name)
	}
}

func TestReadsBadTimesAsProblems(t *testing.T) {
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [{"id": "a", "status": "active", "created_at": "yesterday", "updated_at": 5}]}`}, noHidden))
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`created_at is not an ISO 8601 time: "yesterday"`, `updated_at is not an ISO 8601 time: "5"`}
	if img := images[0]; !img.Missing.Has(client.FieldCreated|client.FieldUpdated) || !reflect.DeepEqual(img.Problems, want) {
		t.Errorf("created %d updated %d problems %q, want both missing and %q", img.Created, img.Updated, img.Problems, want)
	}
}

// A next link's marker is an image id: one longer than an id can be is refused, or a
// server could make the listing keep a megabyte-long marker per page (to detect a loop)
// for up to --client.max-pages pages.
func TestRefusesANextMarkerLongerThanAnID(t *testing.T) {
	c, g, _ := newTestClient(t, "", func(n int, _ *http.Request) (int, string) {
		marker := fmt.Sprintf("%d-%s", n, strings.Repeat("m", client.MaxIDBytes))
		return http.StatusOK, fmt.Sprintf(`{"images": [], "next": "/v2/images?marker=%s"}`, marker)
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "page 1: next link") || !strings.Contains(err.Error(), "marker longer than 255 bytes") {
		t.Errorf("error %v, want the next link of page 1 refused for its marker", err)
	}
	if len(g.Requests()) != 1 {
		t.Errorf("%d requests, want only the first", len(g.Requests()))
	}
}

// An image's properties are top-level keys that any user who can edit the image names: a
// property whose name differs from a field's only in case is a property, not the field.
func TestPropertiesNamedLikeFieldsInAnotherCaseAreProperties(t *testing.T) {
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [{"id": "a", "status": "active", "size": 5,
	  "name": "real", "instance_uuid": "s1", "min_disk": 1,
	  "SIZE": "1", "Min_Disk": "ten", "ID": "b", "Status": "killed", "Name": "spoofed", "Instance_UUID": "s2", "Visibility": "public"}]}`}, noHidden))
	c.Requester.Opts.MetadataKeys = []string{"Name"}
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := client.Image{ID: "a", Name: "real", Status: "ACTIVE", APIStatus: "active", ServerID: "s1", Size: 5,
		MinDisk: 1, Progress: 100, Metadata: client.Metadata{{Key: "Name", Value: "spoofed"}}, Missing: client.FieldVirtualSize | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated}
	if len(images) != 1 || !reflect.DeepEqual(images[0], want) {
		t.Errorf("got %+v, want %+v", images, want)
	}
}

// With no page size set, the listing asks for Glance's usual maximum (api_limit_max 1000)
// rather than its default of 25 a page.
func TestSendsTheDefaultPageSize(t *testing.T) {
	c, g, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": []}`}, noHidden))
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	for i, r := range g.Requests() {
		if got := r.URL.Query().Get("limit"); got != "1000" {
			t.Errorf("request %d: limit %q, want 1000", i, got)
		}
	}
}

// filters are opts in Glance's query parameters, as EachImage sends them.
func filters(opts client.ListOptions) url.Values { return paging.Query(opts, queryNames) }

// Glance on Huawei's IMS host (Open Telekom Cloud's and Huawei Cloud's "Querying Images
// (Native OpenStack API)"): size is "unavailable currently" and sent as 0, the size is the
// string __image_size; a public image has none, and its size is not known.
func TestReadsTheSizeFromImageSizeOnTheIMSHost(t *testing.T) {
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [
	  {"id": "p", "status": "active", "visibility": "private", "__imagetype": "private", "size": 0,
	   "__image_size": "1848573952", "virtual_size": null, "__os_type": "Linux", "active_at": "2026-11-28T11:25:17Z"},
	  {"id": "g", "status": "active", "visibility": "public", "__imagetype": "gold", "size": 0, "virtual_size": null,
	   "__os_type": "Linux", "protected": true},
	  {"id": "s", "status": "active", "visibility": "shared", "__imagetype": "shared", "size": null, "__image_size": 4096}],
	  "first": "/v2/images", "schema": "/v2/schemas/images"}`}, noHidden))
	c.onIMSHost = onIMSHost
	c.Requester.Opts.MetadataKeys = []string{"__os_type", "active_at"}
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const unknown = client.FieldVirtualSize | client.FieldMinDisk | client.FieldMinRAM | client.FieldCreated | client.FieldUpdated
	want := []client.Image{
		{ID: "p", Status: "ACTIVE", APIStatus: "active", Visibility: "private", Size: 1848573952, Progress: 100, Missing: unknown,
			Metadata: client.Metadata{{Key: "__os_type", Value: "Linux"}, {Key: "active_at", Value: "2026-11-28T11:25:17Z"}}},
		{ID: "g", Status: "ACTIVE", APIStatus: "active", Visibility: "public", Progress: 100, Missing: unknown | client.FieldSize,
			Metadata: client.Metadata{{Key: "__os_type", Value: "Linux"}}},
		{ID: "s", Status: "ACTIVE", APIStatus: "active", Visibility: "shared", Size: 4096, Progress: 100, Missing: unknown},
	}
	clienttest.EqualImages(t, images, want)
}

// An unreadable __image_size fails the listing naming the image and the field, as IMS's.
func TestBadImageSizeOnTheIMSHostFailsNamingTheField(t *testing.T) {
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [
	  {"id": "img-x", "status": "active", "size": 0, "__image_size": "12 GB"}], "schema": "/v2/schemas/images"}`}, noHidden))
	c.onIMSHost = onIMSHost
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "__image_size") || !strings.Contains(err.Error(), "img-x") {
		t.Errorf("%v, want an error naming the image and __image_size", err)
	}
}

// onIMSHost takes the test server, on loopback, for Huawei's IMS host.
func onIMSHost(string) bool { return true }

// Only the IMS host's name makes Glance's answer Huawei's: ims.{region}.{domain}.
func TestTheIMSHostIsKnownByItsName(t *testing.T) {
	for host, want := range map[string]bool{
		"ims.eu-de.otc.t-systems.com": true, "IMS.cn-north-4.myhuaweicloud.com": true, "ims.ap-southeast-1.myhuaweicloud.eu": true,
		"glance.example.com": false, "127.0.0.1": false, "images.example.com": false, "cloud-ims.example.com": false,
	} {
		if got := huaweiIMSHost(host); got != want {
			t.Errorf("huaweiIMSHost(%q) = %v, want %v", host, got, want)
		}
	}
}

// On any other Glance, __imagetype and __image_size are properties a tenant may set like
// any other: they neither hide nor replace the image's size, nor fail the listing. Before,
// either key made the image Huawei's, so a tenant could hide its image's bytes (found by a
// hostile review).
func TestHuaweisKeysOnAPlainGlanceAreProperties(t *testing.T) {
	c, _, _ := newTestClient(t, "", answers(map[string]string{"": `{"images": [
	  {"id": "a", "status": "active", "visibility": "private", "size": 10737418240, "__imagetype": "mine"},
	  {"id": "b", "status": "active", "visibility": "private", "size": 10737418240, "__image_size": "1"},
	  {"id": "c", "status": "active", "visibility": "private", "size": 10737418240, "__image_size": "x"}],
	  "first": "/v2/images", "schema": "/v2/schemas/images"}`}, noHidden))
	images, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err != nil || len(images) != 3 {
		t.Fatalf("%d images, %v; want the 3", len(images), err)
	}
	for _, img := range images {
		if img.Size != 10737418240 || img.Missing&client.FieldSize != 0 {
			t.Errorf("image %s: size %d (missing %v), want its size, 10737418240", img.ID, img.Size, img.Missing&client.FieldSize != 0)
		}
	}
}
