package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPaginationWalk(t *testing.T) {
	six := GenerateImages(6, 7, testNow)
	for _, internal := range []string{"", "http://nova-api.internal:8774"} {
		t.Run("internal="+internal, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{Images: six, InternalHost: internal})
			host := internal
			if host == "" {
				host = srv.URL
			}
			// The expected order: created desc.
			want := slices.Clone(six)
			slices.SortFunc(want, func(a, b Image) int { return b.Created.Compare(a.Created) })
			var got []string
			sizes := []int{}
			next := srv.URL + "/v2.1/" + proj + "/images/detail?limit=2"
			for i := 0; i < 10; i++ {
				p := decodePage(t, do(t, "GET", next, tok, nil, ""))
				sizes = append(sizes, len(p.Images))
				got = append(got, p.ids()...)
				if len(p.Images) < 2 {
					if p.Links != nil {
						t.Errorf("short page has images_links")
					}
					break
				}
				if len(p.Links) != 1 || p.Links[0].Rel != "next" {
					t.Fatalf("page %d links %+v", i, p.Links)
				}
				wantHref := host + "/v2.1/" + proj + "/images/detail?limit=2&marker=" + p.Images[1].ID
				if p.Links[0].Href != wantHref {
					t.Errorf("next %q, want %q", p.Links[0].Href, wantHref)
				}
				// Re-issue against the real server, as a client must.
				u, _ := url.Parse(p.Links[0].Href)
				next = srv.URL + u.Path + "?" + u.RawQuery
			}
			if !slices.Equal(sizes, []int{2, 2, 2, 0}) {
				t.Errorf("page sizes %v", sizes)
			}
			var wantIDs []string
			for _, im := range want {
				wantIDs = append(wantIDs, im.ID)
			}
			if !slices.Equal(got, wantIDs) {
				t.Errorf("ids %v, want %v", got, wantIDs)
			}
			if n := len(sim.Requests()); n != 4 {
				t.Errorf("%d requests recorded", n)
			}
		})
	}
}

func TestPaginationLimits(t *testing.T) {
	imgs := GenerateImages(7, 3, testNow)
	tests := []struct {
		name     string
		maxLimit int
		query    string
		n        int
		nextHref string // "" → no images_links key
	}{
		{"no limit under max", 0, "", 7, ""},
		{"limit zero returns all", 0, "limit=0", 7, ""},
		{"limit bigger than set", 0, "limit=50", 7, ""},
		{"max limit caps, link without limit", 3, "", 3, "/v2.1/" + proj + "/images/detail?marker=$"},
		{"limit above max is capped", 3, "limit=10", 3, "/v2.1/" + proj + "/images/detail?limit=10&marker=$"},
		{"filters kept sorted", 0, "status=active&limit=1", 1, "/v2.1/" + proj + "/images/detail?limit=1&status=active&marker=$"},
		{"marker keeps its place", 0, "status=active&marker=" + "@1" + "&limit=1", 1, "/v2.1/" + proj + "/images/detail?limit=1&marker=$&status=active"},
	}
	sorted := slices.Clone(imgs)
	slices.SortFunc(sorted, func(a, b Image) int { return b.Created.Compare(a.Created) })
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv, tok := newTest(t, Options{Images: imgs, MaxLimit: tc.maxLimit})
			q := strings.ReplaceAll(tc.query, "@1", sorted[0].ID)
			p := decodePage(t, do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?"+q, tok, nil, ""))
			if len(p.Images) != tc.n {
				t.Fatalf("%d images, want %d", len(p.Images), tc.n)
			}
			if tc.nextHref == "" {
				if p.Links != nil {
					t.Errorf("unexpected links %+v", p.Links)
				}
				return
			}
			want := srv.URL + strings.ReplaceAll(tc.nextHref, "$", p.Images[len(p.Images)-1].ID)
			if len(p.Links) != 1 || p.Links[0].Href != want {
				t.Errorf("links %+v, want %s", p.Links, want)
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	tests := []struct {
		query string
		body  string
	}{
		{"limit=2&marker=00000000-0000-0000-0000-000000000000", `{"badRequest": {"code": 400, "message": "HTTP 400 Bad Request: No image found with ID 00000000-0000-0000-0000-000000000000"}}`},
		{"limit=abc", `{"badRequest": {"code": 400, "message": "limit param must be an integer"}}`},
		{"limit=1.5", `{"badRequest": {"code": 400, "message": "limit param must be an integer"}}`},
		{"limit=-1", `{"badRequest": {"code": 400, "message": "limit param must be positive"}}`},
		{"changes-since=yesterday", `{"badRequest": {"code": 400, "message": "Invalid changes-since value"}}`},
		{"minRam=lots", ""},
		{"minDisk=1.5", ""},
	}
	_, srv, tok := newTest(t, Options{})
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?"+tc.query, tok, nil, "")
			if r.code != 400 {
				t.Fatalf("status %d: %s", r.code, r.body)
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Errorf("body %s, want %s", r.body, tc.body)
			}
			if !bytes.HasPrefix(r.body, []byte(`{"badRequest": {"code": 400, "message": "`)) {
				t.Errorf("body %s", r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json; charset=UTF-8" {
				t.Errorf("content type %q", ct)
			}
		})
	}
}

