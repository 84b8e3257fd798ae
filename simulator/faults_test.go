package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

// always is a plan that gives ft to every request.
func always(ft Fault) func(int, *http.Request) Fault {
	return func(int, *http.Request) Fault { return ft }
}

func imagesURL(srv *httptest.Server, query string) string {
	u := srv.URL + "/v2.1/" + proj + "/images/detail"
	if query != "" {
		u += "?" + query
	}
	return u
}

// nextMarker returns the marker of a page's next link, and whether the link
// has one.
func nextMarker(t *testing.T, p page) (string, bool) {
	t.Helper()
	if len(p.Links) != 1 || p.Links[0].Rel != "next" {
		t.Fatalf("links %+v, want one next link", p.Links)
	}
	u, err := url.Parse(p.Links[0].Href)
	if err != nil {
		t.Fatal(err)
	}
	vs, ok := u.Query()["marker"]
	if !ok {
		return "", false
	}
	return vs[len(vs)-1], true
}

const passwordBody = `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"name":"Default"},"password":"demo-secret"}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}`

func postToken(t *testing.T, u string) response {
	t.Helper()
	return do(t, "POST", u+"/v3/auth/tokens", "", map[string]string{"Content-Type": "application/json"}, passwordBody)
}

func TestFaultStatus(t *testing.T) {
	novaHeader := "x-openstack-request-id"
	tests := []struct {
		name        string
		fault       Fault
		code        int
		contentType string
		retryAfter  string
		// body checks the body; novaHeaders says whether Nova's headers stay.
		body        func(t *testing.T, b []byte)
		novaHeaders bool
	}{
		{"429 nova", Fault{Status: 429}, 429, "application/json; charset=UTF-8", "",
			exactBody(`{"overLimit": {"code": 429, "message": "This request was rate-limited.", "retryAfter": "0"}}`), true},
		{"429 nova with Retry-After", Fault{Status: 429, RetryAfter: "7"}, 429, "application/json; charset=UTF-8", "7",
			exactBody(`{"overLimit": {"code": 429, "message": "This request was rate-limited.", "retryAfter": "7"}}`), true},
		{"413", Fault{Status: 413, RetryAfter: "Wed, 21 Oct 2026 07:28:00 GMT"}, 413, "application/json; charset=UTF-8", "Wed, 21 Oct 2026 07:28:00 GMT",
			exactBody(`{"overLimit": {"code": 413, "message": "This request was rate-limited.", "retryAfter": "Wed, 21 Oct 2026 07:28:00 GMT"}}`), true},
		{"429 gateway", Fault{Status: 429, Gateway: true}, 429, "application/json", "", gatewayBody, false},
		{"429 gateway with Retry-After", Fault{Status: 429, Gateway: true, RetryAfter: "2"}, 429, "application/json", "2", gatewayBody, false},
		{"500", Fault{Status: 500}, 500, "application/json; charset=UTF-8", "", novaBody("computeFault", 500), true},
		{"503", Fault{Status: 503, RetryAfter: "0"}, 503, "application/json; charset=UTF-8", "0", novaBody("serviceUnavailable", 503), true},
		{"400", Fault{Status: 400}, 400, "application/json; charset=UTF-8", "", novaBody("badRequest", 400), true},
		{"403", Fault{Status: 403}, 403, "application/json; charset=UTF-8", "", novaBody("forbidden", 403), true},
		{"404", Fault{Status: 404}, 404, "application/json; charset=UTF-8", "", novaBody("itemNotFound", 404), true},
		{"409 other", Fault{Status: 409}, 409, "application/json; charset=UTF-8", "", novaBody("computeFault", 409), true},
		{"invalid status", Fault{Status: 42}, 500, "application/json; charset=UTF-8", "", novaBody("computeFault", 500), true},
		{"502 nginx", Fault{Status: 502}, 502, "text/html", "", nginxBody("502 Bad Gateway"), false},
		{"504 nginx", Fault{Status: 504}, 504, "text/html", "", nginxBody("504 Gateway Time-out"), false},
		{"status wins over garbage", Fault{Status: 500, Garbage: true, Loop: true}, 500, "application/json; charset=UTF-8", "", novaBody("computeFault", 500), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{})
			sim.SetFaults(always(tc.fault))
			r := do(t, "GET", imagesURL(srv, "limit=2"), tok, nil, "")
			if r.code != tc.code {
				t.Errorf("status %d, want %d", r.code, tc.code)
			}
			if got := r.header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if got, ok := r.header["Retry-After"]; tc.retryAfter == "" && ok || tc.retryAfter != "" && (len(got) != 1 || got[0] != tc.retryAfter) {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := r.header.Get(novaHeader) != ""; got != tc.novaHeaders {
				t.Errorf("Nova request id present %v, want %v", got, tc.novaHeaders)
			}
			tc.body(t, r.body)
		})
	}
}

