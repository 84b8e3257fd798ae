package clienttest

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// MaxAllocated is what handling one hostile answer may allocate in all, server side of the
// test included: a quarter of the Kubernetes example's memory limit. Before the bounds, each
// hostile answer allocated several times the body's size.
const MaxAllocated = 64 << 20

// Hostile is an answer streamed without being held: Head, N bytes of Fill repeated, Tail.
type Hostile struct {
	Status     int
	Header     http.Header
	Head, Fill string
	N          int64
	Tail       string
	Gzip       bool // sent with Content-Encoding: gzip, which the client inflates
}

// ServeHTTP sends the answer, until the client hangs up.
func (h Hostile) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	for k, v := range h.Header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	if h.Gzip {
		w.Header().Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(h.Status)
	if h.Gzip {
		h.writeGzip(w)
		return
	}
	body := io.MultiReader(strings.NewReader(h.Head), strings.NewReader(h.Tail))
	if h.N > 0 {
		body = io.MultiReader(strings.NewReader(h.Head), io.LimitReader(newRepeated(h.Fill), h.N), strings.NewReader(h.Tail))
	}
	_, _ = io.Copy(w, body) // until the client hangs up
}

// writeGzip sends the answer as gzip members, one compressed MiB of fill repeated: gzip
// readers take concatenated members as one stream, so 1 GiB costs 1 024 writes of about 1 KB.
func (h Hostile) writeGzip(w io.Writer) {
	const chunk = 1 << 20
	fill := gzipped(strings.Repeat(h.Fill, chunk/len(h.Fill)))
	_, _ = w.Write(gzipped(h.Head))
	for sent := int64(0); sent < h.N; sent += chunk {
		if _, err := w.Write(fill); err != nil {
			return // the client hung up
		}
	}
	_, _ = w.Write(gzipped(h.Tail))
}

func gzipped(s string) []byte {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	_, _ = gz.Write([]byte(s))
	_ = gz.Close()
	return b.Bytes()
}

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

// Allocated returns the bytes allocated while f runs, by the whole process.
func Allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// CheckBounded serves answer with each of sizes bytes of fill and fails t unless what
// prepare makes of the server's URL fails, with an error containing wantErr, having
// allocated at most MaxAllocated while it ran.
func CheckBounded(t testing.TB, answer Hostile, sizes []int64, wantErr string, prepare func(url string) (request func() error)) {
	t.Helper()
	for _, size := range sizes {
		answer.N = size
		srv := httptest.NewServer(answer)
		t.Cleanup(srv.Close)
		request := prepare(srv.URL)
		var err error
		n := Allocated(func() { err = request() })
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("%d bytes: error %v, want one containing %q", size, err, wantErr)
		}
		if n > MaxAllocated {
			t.Fatalf("%d bytes: %d MiB allocated, want at most %d MiB", size, n>>20, MaxAllocated>>20)
		}
		t.Logf("%d MiB body: %.1f MiB allocated", size>>20, float64(n)/(1<<20))
	}
}