func TestMicroversions(t *testing.T) {
	const notFound = `{"itemNotFound": {"code": 404, "message": "The resource could not be found."}}`
	tests := []struct {
		header, value string
		code          int
		body          string
		echoed        string
	}{
		{"", "", 200, "", "2.1"},
		{"X-OpenStack-Nova-API-Version", "2.1", 200, "", "2.1"},
		{"X-OpenStack-Nova-API-Version", "2.35", 200, "", "2.35"},
		{"OpenStack-API-Version", "compute 2.35", 200, "", "2.35"},
		{"X-OpenStack-Nova-API-Version", "2.36", 404, notFound, "2.36"},
		{"OpenStack-API-Version", "compute 2.36", 404, notFound, "2.36"},
		{"X-OpenStack-Nova-API-Version", "latest", 404, notFound, "2.93"},
		{"OpenStack-API-Version", "compute latest", 404, notFound, "2.93"},
		{"OpenStack-API-Version", "volume 3.0", 200, "", "2.1"},
		{"X-OpenStack-Nova-API-Version", "2.99", 406, `{"computeFault": {"code": 406, "message": "Version 2.99 is not supported by the API. Minimum is 2.1 and maximum is 2.93."}}`, ""},
		{"X-OpenStack-Nova-API-Version", "2.0", 406, "", ""},
		{"X-OpenStack-Nova-API-Version", "two", 400, "", ""},
	}
	_, srv, tok := newTest(t, Options{})
	for _, tc := range tests {
		t.Run(tc.header+"="+tc.value, func(t *testing.T) {
			var h map[string]string
			if tc.header != "" {
				h = map[string]string{tc.header: tc.value}
			}
			r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, h, "")
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.body)
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Errorf("body %s, want %s", r.body, tc.body)
			}
			if tc.echoed != "" {
				if got := r.header.Get("X-OpenStack-Nova-API-Version"); got != tc.echoed {
					t.Errorf("X-OpenStack-Nova-API-Version %q, want %q", got, tc.echoed)
				}
				if got := r.header.Get("OpenStack-API-Version"); got != "compute "+tc.echoed {
					t.Errorf("OpenStack-API-Version %q", got)
				}
			}
		})
	}
}

func TestResponseHeaders(t *testing.T) {
	_, srv, tok := newTest(t, Options{})
	r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, "")
	if r.code != 200 {
		t.Fatal(r.code)
	}
	checks := map[string]string{
		"Content-Type":                 "application/json",
		"X-OpenStack-Nova-API-Version": "2.1",
		"OpenStack-API-Version":        "compute 2.1",
	}
	for k, v := range checks {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := r.header.Values("Vary"); !slices.Equal(got, []string{"OpenStack-API-Version", "X-OpenStack-Nova-API-Version"}) {
		t.Errorf("Vary %v", got)
	}
	id := r.header.Get("x-openstack-request-id")
	if !strings.HasPrefix(id, "req-") || len(id) != 40 || r.header.Get("x-compute-request-id") != id {
		t.Errorf("request ids %q %q", id, r.header.Get("x-compute-request-id"))
	}
}