func exactBody(want string) func(t *testing.T, b []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		if string(b) != want {
			t.Errorf("body %s\nwant %s", b, want)
		}
	}
}

func novaBody(name string, code int) func(t *testing.T, b []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		var v map[string]struct {
			Code    int     `json:"code"`
			Message string  `json:"message"`
			Retry   *string `json:"retryAfter"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
		f, ok := v[name]
		if len(v) != 1 || !ok || f.Code != code || f.Message == "" || f.Retry != nil {
			t.Errorf("body %s, want a %s fault with code %d", b, name, code)
		}
		if !bytes.HasPrefix(b, []byte(`{"`+name+`": {"code": `)) {
			t.Errorf("body %s not in Nova's key order", b)
		}
	}
}

var gatewayRe = regexp.MustCompile(`^\{"error_code": "APIGW\.0308", "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:[^"]+", "request_id": "([0-9a-f]{32})"\}$`)

func gatewayBody(t *testing.T, b []byte) {
	t.Helper()
	if !gatewayRe.Match(b) || !json.Valid(b) {
		t.Errorf("gateway body %s", b)
	}
}

func nginxBody(title string) func(t *testing.T, b []byte) {
	return func(t *testing.T, b []byte) {
		t.Helper()
		s := string(b)
		if !strings.HasPrefix(s, "<html>\r\n<head><title>"+title+"</title></head>") || !strings.Contains(s, "<hr><center>nginx</center>") {
			t.Errorf("nginx page %q", s)
		}
	}
}

func TestFaultNonJSONBodies(t *testing.T) {
	tests := []struct {
		name        string
		fault       Fault
		contentType string
		check       func(t *testing.T, b []byte)
	}{
		{"garbage", Fault{Garbage: true}, "application/json", func(t *testing.T, b []byte) {
			if json.Valid(b) || utf8.Valid(b) {
				t.Errorf("garbage is valid JSON or UTF-8: %q", b)
			}
			if !bytes.ContainsFunc(b, func(r rune) bool { return r < 0x20 && r != '\n' && r != '\r' }) {
				t.Errorf("garbage has no control bytes: %q", b)
			}
			if string(b) != garbageBody {
				t.Errorf("garbage is not deterministic: %q", b)
			}
		}},
		{"captive portal", Fault{HTML: true}, "text/html; charset=utf-8", func(t *testing.T, b []byte) {
			s := string(b)
			if !strings.HasPrefix(s, "<!DOCTYPE html>") || !strings.Contains(s, "<form") || !strings.Contains(s, `type="password"`) {
				t.Errorf("portal page %q", s)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{})
			sim.SetFaults(always(tc.fault))
			r := do(t, "GET", imagesURL(srv, ""), tok, nil, "")
			if r.code != 200 || r.header.Get("Content-Type") != tc.contentType {
				t.Errorf("status %d, Content-Type %q", r.code, r.header.Get("Content-Type"))
			}
			tc.check(t, r.body)
		})
	}
}

func TestFaultMessage(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	sim.SetFaults(always(Fault{Status: 500, Message: "GlanceConnectionFailed: Connection to glance failed"}))
	r := do(t, "GET", imagesURL(srv, ""), tok, nil, "")
	if want := `{"computeFault": {"code": 500, "message": "GlanceConnectionFailed: Connection to glance failed"}}`; r.code != 500 || string(r.body) != want {
		t.Errorf("Nova: %d %s, want %s", r.code, r.body, want)
	}
	sim.SetKeystoneFaults(always(Fault{Status: 503, Message: "down for maintenance"}))
	r = do(t, "POST", srv.URL+"/v3/auth/tokens", "", nil, `{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"`+userID+`","password":"demo-secret"}}},"scope":{"project":{"id":"`+proj+`"}}}}`)
	if want := `{"error": {"code": 503, "title": "Service Unavailable", "message": "down for maintenance"}}`; r.code != 503 || string(r.body) != want {
		t.Errorf("Keystone: %d %s, want %s", r.code, r.body, want)
	}
}

// readTruncated GETs u and returns the body bytes read, the read error and
// the announced Content-Length.
func readTruncated(t *testing.T, u, tok string) ([]byte, int64, error) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", tok)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("headers not received: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	return b, resp.ContentLength, err
}

func TestFaultTruncateAfter(t *testing.T) {
	tests := []struct {
		name     string
		fault    Fault
		wantRead func(full int) int
	}{
		{"first byte", Fault{TruncateAfter: 1}, func(int) int { return 1 }},
		{"mid body", Fault{TruncateAfter: 700}, func(int) int { return 700 }},
		{"beyond the body", Fault{TruncateAfter: 1 << 30}, func(full int) int { return full - 1 }},
		{"huge, truncated", Fault{TruncateAfter: 100000, Huge: 1 << 20}, func(int) int { return 100000 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{})
			normal := do(t, "GET", imagesURL(srv, "limit=4"), tok, nil, "").body
			sim.SetFaults(always(tc.fault))
			b, length, err := readTruncated(t, imagesURL(srv, "limit=4"), tok)
			t.Logf("read %d bytes, then %v", len(b), err)
			if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("read error %v, want unexpected EOF or connection reset", err)
			}
			full := int64(len(normal))
			if tc.fault.Huge > 0 {
				full = tc.fault.Huge
			}
			if length != full {
				t.Errorf("Content-Length %d, want %d", length, full)
			}
			want := tc.wantRead(len(normal))
			if len(b) != want {
				t.Fatalf("read %d bytes, want %d", len(b), want)
			}
			if tc.fault.Huge == 0 && !bytes.Equal(b, normal[:want]) {
				t.Errorf("bytes read are not the normal body's prefix")
			}
			// The simulator keeps serving.
			sim.SetFaults(nil)
			if r := do(t, "GET", imagesURL(srv, "limit=4"), tok, nil, ""); !bytes.Equal(r.body, normal) {
				t.Errorf("after truncation: %s", r.body)
			}
		})
	}
}

func TestFaultTruncateRecorder(t *testing.T) {
	sim := New(Options{Images: DefaultImages(testNow)})
	sim.SetFaults(always(Fault{TruncateAfter: 10}))
	req := httptest.NewRequest("GET", "http://nova.example/v2.1/images/detail", nil)
	req.Header.Set("X-Auth-Token", sim.IssueToken())
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req) // must not panic without a hijackable connection
	if rec.Body.Len() != 10 {
		t.Errorf("recorded %d bytes", rec.Body.Len())
	}
}

