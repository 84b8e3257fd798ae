package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// glancePage is a decoded Glance listing; Next is nil when the key is absent.
type glancePage struct {
	Images []map[string]any `json:"images"`
	First  string           `json:"first"`
	Schema string           `json:"schema"`
	Next   *string          `json:"next"`
}

func (p *glancePage) ids() []string {
	var out []string
	for _, im := range p.Images {
		out = append(out, im["id"].(string))
	}
	return out
}

func decodeGlance(t testing.TB, r response) glancePage {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var p glancePage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	return p
}

// visibleIDs are the ids of imgs but the hidden ones, newest first.
func visibleIDs(imgs []Image) []string {
	sorted := slices.Clone(imgs)
	slices.SortStableFunc(sorted, func(a, b Image) int { return b.Created.Compare(a.Created) })
	var out []string
	for _, im := range sorted {
		if !im.Hidden {
			out = append(out, im.ID)
		}
	}
	return out
}

// TestGlanceImageViewAsReal renders the realstack's snapshot image and compares the
// answer with the real Glance's (testdata/realglance), key order included; only the
// checksums, which the simulator derives from the id, differ.
func TestGlanceImageViewAsReal(t *testing.T) {
	real, err := os.ReadFile("testdata/realglance/images-snapshot.json")
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 12, 2, 19, 53, 42, 0, time.UTC)
	img := Image{
		ID: "97b81eca-9106-4ea1-9cf8-a2590026cd1d", Name: strPtr("server-snapshot-1"), Status: "active",
		Size: i64Ptr(3072), MinDisk: 1, MinRAM: 64, Created: created, Updated: timePtr(created.Add(time.Second)),
		Metadata: map[string]any{"image_type": "snapshot", "instance_uuid": "8f3bd1a2-5c6e-4c1d-9a7b-2f0e6d4c1b10"},
		Owner:    "93ddbd585732482aaa0b4604e671e77a",
	}
	_, srv, tok := newTest(t, Options{Images: []Image{img}})
	got := do(t, "GET", srv.URL+"/image/v2/images?name=server-snapshot-1", tok, nil, "")
	decodeGlance(t, got)
	if !slices.Equal(jsonKeys(t, got.body), jsonKeys(t, real)) {
		t.Errorf("page keys %v, want %v", jsonKeys(t, got.body), jsonKeys(t, real))
	}
	var g, w struct{ Images []json.RawMessage }
	if json.Unmarshal(got.body, &g) != nil || json.Unmarshal(real, &w) != nil || len(g.Images) != 1 || len(w.Images) != 1 {
		t.Fatalf("got %s", got.body)
	}
	if gk, wk := jsonKeys(t, g.Images[0]), jsonKeys(t, w.Images[0]); !slices.Equal(gk, wk) {
		t.Errorf("image keys\n%v, want\n%v", gk, wk)
	}
	var gm, wm map[string]any
	_ = json.Unmarshal(g.Images[0], &gm)
	_ = json.Unmarshal(w.Images[0], &wm)
	for _, k := range []string{"checksum", "os_hash_value"} {
		if len(gm[k].(string)) != len(wm[k].(string)) {
			t.Errorf("%s %v, want the length of %v", k, gm[k], wm[k])
		}
		delete(gm, k)
		delete(wm, k)
	}
	gb, _ := json.Marshal(gm)
	wb, _ := json.Marshal(wm)
	if !bytes.Equal(gb, wb) {
		t.Errorf("image\n%s, want\n%s", gb, wb)
	}
	// Python's separators and escapes, as Glance writes them.
	if !bytes.HasPrefix(got.body, []byte(`{"images": [{"image_type": "snapshot", "instance_uuid": `)) {
		t.Errorf("body %.80s", got.body)
	}
}