func TestFilters(t *testing.T) {
	imgs := DefaultImages(testNow)
	tests := []struct {
		query string
		want  []string
	}{
		{"status=queued", []string{DefaultIDQueued}},
		{"status=QUEUED", []string{DefaultIDQueued}},
		{"status=SAVING", []string{DefaultIDSaving}}, // lower-cased raw Glance status, not the Nova one
		{"status=ERROR", nil},
		{"status=bogus", nil},
		{"status=killed", []string{DefaultIDKilled}},
		{"name=" + url.QueryEscape(DefaultUnicodeName), []string{DefaultIDUnicode}},
		{"name=queued", nil},
		{"changes-since=" + url.QueryEscape(testNow.Add(-7*time.Hour).Format(time.RFC3339)), []string{DefaultIDNoName, DefaultIDUnicode}},
		{"changes-since=" + url.QueryEscape(testNow.Add(-31*time.Hour).Format("2006-01-02T15:04:05+00:00")), []string{DefaultIDNoName, DefaultIDUnicode, DefaultIDSnapshot, DefaultIDDeactivated, DefaultIDDeleted, DefaultIDKilled}},
		// minRam and minDisk match exactly, as the real Nova (through Glance v2) does.
		{"minRam=512", []string{DefaultIDCirros}},
		{"minRam=300", nil},
		{"minRam=0&minDisk=2", []string{DefaultIDDeactivated}},
		{"minDisk=3", []string{DefaultIDNoName}},
		{"server=" + DefaultSnapshotServerID, []string{DefaultIDSnapshot}},
		{"server=http://nova/v2.1/servers/" + DefaultSnapshotServerID, []string{DefaultIDSnapshot}},
		{"server=00000000-0000-0000-0000-000000000000", nil},
		{"type=snapshot", []string{DefaultIDSnapshot}},
		{"type=backup", nil},
		{"property-os_distro=cirros", []string{DefaultIDCirros}},
		{"status=active&minRam=256", []string{DefaultIDUnicode}},
	}
	_, srv, tok := newTest(t, Options{Images: imgs})
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			p := decodePage(t, do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?"+tc.query, tok, nil, ""))
			if got := p.ids(); !slices.Equal(got, tc.want) {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}
	// The queued image is shown as SAVING/25 with size 0.
	p := decodePage(t, do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?status=queued", tok, nil, ""))
	if im := p.Images[0]; im.Status != "SAVING" || im.Progress != 25 || im.Size != 0 {
		t.Errorf("queued image shown as %+v", im)
	}
}

func TestStatusMapping(t *testing.T) {
	want := map[string][2]any{
		DefaultIDCirros:      {"ACTIVE", 100},
		DefaultIDQueued:      {"SAVING", 25},
		DefaultIDSaving:      {"SAVING", 50},
		DefaultIDKilled:      {"ERROR", 0},
		DefaultIDDeleted:     {"DELETED", 0},
		DefaultIDDeactivated: {"UNKNOWN", 0},
		DefaultIDSnapshot:    {"ACTIVE", 100},
		DefaultIDUnicode:     {"ACTIVE", 100},
		DefaultIDNoName:      {"ACTIVE", 100},
	}
	_, srv, tok := newTest(t, Options{})
	p := decodePage(t, do(t, "GET", srv.URL+"/v2.1/images/detail", tok, nil, ""))
	if len(p.Images) != len(want) {
		t.Fatalf("%d images", len(p.Images))
	}
	for _, im := range p.Images {
		if w := want[im.ID]; im.Status != w[0] || im.Progress != w[1] {
			t.Errorf("%s: %s/%d, want %v", im.ID, im.Status, im.Progress, w)
		}
	}
	extra := []Image{{ID: "p", Status: "pending_delete", Created: testNow}, {ID: "u", Status: "uploading", Created: testNow}, {ID: "i", Status: "importing", Created: testNow}}
	sim2, srv2, tok2 := newTest(t, Options{Images: extra})
	_ = sim2
	p = decodePage(t, do(t, "GET", srv2.URL+"/v2.1/images/detail", tok2, nil, ""))
	got := map[string]string{}
	for _, im := range p.Images {
		got[im.ID] = im.Status
	}
	if got["p"] != "DELETED" || got["u"] != "UNKNOWN" || got["i"] != "UNKNOWN" {
		t.Errorf("statuses %v", got)
	}
	if !slices.Equal(p.ids(), []string{"u", "p", "i"}) {
		t.Errorf("tie order %v, want id desc", p.ids())
	}
}

// TestImageJSON compares whole image objects byte for byte with what real
// Nova would send, including key order and \u escapes.
func TestImageJSON(t *testing.T) {
	created := time.Date(2026, 11, 28, 20, 5, 17, 0, time.UTC)
	size := int64(3072)
	tests := []struct {
		name string
		img  Image
		want string
	}{
		{
			"snapshot with null name and null updated",
			Image{
				ID: "7ab00dbc-fa05-45f5-b2e3-d3fd5019950a", Status: "active", Size: &size, MinDisk: 1, MinRAM: 64,
				Created:  created,
				Metadata: map[string]any{"instance_uuid": "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10", "image_type": "snapshot"},
				ServerID: "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10",
			},
			`{"id": "7ab00dbc-fa05-45f5-b2e3-d3fd5019950a", "name": null, "minRam": 64, "minDisk": 1, "metadata": {"image_type": "snapshot", "instance_uuid": "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10"}, "created": "2026-11-28T20:05:17Z", "updated": null, "status": "ACTIVE", "progress": 100, "OS-EXT-IMG-SIZE:size": 3072, "links": [{"rel": "self", "href": "HOST/v2.1/PROJ/images/7ab00dbc-fa05-45f5-b2e3-d3fd5019950a"}, {"rel": "bookmark", "href": "HOST/PROJ/images/7ab00dbc-fa05-45f5-b2e3-d3fd5019950a"}, {"rel": "alternate", "type": "application/vnd.openstack.image", "href": "http://glance.internal:9292/images/7ab00dbc-fa05-45f5-b2e3-d3fd5019950a"}], "server": {"id": "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10", "links": [{"rel": "self", "href": "HOST/v2.1/PROJ/servers/8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10"}, {"rel": "bookmark", "href": "HOST/PROJ/servers/8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10"}]}}`,
		},
		{
			"queued unicode name, nil size, rich metadata",
			Image{
				ID: "4512a65b-1176-441d-ad30-52571f39efe4", Name: strPtr(DefaultUnicodeName + " \"q\" \U0001F600"), Status: "queued",
				Created: created, Updated: timePtr(created.Add(4 * time.Second)),
				Metadata: map[string]any{"b": true, "n": nil, "i": int64(7), "f": 1.5, "o": map[string]any{"z": []any{"x", int64(1)}, "a": false}, "s": "é"},
			},
			`{"id": "4512a65b-1176-441d-ad30-52571f39efe4", "name": "Ubuntu 22.04 LTS \u2013 \u00dcn\u00efc\u00f6d\u00e9 \u540d\u524d test \"q\" \ud83d\ude00", "minRam": 0, "minDisk": 0, "metadata": {"b": true, "f": 1.5, "i": 7, "n": null, "o": {"a": false, "z": ["x", 1]}, "s": "\u00e9"}, "created": "2026-11-28T20:05:17Z", "updated": "2026-11-28T20:05:21Z", "status": "SAVING", "progress": 25, "OS-EXT-IMG-SIZE:size": 0, "links": [{"rel": "self", "href": "HOST/v2.1/PROJ/images/4512a65b-1176-441d-ad30-52571f39efe4"}, {"rel": "bookmark", "href": "HOST/PROJ/images/4512a65b-1176-441d-ad30-52571f39efe4"}, {"rel": "alternate", "type": "application/vnd.openstack.image", "href": "http://glance.internal:9292/images/4512a65b-1176-441d-ad30-52571f39efe4"}]}`,
		},
	}
	for _, tc := range tests {
		for _, path := range []string{"/v2.1/" + proj + "/images/detail", "/v2.1/images/detail"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				_, srv, tok := newTest(t, Options{Images: []Image{tc.img}, InternalHost: "http://nova.internal:8774/"})
				r := do(t, "GET", srv.URL+path, tok, nil, "")
				want := strings.ReplaceAll(tc.want, "HOST", "http://nova.internal:8774")
				if strings.Contains(path, proj) {
					want = strings.ReplaceAll(want, "PROJ", proj)
				} else {
					want = strings.ReplaceAll(want, "/PROJ", "")
				}
				want = `{"images": [` + want + `]}`
				if string(r.body) != want {
					t.Errorf("body\n%s\nwant\n%s", r.body, want)
				}
				if !json.Valid(r.body) {
					t.Errorf("invalid JSON")
				}
			})
		}
	}
}

