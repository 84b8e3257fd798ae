package nova

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
)

// maxAllocated is what handling one hostile answer may allocate in all, server side of the
// test included: a quarter of the Kubernetes example's memory limit. Before the bounds, each
// case below allocated several times the body's size.
const maxAllocated = 64 << 20

// repeated reads unit over and over, without end.
type repeated struct {
	block string
	off   int
}

func newRepeated(unit string) *repeated {
	return &repeated{block: strings.Repeat(unit, max(1, 4096/len(unit)))}
}

func (r *repeated) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	return n, nil
}

// hostile is an answer streamed without being held: head, n bytes of fill repeated, tail.
type hostile struct {
	status     int
	header     http.Header
	head, fill string
	n          int64
	tail       string
	gzip       bool // sent with Content-Encoding: gzip, which the client inflates
}

func (h hostile) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	for k, v := range h.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	if h.gzip {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(h.status)
	if h.gzip {
		h.writeGzip(w)
		return
	}
	body := io.MultiReader(strings.NewReader(h.head), strings.NewReader(h.tail))
	if h.n > 0 {
		body = io.MultiReader(strings.NewReader(h.head), io.LimitReader(newRepeated(h.fill), h.n), strings.NewReader(h.tail))
	}
	_, _ = io.Copy(w, body) // until the client hangs up
}

// writeGzip sends the answer as gzip members, one compressed MiB of fill repeated: gzip
// readers take concatenated members as one stream, so 1 GiB costs 1 024 writes of about 1 KB.
func (h hostile) writeGzip(w io.Writer) {
	const chunk = 1 << 20
	fill := gzipped(strings.Repeat(h.fill, chunk/len(h.fill)))
	_, _ = w.Write(gzipped(h.head))
	for sent := int64(0); sent < h.n; sent += chunk {
		if _, err := w.Write(fill); err != nil {
			return // the client hung up
		}
	}
	_, _ = w.Write(gzipped(h.tail))
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	_, _ = gz.Write([]byte(s))
	_ = gz.Close()
	return b.Bytes()
}

// allocated returns the bytes allocated while f runs, by the whole process.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Sizes of the hostile fills: the same bound must hold for both.
var hostileSizes = []int64{64 << 20, 300 << 20}

func TestListImagesBoundsOneValue(t *testing.T) {
	const image = `{"id": "a", "status": "ACTIVE", `
	tests := []struct {
		name            string
		answer          hostile
		wantErr         string
		metadataWanted  bool
		inflated1GiBToo bool
	}{
		{"a name", hostile{head: `{"images": [` + image + `"name": "`, fill: "x", tail: `"}]}`}, "images[0]: larger than 1048576 bytes", false, false},
		{"an exported metadata value", hostile{head: `{"images": [` + image + `"metadata": {"image_type": "`, fill: "é", tail: `"}}]}`}, "images[0]: larger than 1048576 bytes", true, false},
		{"a metadata value", hostile{head: `{"images": [` + image + `"metadata": {"other": "`, fill: "x", tail: `"}}]}`}, "images[0]: larger than 1048576 bytes", false, false},
		{"whitespace between images", hostile{head: `{"images": [` + image + `"name": "a"},`, fill: " \n", tail: image + `"name": "b"}]}`}, "images[1]: larger than 1048576 bytes", false, false},
		{"whitespace before the end", hostile{head: `{"images": []`, fill: "\t", tail: `}`}, "larger than 1048576 bytes", false, false},
		{"another key's value", hostile{head: `{"images": [], "links": "`, fill: "x", tail: `"}`}, `"links": larger than 1048576 bytes`, false, false},
		{"a key", hostile{head: `{"images": [], "`, fill: "k", tail: `": 1}`}, "larger than 1048576 bytes", false, false},
		{"a gzip body inflating to 1 GiB", hostile{head: `{"images": [`, fill: " ", tail: `]}`, gzip: true}, "larger than 1048576 bytes", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sizes := hostileSizes
			if tt.inflated1GiBToo {
				sizes = append(sizes[:1:1], 1<<30)
			}
			for _, size := range sizes {
				answer := tt.answer
				answer.status, answer.n = http.StatusOK, size
				srv := httptest.NewServer(answer)
				defer srv.Close()
				opts := client.Options{MaxRetries: -1, MaxResponseBytes: 1 << 40} // the bound holds whatever the flag says
				if tt.metadataWanted {
					opts.MetadataKeys = []string{"image_type"}
				}
				c := New(&fakeAuth{endpoint: srv.URL + "/v2.1/p", token: "bounds-test-token"}, opts)
				var err error
				n := allocated(func() { _, err = client.Collect(context.Background(), c, client.ListOptions{}) })
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%d bytes: error %v, want one containing %q", size, err, tt.wantErr)
				}
				if n > maxAllocated {
					t.Fatalf("%d bytes: %d MiB allocated, want at most %d MiB", size, n>>20, maxAllocated>>20)
				}
				t.Logf("%d MiB body: %.1f MiB allocated", size>>20, float64(n)/(1<<20))
			}
		})
	}
}

