package client

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestNewHTTPClientBoundsHeaders(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		value := strings.Repeat("v", 32<<10)
		for i := range 40 { // 1.3 MB of headers
			w.Header().Set(fmt.Sprintf("X-%d", i), value)
		}
	}))
	defer srv.Close()
	resp, err := NewHTTPClient(time.Minute, nil).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("%d headers accepted, want the header bound", len(resp.Header))
	}
	if !strings.Contains(err.Error(), "server response headers exceeded 1048576 bytes") {
		t.Fatalf("error %v, want the header bound", err)
	}
}
