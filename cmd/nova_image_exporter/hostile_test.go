package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// A hostile scraper's short /probe of another selection of the same cloud starts the token
// renewal; the patient /metrics scrape that joins it must not fail with the other's deadline.
func TestShortProbeDoesNotSpoilTokenRenewal(t *testing.T) {
	sim, simURL := authSimulator(t, simulator.Options{})
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, fmt.Sprintf(`clouds:
  sim:
    auth: {auth_url: %s/v3, username: demo, password: %s, user_domain_name: Default, project_name: demo, project_domain_name: Default}
`, simURL, testPassword)))
	base, logs := startExporter(t, "--cloud=sim")
	scrape(t, base+"/metrics")
	sim.RevokeTokens()
	renewing := make(chan struct{})
	sim.SetKeystoneFaults(func(n int, _ *http.Request) simulator.Fault {
		if n == 0 {
			close(renewing)
			return simulator.Fault{Delay: time.Second} // slower than the short scrape
		}
		return simulator.Fault{}
	})
	go scrapeWithTimeout(base+"/probe?cloud=sim&name=x", "0.3")
	<-renewing
	code, body := scrapeWithTimeout(base+"/metrics", "10")
	if code != http.StatusOK || !strings.Contains(body, "\nnova_up 1\n") || !strings.Contains(body, `nova_image_exporter_identity_errors_total{cloud="sim"} 0`) {
		t.Errorf("the patient scrape: %d %q\nlog:\n%s", code, linesWith(body, "nova_up", "identity_errors"), logs)
	}
}

// A Nova that echoes the token it was sent: in an image name (a label of /probe's answer)
// and in a 200's Content-Type (the error log line).
func TestEchoedTokenReachesNeitherProbeNorLog(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef" // as short as a UUID Keystone token
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1)%2 == 0 {
			w.Header().Set("Content-Type", "text/"+r.Header.Get("X-Auth-Token"))
			_, _ = w.Write([]byte("{}"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"images":[{"id":"i1","name":"%s","status":"ACTIVE"}]}`, r.Header.Get("X-Auth-Token"))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, fmt.Sprintf("clouds:\n  h:\n    auth_type: token\n    auth: {token: %s, project_id: p}\n    compute_endpoint_override: %s/v2.1/p\n", token, srv.URL)))
	t.Setenv("OS_CLOUD", "")
	base, logs := startExporter(t, "--log.level=debug")
	_, listed := scrapeWithTimeout(base+"/probe?cloud=h", "5")
	_, failed := scrapeWithTimeout(base+"/probe?cloud=h", "5")
	if !strings.Contains(listed, `nova_image_status{id="i1"`) || !strings.Contains(failed, "nova_up 0") {
		t.Fatalf("want one listing and one failure, got:\n%s\n%s", listed, failed)
	}
	for where, text := range map[string]string{"/probe": listed + failed, "log": logs.String()} {
		if strings.Contains(text, token) {
			t.Errorf("the token is in the %s: %q", where, linesWith(text, token))
		}
	}
}

// linesWith returns the lines of s that hold any of subs.
func linesWith(s string, subs ...string) []string {
	var lines []string
	for _, line := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(line, sub) {
				lines = append(lines, line)
				break
			}
		}
	}
	return lines
}