func TestFaultLoop(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	p1 := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3"), tok, nil, ""))
	m1, _ := nextMarker(t, p1)
	p2 := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3&marker="+m1), tok, nil, ""))
	m2, _ := nextMarker(t, p2)

	sim.SetFaults(always(Fault{Loop: true}))
	for _, tc := range []struct {
		marker string
		prev   page
	}{{m1, p1}, {m2, p2}} {
		r := do(t, "GET", imagesURL(srv, "limit=3&marker="+tc.marker), tok, nil, "")
		got := decodePage(t, r)
		if !slices.Equal(got.ids(), tc.prev.ids()) {
			t.Errorf("marker %s: ids %v, want the previous page %v", tc.marker, got.ids(), tc.prev.ids())
		}
		if m, ok := nextMarker(t, got); !ok || m != tc.marker {
			t.Errorf("next marker %q, want the requested %q", m, tc.marker)
		}
	}
	// Without a marker: the first page, and a next link repeating the request.
	got := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3"), tok, nil, ""))
	if !slices.Equal(got.ids(), p1.ids()) {
		t.Errorf("first page ids %v", got.ids())
	}
	if m, ok := nextMarker(t, got); ok {
		t.Errorf("first page loop link has marker %q", m)
	}
	if want := srv.URL + "/v2.1/" + proj + "/images/detail?limit=3"; got.Links[0].Href != want {
		t.Errorf("loop link %s, want %s", got.Links[0].Href, want)
	}
}