func TestGlancePaging(t *testing.T) {
	imgs := FullImages(testNow)
	sim, srv, tok := newTest(t, Options{Images: imgs})
	base := srv.URL + "/image"
	want := visibleIDs(imgs)
	if len(want) != 10 {
		t.Fatalf("%d visible images", len(want))
	}
	var got []string
	var sizes []int
	u := base + "/v2/images?limit=2"
	for range 10 {
		p := decodeGlance(t, do(t, "GET", u, tok, nil, ""))
		sizes = append(sizes, len(p.Images))
		got = append(got, p.ids()...)
		if p.First != "/v2/images?limit=2" || p.Schema != "/v2/schemas/images" {
			t.Errorf("first %q schema %q", p.First, p.Schema)
		}
		if len(p.Images) < 2 {
			if p.Next != nil {
				t.Errorf("short page with next %q", *p.Next)
			}
			break
		}
		// Glance writes next on every full page: a path without the endpoint's prefix.
		if p.Next == nil || *p.Next != "/v2/images?limit=2&marker="+p.Images[1]["id"].(string) {
			t.Fatalf("next %v", p.Next)
		}
		n, _ := url.Parse(*p.Next)
		u = base + n.Path + "?" + n.RawQuery
	}
	if !slices.Equal(sizes, []int{2, 2, 2, 2, 2, 0}) {
		t.Errorf("page sizes %v", sizes)
	}
	if !slices.Equal(got, want) {
		t.Errorf("ids\n%v, want\n%v", got, want)
	}
	for _, r := range sim.Requests() {
		if r.API != APIGlance || r.Path != "/image/v2/images" {
			t.Errorf("record %+v", r)
		}
	}
	if sim.ImagesRequests() != 6 {
		t.Errorf("ImagesRequests %d", sim.ImagesRequests())
	}

	t.Run("default limit 25 and the api_limit_max cap", func(t *testing.T) {
		many := GenerateImages(30, 5, testNow)
		_, srv, tok := newTest(t, Options{Images: many, GlanceMaxLimit: 4})
		p := decodeGlance(t, do(t, "GET", srv.URL+"/image/v2/images?limit=10", tok, nil, ""))
		if len(p.Images) != 4 || p.Next == nil || !strings.HasPrefix(*p.Next, "/v2/images?limit=10&marker=") {
			t.Errorf("%d images, next %v", len(p.Images), p.Next)
		}
		_, srv, tok = newTest(t, Options{Images: many})
		p = decodeGlance(t, do(t, "GET", srv.URL+"/image/v2/images", tok, nil, ""))
		if len(p.Images) != 25 || p.Next == nil || *p.Next != "/v2/images?marker="+p.ids()[24] || p.First != "/v2/images" {
			t.Errorf("%d images, first %q next %v", len(p.Images), p.First, p.Next)
		}
	})
	t.Run("query order kept, marker moved last", func(t *testing.T) {
		p := decodeGlance(t, do(t, "GET", base+"/v2/images?status=in:queued,deactivated&limit=1&marker="+want[0], tok, nil, ""))
		if len(p.Images) != 1 || p.First != "/v2/images?status=in%3Aqueued%2Cdeactivated&limit=1" ||
			p.Next == nil || *p.Next != p.First+"&marker="+p.ids()[0] {
			t.Errorf("first %q next %v", p.First, p.Next)
		}
	})
	t.Run("limit 0", func(t *testing.T) {
		p := decodeGlance(t, do(t, "GET", base+"/v2/images?limit=0", tok, nil, ""))
		if len(p.Images) != 0 || p.Next != nil {
			t.Errorf("%+v", p)
		}
	})
}

