package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// tokenCloud is a clouds.yaml entry with a pre-issued token for the compute API at url.
func tokenCloud(name, url string) string {
	return "  " + name + ":\n    auth_type: token\n    auth: {token: t-" + name + ", project_id: p}\n    compute_endpoint_override: " + url + "/v2.1/p\n"
}

func TestARemovedCloudsScrapeInFlightLeavesNoSeries(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		http.Error(w, `{"unauthorized": {"code": 401, "message": "token refused"}}`, http.StatusUnauthorized)
	}))
	t.Cleanup(api.Close)
	clouds := writeClouds(t, "clouds:\n"+tokenCloud("kept", "http://127.0.0.1:1")+tokenCloud("gone", api.URL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "")
	base, logs := startExporter(t)

	probed := make(chan string)
	go func() {
		resp, err := http.Get(base + "/probe?cloud=gone")
		if err != nil {
			probed <- err.Error()
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		probed <- string(body)
	}()
	<-arrived
	if err := os.WriteFile(clouds, []byte("clouds:\n"+tokenCloud("kept", "http://127.0.0.1:1")), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reload removing gone: %v %v\n%s", resp, err, logs)
	}
	resp.Body.Close()
	close(release)
	if body := <-probed; !strings.Contains(body, "\nnova_up 0\n") {
		t.Errorf("the probe of gone in flight: %s", body)
	}
	if body := get(t, base+"/metrics"); strings.Contains(body, `cloud="gone"`) {
		t.Errorf("the exporter's metrics have series of the removed cloud after its last scrape ended:\n%s", grepLines(body, `cloud="gone"`))
	}
	if body := get(t, base+"/metrics"); !strings.Contains(body, `nova_image_exporter_auth_failures_total{cloud="kept"} 0`) {
		t.Errorf("the kept cloud's series are gone:\n%s", grepLines(body, "cloud="))
	}
}

func grepLines(text, substring string) string {
	var lines []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, substring) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "")
}

func TestStartWithAnUnknownCloudListsTheClouds(t *testing.T) {
	clouds := writeClouds(t, "clouds:\n"+tokenCloud("one", "http://127.0.0.1:1")+tokenCloud("two", "http://127.0.0.1:1"))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "")
	err := run(t.Context(), time.Now, []string{"--cloud=three", "--web.listen-address=127.0.0.1:0"}, io.Discard, io.Discard)
	if want := clouds + `: no cloud "three" under clouds: (have "one", "two")`; err == nil || err.Error() != want {
		t.Errorf("start with --cloud=three: %v, want %q", err, want)
	}
}

func TestUnknownKeysAreWarnedAndChecked(t *testing.T) {
	clouds := writeClouds(t, "clouds:\n"+strings.Replace(tokenCloud("one", "http://127.0.0.1:1"), "project_id: p}", "project_id: p}\n    regoin_name: r", 1))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("OS_CLOUD", "")
	_, logs := startExporter(t)
	if n := strings.Count(logs.String(), "cloud=one key=regoin_name"); n != 1 {
		t.Errorf("%d warnings naming the cloud and the unknown key at start-up, want 1:\n%s", n, logs)
	}
	var stdout strings.Builder
	if err := run(t.Context(), time.Now, []string{"--config.check"}, &stdout, io.Discard); err != nil ||
		!strings.Contains(stdout.String(), "warning "+clouds+`: cloud "one": unknown key regoin_name is ignored`) ||
		!strings.Contains(stdout.String(), "configuration OK: 1 clouds, 1 unknown keys ignored") {
		t.Errorf("--config.check with an unknown key: %v\n%s", err, stdout.String())
	}
	for _, content := range []string{"", "clouds: {}\n"} {
		if err := os.WriteFile(clouds, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		stdout.Reset()
		err := run(t.Context(), time.Now, []string{"--config.check"}, &stdout, io.Discard)
		if want := "configuration check failed: " + clouds + ": no cloud under clouds: (an empty or truncated file?)"; err == nil || err.Error() != want {
			t.Errorf("--config.check of %q: %v, want %q\n%s", content, err, want, stdout.String())
		}
	}
}