func TestFaultDuplicate(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	p1 := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3"), tok, nil, ""))
	m1, _ := nextMarker(t, p1)
	sim.SetFaults(func(n int, _ *http.Request) Fault { return Fault{Duplicate: n == 0} })
	p2 := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3&marker="+m1), tok, nil, ""))
	if len(p2.Images) != 3 || p2.Images[0].ID != m1 {
		t.Fatalf("ids %v, want 3 starting with the marker %s", p2.ids(), m1)
	}
	// The walk goes on from the duplicated page and still sees every image once more at most.
	seen := slices.Concat(p1.ids(), p2.ids())
	m, ok := nextMarker(t, p2)
	for ok {
		p := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3&marker="+m), tok, nil, ""))
		seen = append(seen, p.ids()...)
		if len(p.Links) == 0 {
			break
		}
		m, ok = nextMarker(t, p)
	}
	if len(seen) != len(DefaultImages(testNow))+1 {
		t.Errorf("walk saw %d ids, want %d (one duplicate)", len(seen), len(DefaultImages(testNow))+1)
	}
	// Without a marker there is nothing to duplicate.
	sim.SetFaults(always(Fault{Duplicate: true}))
	if got := decodePage(t, do(t, "GET", imagesURL(srv, "limit=3"), tok, nil, "")); !slices.Equal(got.ids(), p1.ids()) {
		t.Errorf("first page ids %v", got.ids())
	}
}

func TestFaultInvalidUTF8(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	sim.SetFaults(always(Fault{InvalidUTF8: true}))
	r := do(t, "GET", imagesURL(srv, ""), tok, nil, "")
	if !bytes.Contains(r.body, []byte("bad-\xff\xfe-name")) || utf8.Valid(r.body) {
		t.Fatalf("body has no raw invalid UTF-8: %q", r.body[:200])
	}
	p := decodePage(t, r) // encoding/json replaces invalid bytes
	if len(p.Images) != len(DefaultImages(testNow)) {
		t.Fatalf("%d images", len(p.Images))
	}
	for _, im := range p.Images {
		if im.Name == nil || !strings.ContainsRune(*im.Name, utf8.RuneError) {
			t.Errorf("name %v has no U+FFFD", im.Name)
		}
	}
}

// timeLayouts are the forms OddTimes may use.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05"}