func TestListImagesDefaultCapCountsInflatedBytes(t *testing.T) {
	// Many small images, each within every bound, add up past the response cap: the cap
	// counts the bytes after gzip, not the 100 times fewer on the wire.
	srv := httptest.NewServer(hostile{status: http.StatusOK, head: `{"images": [`, fill: `{"id": "a", "status": "ACTIVE"},`, n: 1 << 30, gzip: true})
	defer srv.Close()
	c := New(&fakeAuth{endpoint: srv.URL + "/v2.1/p", token: "bounds-test-token"}, client.Options{MaxRetries: -1, MaxResponseBytes: 1 << 20})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "response body larger than 1048576 bytes (--client.max-response-bytes)") {
		t.Fatalf("error %v, want the response cap", err)
	}
}

func TestKeystoneBoundsAnswers(t *testing.T) {
	const token = `{"token": {"expires_at": "2099-01-01T00:00:00Z", "project": {"id": "p"}, "catalog": [`
	subject := http.Header{"X-Subject-Token": {"tok"}}
	large := []int64{64 << 20, 1 << 30}
	tests := []struct {
		name    string
		answer  hostile
		sizes   []int64
		wantErr string
	}{
		{"a 401 inflating to 1 GiB", hostile{status: http.StatusUnauthorized, head: `{"error": {"code": 401, "message": "`, fill: "x", tail: `"}}`, gzip: true},
			large, "HTTP 401: unrecognised body (application/json, 65536 bytes or more)"},
		{"a 201 with a huge catalog", hostile{status: http.StatusCreated, header: subject, head: token + `{"type": "compute", "name": "`, fill: "x", tail: `"}]}}`},
			large, "the identity service's answer (HTTP 201) is larger than 2097152 bytes"},
		{"a 201 inflating to 1 GiB", hostile{status: http.StatusCreated, header: subject, head: token, fill: " ", tail: `]}}`, gzip: true},
			large, "the identity service's answer (HTTP 201) is larger than 2097152 bytes"},
		// Within the size bound, but each value costs gophercloud some 300 bytes.
		{"a 201 with a catalog of many small values", hostile{status: http.StatusCreated, header: subject, head: token, fill: "0,", tail: `0]}}`},
			[]int64{1 << 20, 2<<20 - 1024}, "the identity service's answer (HTTP 201) holds more than 100000 JSON values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range tt.sizes {
				answer := tt.answer
				answer.n = size
				srv := httptest.NewServer(answer)
				defer srv.Close()
				k := cloud.NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: srv.URL + "/v3", Username: "u", Password: "keystone-password", DomainName: "Default"},
					gophercloud.EndpointOpts{}, nil, client.NewHTTPClient(time.Minute, nil))
				var err error
				n := allocated(func() { _, err = k.Endpoint(context.Background(), client.ServiceCompute) })
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%d bytes: error %v, want one containing %q", size, err, tt.wantErr)
				}
				if n > maxAllocated {
					t.Fatalf("%d bytes: %d MiB allocated, want at most %d MiB", size, n>>20, maxAllocated>>20)
				}
				t.Logf("%d MiB body: %.1f MiB allocated", size>>20, float64(n)/(1<<20))
			}
		})
	}
}

func TestNewHTTPClientBoundsHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		value := strings.Repeat("v", 32<<10)
		for i := range 40 { // 1.3 MB of headers
			w.Header().Set(fmt.Sprintf("X-%d", i), value)
		}
	}))
	defer srv.Close()
	resp, err := client.NewHTTPClient(time.Minute, nil).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("%d headers accepted, want the header bound", len(resp.Header))
	}
	if !strings.Contains(err.Error(), "server response headers exceeded 1048576 bytes") {
		t.Fatalf("error %v, want the header bound", err)
	}
}

func TestImageLabelBounds(t *testing.T) {
	long := strings.Repeat
	body := fmt.Sprintf(`{"images": [{"id": %q, "status": %q, "name": %q, "server": {"id": %q}, "metadata": {"image_type": %q}}]}`,
		long("i", 255), long("s", 100), "x"+long("€", 400), long("v", 300), "xx"+long("😀", 300))
	c, _, _ := newTestClient(t, func(int, *http.Request) (int, http.Header, string) { return ok(body) })
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
	c, _, _ = newTestClient(t, func(int, *http.Request) (int, http.Header, string) { return ok(body) })
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err == nil || !strings.Contains(err.Error(), "id longer than 255 bytes") {
		t.Fatalf("error %v, want the id refused", err)
	}
}

func TestKeystoneRefusesLongEndpoint(t *testing.T) {
	url := "http://nova.example/" + strings.Repeat("v", 4000)
	srv := httptest.NewServer(hostile{status: http.StatusCreated, header: http.Header{"X-Subject-Token": {"tok"}},
		head: `{"token": {"expires_at": "2099-01-01T00:00:00Z", "project": {"id": "p"}, "catalog": [{"type": "compute", "endpoints": [{"interface": "public", "url": "` + url + `"}]}]}}`})
	defer srv.Close()
	k := cloud.NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: srv.URL + "/v3", Username: "u", Password: "keystone-password", DomainName: "Default"},
		gophercloud.EndpointOpts{}, nil, client.NewHTTPClient(time.Minute, nil))
	_, err := k.Endpoint(context.Background(), client.ServiceCompute)
	if err == nil || !strings.Contains(err.Error(), "compute endpoint is longer than 2048 bytes") || len(err.Error()) > 1024 {
		t.Fatalf("error %.2000v, want the endpoint refused in a short message", err)
	}
}