func TestGlanceHiddenImages(t *testing.T) {
	imgs := FullImages(testNow)
	_, srv, tok := newTest(t, Options{Images: imgs})
	all := decodeGlance(t, do(t, "GET", srv.URL+"/image/v2/images?os_hidden=false", tok, nil, ""))
	if !slices.Equal(all.ids(), visibleIDs(imgs)) || slices.Contains(all.ids(), DefaultIDHidden) {
		t.Errorf("os_hidden=false %v", all.ids())
	}
	hidden := decodeGlance(t, do(t, "GET", srv.URL+"/image/v2/images?os_hidden=true", tok, nil, ""))
	if !slices.Equal(hidden.ids(), []string{DefaultIDHidden}) || hidden.Images[0]["os_hidden"] != true {
		t.Errorf("os_hidden=true %v", hidden.ids())
	}
	// Nova's proxy lists through Glance's default listing: no hidden image, and the
	// importing one as UNKNOWN.
	nova := decodePage(t, do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, ""))
	if !slices.Equal(nova.ids(), visibleIDs(imgs)) {
		t.Errorf("nova %v", nova.ids())
	}
	for _, im := range nova.Images {
		if im.ID == DefaultIDImporting && im.Status != "UNKNOWN" {
			t.Errorf("importing image is %s in Nova", im.Status)
		}
	}
	r := do(t, "GET", srv.URL+"/image/v2/images?os_hidden=maybe", tok, nil, "")
	if r.code != 400 || !strings.Contains(string(r.body), "Invalid value &#x27;maybe&#x27; for &#x27;os_hidden&#x27; filter. Valid values are &#x27;true&#x27; or &#x27;false&#x27;.<br /><br />") {
		t.Errorf("%d %s", r.code, r.body)
	}
}

func TestGlanceFilters(t *testing.T) {
	imgs := FullImages(testNow)
	_, srv, tok := newTest(t, Options{Images: imgs})
	at := func(h int) string { return testNow.Add(-time.Duration(h) * time.Hour).Format(time.RFC3339) }
	tests := []struct {
		query string
		want  []string
	}{
		{"name=queued-no-data", []string{DefaultIDQueued}},
		{"name=" + url.QueryEscape(DefaultUnicodeName), []string{DefaultIDUnicode}},
		{"status=importing", []string{DefaultIDImporting}},
		{"status=bogus", nil},
		{"status=in:queued,deactivated", []string{DefaultIDDeactivated, DefaultIDQueued}},
		{"visibility=public", []string{DefaultIDNoName, DefaultIDCirros}},
		{"visibility=shared", []string{DefaultIDDeactivated, DefaultIDDeleted, DefaultIDKilled, DefaultIDQueued}},
		{"visibility=community", []string{DefaultIDUnicode}},
		{"visibility=private&os_hidden=true", []string{DefaultIDHidden}},
		{"min_ram=256", []string{DefaultIDUnicode}},
		{"min_ram=300", nil}, // exact, as the realstack's Glance
		{"min_ram=abc", nil},
		{"min_disk=3", []string{DefaultIDNoName}},
		{"created_at=gte:" + at(6), []string{DefaultIDNoName, DefaultIDUnicode}},
		{"created_at=" + at(6), []string{DefaultIDUnicode}},
		{"updated_at=lt:" + at(35), []string{DefaultIDQueued, DefaultIDCirros}},
		{"updated_at=neq:" + at(2) + "&status=active", []string{DefaultIDUnicode, DefaultIDSnapshot, DefaultIDCirros}},
		{"image_type=snapshot", []string{DefaultIDSnapshot}},
		{"instance_uuid=" + DefaultSnapshotServerID, []string{DefaultIDSnapshot}},
		{"os_distro=cirros&os_version=0.6.2", []string{DefaultIDCirros}},
		{"owner=public", []string{DefaultIDNoName}},
	}
	for _, tc := range tests {
		p := decodeGlance(t, do(t, "GET", srv.URL+"/image/v2/images?"+tc.query, tok, nil, ""))
		if !slices.Equal(p.ids(), tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, p.ids(), tc.want)
		}
	}
}