func parseAny(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func TestFaultTimes(t *testing.T) {
	type img struct {
		ID      string  `json:"id"`
		Created string  `json:"created"`
		Updated *string `json:"updated"`
	}
	forms := map[string]*regexp.Regexp{
		"no zone":  regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`),
		"fraction": regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`),
		"offset":   regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+02:00$`),
	}
	tests := []struct {
		name      string
		fault     Fault
		unparsed  []string // the unparsable values expected
		firstSeen string
	}{
		{"odd", Fault{OddTimes: true}, nil, ""},
		{"odd and bad", Fault{OddTimes: true, BadTimes: true}, []string{"not-a-time"}, "not-a-time"},
		{"bad only", Fault{BadTimes: true}, []string{"not-a-time"}, "not-a-time"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{})
			want := map[string]Image{}
			for _, im := range DefaultImages(testNow) {
				want[im.ID] = im
			}
			sim.SetFaults(always(tc.fault))
			r := do(t, "GET", imagesURL(srv, ""), tok, nil, "")
			var p struct{ Images []img }
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			seenForms := map[string]bool{}
			var unparsed []string
			check := func(s string, at time.Time) {
				got, ok := parseAny(s)
				if !ok {
					if !slices.Contains(unparsed, s) {
						unparsed = append(unparsed, s)
					}
					return
				}
				if !got.Equal(at) {
					t.Errorf("%s is %v, want %v", s, got, at)
				}
				for name, re := range forms {
					if re.MatchString(s) {
						seenForms[name] = true
					}
				}
			}
			for _, im := range p.Images {
				w := want[im.ID]
				check(im.Created, w.Created)
				if (im.Updated == nil) != (w.Updated == nil) {
					t.Errorf("%s: updated %v, want %v", im.ID, im.Updated, w.Updated)
				} else if im.Updated != nil {
					check(*im.Updated, *w.Updated)
				}
			}
			slices.Sort(unparsed)
			if !slices.Equal(unparsed, tc.unparsed) {
				t.Errorf("unparsable times %q, want %q", unparsed, tc.unparsed)
			}
			if tc.firstSeen != "" && p.Images[0].Created != tc.firstSeen {
				t.Errorf("first created %q", p.Images[0].Created)
			}
			if tc.fault.OddTimes && len(seenForms) != len(forms) {
				t.Errorf("forms seen %v, want all of %d", seenForms, len(forms))
			}
		})
	}
}

func TestFaultTypes(t *testing.T) {
	tests := []struct {
		name          string
		fault         Fault
		minDisk, size any
	}{
		{"wrong types", Fault{WrongTypes: true}, "ten", json.Number("1.5")},
		{"negative", Fault{Negative: true}, json.Number("3"), json.Number("-1")},
		{"both", Fault{WrongTypes: true, Negative: true}, "ten", json.Number("1.5")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{})
			normal := do(t, "GET", imagesURL(srv, ""), tok, nil, "").body
			sim.SetFaults(always(tc.fault))
			r := do(t, "GET", imagesURL(srv, ""), tok, nil, "")
			dec := json.NewDecoder(bytes.NewReader(r.body))
			dec.UseNumber()
			var p struct{ Images []map[string]any }
			if err := dec.Decode(&p); err != nil {
				t.Fatal(err)
			}
			first := p.Images[0]
			if first["minDisk"] != tc.minDisk || first["OS-EXT-IMG-SIZE:size"] != tc.size {
				t.Errorf("first image minDisk %#v size %#v", first["minDisk"], first["OS-EXT-IMG-SIZE:size"])
			}
			// Only the first image differs from the normal body.
			i := bytes.Index(normal, []byte(`}, {"id": `))
			j := bytes.Index(r.body, []byte(`}, {"id": `))
			if !bytes.Equal(normal[i:], r.body[j:]) {
				t.Errorf("images after the first changed")
			}
		})
	}
}

func TestFaultHuge(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	normal := decodePage(t, do(t, "GET", imagesURL(srv, ""), tok, nil, ""))
	const size = 3<<20 + 17
	sim.SetFaults(always(Fault{Huge: size}))
	r := do(t, "GET", imagesURL(srv, ""), tok, nil, "")
	if len(r.body) < size || r.header.Get("Content-Length") != "3145745" {
		t.Errorf("body %d bytes, Content-Length %s", len(r.body), r.header.Get("Content-Length"))
	}
	if !json.Valid(r.body) {
		t.Fatal("huge body is not JSON")
	}
	if got := decodePage(t, r); !slices.Equal(got.ids(), normal.ids()) {
		t.Errorf("ids %v", got.ids())
	}
	// A Huge smaller than the page changes nothing.
	sim.SetFaults(always(Fault{Huge: 10}))
	if got := decodePage(t, do(t, "GET", imagesURL(srv, ""), tok, nil, "")); !slices.Equal(got.ids(), normal.ids()) {
		t.Errorf("ids %v", got.ids())
	}
}

func TestFaultDelay(t *testing.T) {
	// The handler is called directly, in a bubble whose clock the Delay's timer follows.
	synctest.Test(t, func(t *testing.T) {
		sim := New(Options{Images: DefaultImages(testNow)})
		get := func() *httptest.ResponseRecorder {
			req := httptest.NewRequest("GET", "http://nova.example/v2.1/"+proj+"/images/detail", nil)
			req.Header.Set("X-Auth-Token", sim.IssueToken())
			rec := httptest.NewRecorder()
			sim.ServeHTTP(rec, req)
			return rec
		}
		normal := get().Body.Bytes()
		sim.SetFaults(always(Fault{Delay: 150 * time.Millisecond, RetryAfter: "1"}))
		start := time.Now()
		r := get()
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Errorf("answered after %v", d)
		}
		if r.Code != 200 || !bytes.Equal(r.Body.Bytes(), normal) || r.Header().Get("Retry-After") != "1" {
			t.Errorf("delayed answer %d %q, Retry-After %q", r.Code, r.Body.Bytes(), r.Header().Get("Retry-After"))
		}
	})
}

// waitGoroutines waits up to 5 s for the goroutine count to fall to n.
func waitGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want ≤ %d:\n%s", runtime.NumGoroutine(), n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFaultDelayAndHangLeaveNoGoroutines(t *testing.T) {
	tests := []struct {
		name  string
		fault Fault
	}{
		{"hang", Fault{Hang: true}},
		{"long delay", Fault{Delay: time.Hour}},
		{"long delay then 500", Fault{Delay: time.Hour, Status: 500}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, tok := newTest(t, Options{})
			started := make(chan struct{}, 1)
			sim.SetFaults(func(int, *http.Request) Fault {
				started <- struct{}{}
				return tc.fault
			})
			tr := &http.Transport{}
			client := &http.Client{Transport: tr}
			before := runtime.NumGoroutine()

			ctx, cancel := context.WithCancel(context.Background())
			req, err := http.NewRequestWithContext(ctx, "GET", imagesURL(srv, ""), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("X-Auth-Token", tok)
			errc := make(chan error, 1)
			go func() {
				resp, err := client.Do(req)
				if err == nil {
					resp.Body.Close()
				}
				errc <- err
			}()
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("request never reached the plan")
			}
			select {
			case err := <-errc:
				t.Fatalf("answered: %v", err)
			case <-time.After(100 * time.Millisecond):
			}
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Errorf("client error %v", err)
			}
			tr.CloseIdleConnections()
			waitGoroutines(t, before)
		})
	}
}

func TestFaultHangEndsWhenConnectionsClose(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	started := make(chan struct{}, 1)
	sim.SetFaults(func(int, *http.Request) Fault {
		started <- struct{}{}
		return Fault{Hang: true}
	})
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("GET", imagesURL(srv, ""), nil)
		req.Header.Set("X-Auth-Token", tok)
		resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	srv.CloseClientConnections()
	if err := <-errc; err == nil {
		t.Error("hanging request got an answer")
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("server Close blocked by a hanging handler")
	}
}

func TestSetFaultsCountingAndRemoval(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	normal := do(t, "GET", imagesURL(srv, "limit=4"), tok, nil, "").body

	var mu sync.Mutex
	var ns []int
	seen := func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(ns)
	}
	record := func(n int) {
		mu.Lock()
		ns = append(ns, n)
		mu.Unlock()
	}
	sim.SetFaults(func(n int, r *http.Request) Fault {
		record(n)
		if r.URL.Query().Get("fail") != "" {
			return Fault{Status: 503}
		}
		return Fault{}
	})
	do(t, "GET", imagesURL(srv, "limit=4"), "", nil, "")                                                         // unauthorised: not counted
	do(t, "GET", imagesURL(srv, "limit=4"), tok, map[string]string{"OpenStack-API-Version": "compute 2.36"}, "") // 404 by microversion
	if r := do(t, "GET", imagesURL(srv, "limit=4"), tok, nil, ""); !bytes.Equal(r.body, normal) {
		t.Errorf("zero Fault changed the body: %s", r.body)
	}
	if r := do(t, "GET", imagesURL(srv, "limit=4&fail=1"), tok, nil, ""); r.code != 503 {
		t.Errorf("status %d", r.code)
	}
	if got := seen(); !slices.Equal(got, []int{0, 1}) {
		t.Errorf("plan saw n = %v, want [0 1]", got)
	}
	// A new plan counts from 0 again.
	mu.Lock()
	ns = nil
	mu.Unlock()
	sim.SetFaults(func(n int, _ *http.Request) Fault { record(n); return Fault{} })
	do(t, "GET", imagesURL(srv, "limit=4"), tok, nil, "")
	if got := seen(); !slices.Equal(got, []int{0}) {
		t.Errorf("new plan saw n = %v", got)
	}
	sim.SetFaults(always(Fault{Status: 500}))
	sim.SetFaults(nil)
	if r := do(t, "GET", imagesURL(srv, "limit=4"), tok, nil, ""); r.code != 200 || !bytes.Equal(r.body, normal) {
		t.Errorf("after SetFaults(nil): %d %s", r.code, r.body)
	}
}

func TestFailRandomly(t *testing.T) {
	const calls = 1000
	kind := func(f Fault) string {
		switch {
		case f.Status == 429 && f.Gateway:
			return "429 gateway"
		case f.Status == 503:
			if f.RetryAfter != "0" {
				t.Errorf("503 without Retry-After 0: %+v", f)
			}
			return "503"
		case f.Status != 0:
			return http.StatusText(f.Status)
		case f.TruncateAfter > 0:
			return "truncate"
		case f.Garbage:
			return "garbage"
		case f.HTML:
			return "html"
		case f.Delay > 0:
			if f.Delay < 5*time.Millisecond || f.Delay > 50*time.Millisecond {
				t.Errorf("delay %v", f.Delay)
			}
			return "delay"
		case f.Loop:
			return "loop"
		case f.Duplicate:
			return "duplicate"
		}
		return ""
	}
	for _, p := range []float64{0, 0.05, 0.3, 0.5, 1} {
		a, b, c := FailRandomly(p, 42), FailRandomly(p, 42), FailRandomly(p, 43)
		faulted, differs := 0, false
		kinds := map[string]int{}
		for n := range calls {
			fa := a(n, nil)
			if fb := b(n, nil); fa != fb {
				t.Fatalf("p=%v n=%d: %+v and %+v for one seed", p, n, fa, fb)
			}
			if c(n, nil) != fa {
				differs = true
			}
			if fa != (Fault{}) {
				faulted++
				kinds[kind(fa)]++
			}
		}
		if got := float64(faulted) / calls; got < p-0.05 || got > p+0.05 {
			t.Errorf("p=%v: %d of %d faulted", p, faulted, calls)
		}
		if p >= 0.3 && !differs {
			t.Errorf("p=%v: seeds 42 and 43 give the same plan", p)
		}
		if p == 1 && len(kinds) != 11 {
			t.Errorf("kinds %v, want all 11 (429 of both kinds)", kinds)
		}
	}
	// Concurrent use gives the same faults as sequential use.
	plan := FailRandomly(0.5, 7)
	got := make([]Fault, calls)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for n := w; n < calls; n += 4 {
				got[n] = plan(n, nil)
			}
		})
	}
	wg.Wait()
	ref := FailRandomly(0.5, 7)
	for n := range calls {
		if got[n] != ref(n, nil) {
			t.Fatalf("n=%d differs under concurrency", n)
		}
	}
}

func TestFailRandomlyOverTheWire(t *testing.T) {
	sim, srv, tok := newTest(t, Options{Images: GenerateImages(40, 3, testNow)})
	sim.SetFaults(FailRandomly(0.5, 11))
	client := &http.Client{Timeout: 5 * time.Second}
	codes := map[int]int{}
	ok := 0
	marker := ""
	for range 200 {
		q := "limit=5"
		if marker != "" {
			q += "&marker=" + marker
		}
		req, _ := http.NewRequest("GET", imagesURL(srv, q), nil)
		req.Header.Set("X-Auth-Token", tok)
		resp, err := client.Do(req)
		if err != nil {
			continue // a truncation may cut the headers too
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		codes[resp.StatusCode]++
		if err != nil || resp.StatusCode != 200 {
			continue
		}
		var p page
		if json.Unmarshal(b, &p) != nil {
			continue
		}
		ok++
		marker = ""
		if len(p.Links) == 1 {
			if u, err := url.Parse(p.Links[0].Href); err == nil {
				marker = u.Query().Get("marker")
			}
		}
	}
	if ok < 50 || codes[500] == 0 || codes[429] == 0 {
		t.Errorf("%d good pages, codes %v", ok, codes)
	}
	if got := sim.ImagesRequests(); got != 200 {
		t.Errorf("ImagesRequests %d, want 200", got)
	}
}

func TestImagesRequests(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	if sim.ImagesRequests() != 0 {
		t.Fatal("not 0 at start")
	}
	do(t, "GET", imagesURL(srv, ""), tok, nil, "")
	do(t, "GET", imagesURL(srv, ""), "bad-token", nil, "") // unauthorised
	do(t, "GET", srv.URL+"/v3", "", nil, "")               // Keystone
	sim.SetFaults(always(Fault{Status: 500}))
	do(t, "GET", imagesURL(srv, ""), tok, nil, "")
	do(t, "GET", imagesURL(srv, "limit=x"), tok, nil, "")
	if got := sim.ImagesRequests(); got != 3 {
		t.Errorf("ImagesRequests %d, want 3", got)
	}
	if got := len(sim.Requests()); got != 4 {
		t.Errorf("Requests has %d, want 4 (it includes the unauthorised one)", got)
	}
}

func TestKeystoneFaults(t *testing.T) {
	sim, srv, _ := newTest(t, Options{})
	sim.SetKeystoneFaults(func(n int, _ *http.Request) Fault {
		switch n {
		case 0:
			return Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3"}
		case 1:
			return Fault{Status: http.StatusBadGateway}
		case 2:
			return Fault{Echo: true}
		case 3:
			return Fault{Garbage: true}
		}
		return Fault{}
	})
	r := postToken(t, srv.URL)
	if r.code != 503 || r.header.Get("Retry-After") != "3" || !strings.HasPrefix(string(r.body), `{"error": {"code": 503, "title": "Service Unavailable"`) {
		t.Errorf("503 fault: %d %v %s", r.code, r.header, r.body)
	}
	if r = postToken(t, srv.URL); r.code != 502 || !strings.Contains(string(r.body), "nginx") {
		t.Errorf("502 fault: %d %s", r.code, r.body)
	}
	r = postToken(t, srv.URL)
	if r.code != 401 || !strings.Contains(string(r.body), "demo-secret") || r.header.Get("x-openstack-request-id") != "demo-secret" {
		t.Errorf("echo fault: %d %v %s, want a 401 quoting the password", r.code, r.header, r.body)
	}
	if r = postToken(t, srv.URL); r.code != 201 || json.Valid(r.body) {
		t.Errorf("garbage fault: %d %q", r.code, r.body)
	}
	if r = postToken(t, srv.URL); r.code != 201 || sim.TokenRequests() != 1 {
		t.Errorf("after the plan: %d, %d token requests counted; want 201 and only it counted", r.code, sim.TokenRequests())
	}
	sim.SetKeystoneFaults(nil)
	if r = postToken(t, srv.URL); r.code != 201 {
		t.Errorf("plan removed: %d", r.code)
	}
}

func TestNovaEchoFault(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	sim.SetFaults(func(int, *http.Request) Fault { return Fault{Echo: true, Status: http.StatusBadRequest} })
	r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, "")
	if r.code != 400 || !strings.HasPrefix(string(r.body), `{"badRequest": {"code": 400, "message": "Invalid request (X-Auth-Token: `+tok) ||
		!strings.Contains(r.header.Get("x-openstack-request-id"), tok) {
		t.Errorf("echo fault: %d %v %s, want a 400 quoting the token", r.code, r.header, r.body)
	}
}