func TestImageKeysMatchRealNova(t *testing.T) {
	_, srv, tok := newTest(t, Options{})
	r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, "")
	var raw struct {
		Images []json.RawMessage `json:"images"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	base := []string{"id", "name", "minRam", "minDisk", "metadata", "created", "updated", "status", "progress", "OS-EXT-IMG-SIZE:size", "links"}
	for _, im := range raw.Images {
		keys := jsonKeys(t, im)
		want := base
		if bytes.Contains(im, []byte(`"id": "`+DefaultIDSnapshot)) {
			want = append(slices.Clone(base), "server")
		}
		if !slices.Equal(keys, want) {
			t.Errorf("keys %v, want %v", keys, want)
		}
	}
}

func TestFaultPlanAndRequests(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	var calls atomic.Int32
	sim.SetFaults(func(_ int, r *http.Request) Fault {
		calls.Add(1)
		if r.URL.Query().Get("limit") == "5" {
			return Fault{Status: http.StatusTooManyRequests, RetryAfter: "3"}
		}
		return Fault{}
	})
	hdr := map[string]string{"User-Agent": "nova-image-exporter/test", "X-Custom": "yes"}
	r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?limit=5&status=active", tok, hdr, "")
	if r.code != 429 || r.header.Get("Retry-After") != "3" {
		t.Errorf("fault not applied: %d", r.code)
	}
	if r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?limit=4", tok, nil, ""); r.code != 200 {
		t.Errorf("fault returning false: %d", r.code)
	}
	// Not called before auth nor for Keystone.
	do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", "", nil, "")
	do(t, "GET", srv.URL+"/v3", "", nil, "")
	if calls.Load() != 2 {
		t.Errorf("fault called %d times, want 2", calls.Load())
	}
	sim.SetFaults(nil)
	if r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail?limit=5", tok, nil, ""); r.code != 200 {
		t.Errorf("after SetFaults(nil): %d", r.code)
	}

	reqs := sim.Requests()
	if len(reqs) != 4 {
		t.Fatalf("%d requests recorded, want 4 (Keystone not recorded)", len(reqs))
	}
	first := reqs[0]
	if first.Method != "GET" || first.Path != "/v2.1/"+proj+"/images/detail" || first.RawQuery != "limit=5&status=active" {
		t.Errorf("record %+v", first)
	}
	if first.Header.Get("X-Auth-Token") != tok || first.Header.Get("User-Agent") != "nova-image-exporter/test" || first.Header.Get("X-Custom") != "yes" {
		t.Errorf("headers %v", first.Header)
	}
	if reqs[2].Header.Get("X-Auth-Token") != "" {
		t.Errorf("unauthenticated request has token")
	}
	// The log is a copy.
	reqs[0].Header.Set("X-Custom", "changed")
	if sim.Requests()[0].Header.Get("X-Custom") != "yes" {
		t.Errorf("Requests shares headers")
	}
}

func BenchmarkImagesDetailPage(b *testing.B) {
	sim := New(Options{Images: GenerateImages(100000, 1, testNow)})
	tok := sim.IssueToken()
	req := httptest.NewRequest("GET", "http://nova.example/v2.1/"+proj+"/images/detail?limit=1000", nil)
	req.Header.Set("X-Auth-Token", tok)
	for b.Loop() {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