// TestGlanceErrors checks the error answers against the realstack Glance's.
func TestGlanceErrors(t *testing.T) {
	_, srv, tok := newTest(t, Options{GlancePrefix: "/"})
	file := func(name string) string {
		b, err := os.ReadFile("testdata/realglance/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	const zero = "00000000-0000-0000-0000-000000000000"
	tests := []struct {
		name, query, token, accept string
		code                       int
		ctype, body                string
	}{
		{"unknown marker", "marker=" + zero, tok, "", 400, "text/html; charset=UTF-8", file("error-400-marker.html")},
		{"unknown marker, json", "marker=" + zero, tok, "application/json", 400, "application/json", file("error-400-marker.json")},
		{"unknown marker, json preferred", "marker=" + zero, tok, "application/json, text/html;q=0.9", 400, "application/json", file("error-400-marker.json")},
		{"unknown marker, plain", "marker=x", tok, "text/plain", 400, "text/plain; charset=UTF-8", file("error-400-marker.txt")},
		{"no token", "", "", "", 401, "text/html; charset=UTF-8", file("error-401.html")},
		{"bad token", "", "gAAAAAbad", "", 401, "text/html; charset=UTF-8", file("error-401.html")},
		{"bad limit", "limit=x", tok, "application/json", 400, "application/json", `{"message": "limit param must be an integer<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}`},
		{"negative limit", "limit=-1", tok, "application/json", 400, "application/json", `{"message": "limit param must be positive<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}`},
		{"bad visibility", "visibility=bogus", tok, "application/json", 400, "application/json", `{"message": "Invalid visibility value: bogus<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}`},
		{"unknown operator", "updated_at=foo:2026-12-02T19:53:47Z", tok, "application/json", 400, "application/json", `{"message": "Unable to filter on a unknown operator.<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}`},
		{"bad time", "updated_at=gte:notatime", tok, "application/json", 400, "application/json", `{"message": "Bad \"updated_at\" query filter format. Use ISO 8601 DateTime notation.<br /><br />\n\n\n", "code": "400 Bad Request", "title": "Bad Request"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", srv.URL+"/v2/images?"+tc.query, tc.token, map[string]string{"Accept": tc.accept}, "")
			if r.code != tc.code || r.header.Get("Content-Type") != tc.ctype || string(r.body) != tc.body {
				t.Errorf("%d %q %q\nwant %d %q %q", r.code, r.header.Get("Content-Type"), r.body, tc.code, tc.ctype, tc.body)
			}
			if tc.code == 401 && r.header.Get("WWW-Authenticate") != `Keystone uri="`+srv.URL+`"` {
				t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestGlanceCatalogAndPrefix(t *testing.T) {
	for _, tc := range []struct{ prefix, path string }{{"", "/image"}, {"/", ""}, {"/glance/", "/glance"}} {
		_, srv, _ := newTest(t, Options{GlancePrefix: tc.prefix})
		body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"name":"Default"},"password":"demo-secret"}}},"scope":{"project":{"id":"` + proj + `"}}}}`
		r := do(t, "POST", srv.URL+"/v3/auth/tokens", "", map[string]string{"Content-Type": "application/json"}, body)
		var tb struct {
			Token struct {
				Catalog []struct {
					Type      string
					Endpoints []struct{ Interface, URL, Region string }
				}
			}
		}
		if err := json.Unmarshal(r.body, &tb); err != nil {
			t.Fatal(err)
		}
		var urls []string
		for _, c := range tb.Token.Catalog {
			if c.Type == "image" {
				for _, e := range c.Endpoints {
					urls = append(urls, e.Interface+" "+e.URL)
				}
			}
		}
		u := srv.URL + tc.path
		if !slices.Equal(urls, []string{"public " + u, "internal " + u, "admin " + u}) {
			t.Errorf("prefix %q: image endpoints %v", tc.prefix, urls)
		}
		tok := r.header.Get("X-Subject-Token")
		if got := do(t, "GET", u+"/v2/images", tok, nil, ""); got.code != 200 {
			t.Errorf("prefix %q: %d", tc.prefix, got.code)
		}
		if tc.path != "" {
			// A client that drops the prefix does not find Glance, but Huawei's Glance of the
			// IMS host.
			if got := do(t, "GET", srv.URL+"/v2/images", tok, nil, ""); got.code != 200 || !strings.Contains(string(got.body), `"__imagetype"`) {
				t.Errorf("prefix %q: without it %d %.80s", tc.prefix, got.code, got.body)
			}
		}
	}
}

func TestGlanceFaults(t *testing.T) {
	sim, srv, tok := newTest(t, Options{Images: FullImages(testNow)})
	u := srv.URL + "/image/v2/images?limit=3"
	json := map[string]string{"Accept": "application/json"}

	sim.SetFaults(always(Fault{Status: 503, RetryAfter: "7"}))
	r := do(t, "GET", u, tok, json, "")
	if r.code != 503 || r.header.Get("Retry-After") != "7" || string(r.body) != `{"message": "The server is currently unavailable. Please try again at a later time.<br /><br />\n\n\n", "code": "503 Service Unavailable", "title": "Service Unavailable"}` {
		t.Errorf("503: %d %s", r.code, r.body)
	}
	sim.SetFaults(always(Fault{Status: 502}))
	if r := do(t, "GET", u, tok, nil, ""); r.code != 502 || !strings.Contains(string(r.body), "<center>nginx</center>") {
		t.Errorf("502: %d %s", r.code, r.body)
	}
	sim.SetFaults(always(Fault{Echo: true}))
	if r := do(t, "GET", u, tok, nil, ""); r.code != 401 || !strings.Contains(string(r.body), tok) {
		t.Errorf("echo: %d %s", r.code, r.body)
	}
	sim.SetFaults(always(Fault{Huge: 1 << 16}))
	if r := do(t, "GET", u, tok, nil, ""); r.code != 200 || len(r.body) != 1<<16 || len(decodeGlance(t, r).Images) != 3 {
		t.Errorf("huge: %d %d", r.code, len(r.body))
	}
	sim.SetFaults(always(Fault{TruncateAfter: 40}))
	if _, _, err := readTruncated(t, u, tok); err == nil {
		t.Errorf("truncated body read without error")
	}
	sim.SetFaults(nil)
	first := decodeGlance(t, do(t, "GET", u, tok, nil, ""))
	marker := first.ids()[2]
	sim.SetFaults(always(Fault{Loop: true}))
	p := decodeGlance(t, do(t, "GET", u+"&marker="+marker, tok, nil, ""))
	if !slices.Equal(p.ids(), first.ids()) || p.Next == nil || *p.Next != "/v2/images?limit=3&marker="+marker {
		t.Errorf("loop: %v next %v", p.ids(), p.Next)
	}
	sim.SetFaults(always(Fault{Duplicate: true, WrongTypes: true}))
	p = decodeGlance(t, do(t, "GET", u+"&marker="+marker, tok, nil, ""))
	if p.ids()[0] != marker || p.Images[0]["min_disk"] != "ten" || p.Images[0]["size"] != 1.5 {
		t.Errorf("duplicate: %v %v", p.ids(), p.Images[0])
	}
}

// TestRequestsNameTheAPI lists one cloud through each API and checks the request log and
// count: Glance asked twice (default and os_hidden=true), IMS and Nova once.
func TestRequestsNameTheAPI(t *testing.T) {
	sim, srv, tok := newTest(t, Options{Images: FullImages(testNow)})
	for _, u := range []string{
		"/image/v2/images", "/image/v2/images?os_hidden=true", "/v2/cloudimages", "/v2.1/" + proj + "/images/detail",
	} {
		if r := do(t, "GET", srv.URL+u, tok, nil, ""); r.code != 200 {
			t.Fatalf("%s: %d", u, r.code)
		}
	}
	do(t, "GET", srv.URL+"/v2/cloudimages", "bad", nil, "") // recorded, not counted
	var apis []string
	for _, r := range sim.Requests() {
		apis = append(apis, r.API+" "+r.RawQuery)
	}
	if want := []string{"glance ", "glance os_hidden=true", "ims ", "nova ", "ims "}; !slices.Equal(apis, want) {
		t.Errorf("requests %q, want %q", apis, want)
	}
	if sim.ImagesRequests() != 4 {
		t.Errorf("ImagesRequests %d", sim.ImagesRequests())
	}
}
