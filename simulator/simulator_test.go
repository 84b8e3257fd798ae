package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)

const proj = defaultProjectID

func newTest(t testing.TB, opts Options) (*Simulator, *httptest.Server, string) {
	t.Helper()
	if opts.Images == nil {
		opts.Images = DefaultImages(testNow)
	}
	sim := New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv, sim.IssueToken()
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func do(t testing.TB, method, u, token string, hdr map[string]string, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return send(t, req)
}

type page struct {
	Images []struct {
		ID       string         `json:"id"`
		Name     *string        `json:"name"`
		Status   string         `json:"status"`
		Progress int            `json:"progress"`
		Size     int64          `json:"OS-EXT-IMG-SIZE:size"`
		MinRAM   int64          `json:"minRam"`
		MinDisk  int64          `json:"minDisk"`
		Metadata map[string]any `json:"metadata"`
		Server   *struct {
			ID string `json:"id"`
		} `json:"server"`
	} `json:"images"`
	Links []struct {
		Rel  string `json:"rel"`
		Href string `json:"href"`
	} `json:"images_links"`
}

func decodePage(t testing.TB, r response) page {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("status %d, body %s", r.code, r.body)
	}
	var p page
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	if p.Images == nil {
		t.Fatalf("no images key in %s", r.body)
	}
	return p
}

func (p page) ids() []string {
	var out []string
	for _, im := range p.Images {
		out = append(out, im.ID)
	}
	return out
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		method, path string
		code         int
		bodyPrefix   string
	}{
		{"GET", "/v2.1/" + proj + "/images/detail", 200, `{"images": [`},
		{"GET", "/v2.1/images/detail", 200, `{"images": [`},
		{"GET", "/v2.1/ffffffffffffffffffffffffffffffff/images/detail", 400, `{"badRequest": {"code": 400, "message": "Malformed request URL`},
		{"POST", "/v2.1/" + proj + "/images/detail", 405, `{"badMethod": {"code": 405, `},
		{"GET", "/v2.1/" + proj + "/images", 404, `{"itemNotFound": {"code": 404, "message": "The resource could not be found."}}`},
		{"GET", "/v2.1/" + proj + "/servers/detail", 404, `{"itemNotFound": `},
		{"GET", "/nothing", 404, `{"itemNotFound": `},
		{"DELETE", "/v3/auth/tokens", 405, `{"error": {"code": 405, `},
	}
	_, srv, tok := newTest(t, Options{})
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			r := do(t, tc.method, srv.URL+tc.path, tok, nil, "")
			if r.code != tc.code || !bytes.HasPrefix(r.body, []byte(tc.bodyPrefix)) {
				t.Errorf("got %d %s, want %d %s…", r.code, r.body, tc.code, tc.bodyPrefix)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	sim, srv, tok := newTest(t, Options{Images: GenerateImages(300, 1, testNow)})
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func(i int) {
			defer func() { done <- struct{}{} }()
			switch i % 4 {
			case 0:
				sim.SetImages(GenerateImages(50+i, int64(i), testNow))
			case 1:
				sim.IssueToken()
				_ = sim.TokenRequests()
			case 2:
				_ = sim.Requests()
			}
			// Not do: its t.Fatal must not run on this goroutine.
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2.1/images/detail?limit=20", nil)
			req.Header.Set("X-Auth-Token", tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		}(i)
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

// jsonKeys returns the keys of the JSON object b in the order they appear.
func jsonKeys(t testing.TB, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}
