package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// The exporter against the simulator when the cloud refuses its credentials: one refused
// request per back-off, whatever the API, however many scrapes (docs/operations.md, "Refused
// credentials").

// imsAKSKCloud is a clouds.yaml entry of an IMS cloud signed with AK/SK and secret key sk.
func imsAKSKCloud(name, simURL, sk string) string {
	return fmt.Sprintf(`  %s:
    image_api: ims
    auth_type: aksk
    auth: {ak: %s, sk: %s, project_id: %s}
    image_endpoint_override: %s
`, name, testAK, sk, testProject, simURL)
}

// keystoneCloud is a clouds.yaml entry of a cloud read through api with the simulator's
// Keystone at authURL and password.
func keystoneCloud(name, api, authURL, password string) string {
	return fmt.Sprintf(`  %s:
    image_api: %s
    auth: {auth_url: %s/v3, username: demo, password: %s, user_domain_name: Default, project_name: demo, project_domain_name: Default}
    region_name: RegionOne
`, name, api, authURL, password)
}

// backoffOf is nova_image_exporter_auth_backoff_seconds of cloud, as /metrics reports it.
func backoffOf(t *testing.T, base, cloud string) (float64, bool) {
	t.Helper()
	return value(scrape(t, base+"/metrics"), "nova_image_exporter_auth_backoff_seconds", map[string]string{"cloud": cloud})
}

// TestWrongSecretKeyIsOneRefusedRequestPerBackoff: a wrong secret key gets one refused
// signed request in 5 scrapes, listing through IMS (whose quota request went beside its
// listing) as through Nova.
func TestWrongSecretKeyIsOneRefusedRequestPerBackoff(t *testing.T) {
	for api, entry := range map[string]func(simURL string) string{
		"ims": func(simURL string) string { return imsAKSKCloud("aksk", simURL, "wrong-secret-key") },
		"nova": func(simURL string) string {
			return fmt.Sprintf(`  aksk:
    auth_type: aksk
    auth: {ak: %s, sk: wrong-secret-key, project_id: %s}
    compute_endpoint_override: %s/v2.1/{project_id}
`, testAK, testProject, simURL)
		},
	} {
		t.Run(api, func(t *testing.T) {
			sim, simURL := authSimulator(t, simulator.Options{})
			t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, "clouds:\n"+entry(simURL)))
			base, logs := startExporter(t, "--cloud=aksk")
			const scrapes = 5
			for range scrapes {
				families := scrape(t, base+"/metrics")
				if up, _ := value(families, "nova_up", nil); up != 0 {
					t.Errorf("nova_up = %v with a wrong SK, want 0", up)
				}
				if v, _ := value(families, "nova_image_exporter_auth_failures_total", map[string]string{"cloud": "aksk"}); v != 1 {
					t.Errorf("auth failures counter %v, want 1: the one refusal", v)
				}
			}
			refused := sim.SignatureFailures(testAK)
			t.Logf("%d scrapes of a %s cloud with a wrong SK: %d refused signed requests", scrapes, api, refused)
			if refused != 1 {
				t.Errorf("the gateway refused %d signed requests in %d scrapes, want 1 (the listing's; no quota request)", refused, scrapes)
			}
			if left, found := backoffOf(t, base, "aksk"); !found || left <= 0 || left > 60 {
				t.Errorf("nova_image_exporter_auth_backoff_seconds = %v (found %v), want the first minute's back-off", left, found)
			}
			text := logs.String()
			if n := strings.Count(text, "level=error"); n != 1 || !strings.Contains(text, "authentication failed") ||
				!strings.Contains(text, "APIGW.0301") || !strings.Contains(text, "back-off") || strings.Contains(text, "wrong-secret-key") {
				t.Errorf("want one error line for the back-off (%d), saying authentication failed with APIGW.0301 and the back-off, without the key:\n%s", n, text)
			}
		})
	}
}

// TestKeystoneForbiddenIsOneTokenRequestPerBackoff: Keystone answering 403 gets one token
// request in 3 scrapes, from a Glance cloud (whose quota request went beside its listing)
// as from a Nova cloud.
func TestKeystoneForbiddenIsOneTokenRequestPerBackoff(t *testing.T) {
	for _, api := range []string{"glance", "nova"} {
		t.Run(api, func(t *testing.T) {
			sim, simURL := authSimulator(t, simulator.Options{})
			var tokenRequests atomic.Int32
			sim.SetKeystoneFaults(func(int, *http.Request) simulator.Fault {
				tokenRequests.Add(1)
				return simulator.Fault{Status: http.StatusForbidden}
			})
			t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, "clouds:\n"+keystoneCloud("c", api, simURL, testPassword)))
			base, _ := startExporter(t, "--cloud=c")
			const scrapes = 3
			for range scrapes {
				if up, _ := value(scrape(t, base+"/metrics"), "nova_up", nil); up != 0 {
					t.Errorf("nova_up = %v, want 0", up)
				}
			}
			n := tokenRequests.Load()
			t.Logf("%d scrapes of a %s cloud, Keystone answering 403: %d token requests", scrapes, api, n)
			if n != 1 {
				t.Errorf("%d token requests in %d scrapes, want 1", n, scrapes)
			}
		})
	}
}

// TestReloadEndsTheBackoff: a reload that leaves the cloud's entry as it is keeps its
// back-off; one that changes it (the password fixed) lists at once.
func TestReloadEndsTheBackoff(t *testing.T) {
	_, simURL := authSimulator(t, simulator.Options{})
	clouds := writeClouds(t, "clouds:\n"+keystoneCloud("c", "glance", simURL, "not-the-password"))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=c")
	reload := func() {
		t.Helper()
		resp, err := http.Post(base+"/-/reload", "", nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("reload: %v %v\n%s", resp, err, logs)
		}
		resp.Body.Close()
	}
	up := func() float64 {
		t.Helper()
		v, _ := value(scrape(t, base+"/metrics"), "nova_up", nil)
		return v
	}
	if up() != 0 {
		t.Fatal("nova_up 1 with a wrong password")
	}
	reload()
	if v := up(); v != 0 {
		t.Errorf("nova_up %v after a reload that changed nothing: the back-off should hold", v)
	}
	if n := strings.Count(logs.String(), "listing images failed"); n != 1 {
		t.Errorf("%d listings failed, want the one refused: the unchanged entry's back-off holds\n%s", n, logs)
	}
	if err := os.WriteFile(clouds, []byte("clouds:\n"+keystoneCloud("c", "glance", simURL, testPassword)), 0o600); err != nil {
		t.Fatal(err)
	}
	reload()
	if v := up(); v != 1 {
		t.Errorf("nova_up %v after the password was fixed and reloaded, want 1\n%s", v, logs)
	}
	if left, found := backoffOf(t, base, "c"); !found || left != 0 {
		t.Errorf("nova_image_exporter_auth_backoff_seconds = %v (found %v) once the cloud lists, want 0", left, found)
	}
}

// TestUnreachableKeystoneIsOneLinePerScrape: with Keystone unreachable, a scrape of a
// Glance or IMS cloud logs the listing's failure only: its quota request is not sent.
func TestUnreachableKeystoneIsOneLinePerScrape(t *testing.T) {
	closed := closedURL(t)
	_, simURL := authSimulator(t, simulator.Options{})
	ims := keystoneCloud("ims", "ims", closed, testPassword) + "    image_endpoint_override: " + simURL + "\n"
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, "clouds:\n"+keystoneCloud("glance", "glance", closed, testPassword)+ims))
	base, logs := startExporter(t)
	for _, cloud := range []string{"glance", "ims"} {
		mark := len(logs.String())
		for scrapes := 1; scrapes <= 2; scrapes++ {
			families := scrape(t, base+"/probe?cloud="+cloud)
			if up, _ := value(families, "nova_up", nil); up != 0 {
				t.Errorf("%s: nova_up %v with Keystone unreachable", cloud, up)
			}
			if up, _ := value(families, "nova_image_quota_up", nil); up != 0 {
				t.Errorf("%s: nova_image_quota_up %v with Keystone unreachable", cloud, up)
			}
		}
		text := logs.String()[mark:]
		listing, quota := strings.Count(text, "listing images failed"), strings.Count(text, "image quota request failed")
		if listing != 2 || quota != 0 {
			t.Errorf("%s: 2 scrapes logged %d listing failures and %d quota failures, want 2 and 0:\n%s", cloud, listing, quota, text)
		}
	}
}

// closedURL is the URL of a port that refuses connections.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	return url
}

// TestQuotaEndpointRefusingIsOneRequestPerBackoff: a quota endpoint answering 401 beside a
// good listing gets one request per back-off and no token request of its own; the
// refusal is counted with the cloud's auth failures and logged once, and the listing goes
// on.
func TestQuotaEndpointRefusingIsOneRequestPerBackoff(t *testing.T) {
	sim, simURL := authSimulator(t, simulator.Options{})
	sim.SetQuotaFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{Status: http.StatusUnauthorized} })
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, "clouds:\n"+keystoneCloud("c", "glance", simURL, testPassword)))
	base, logs := startExporter(t, "--cloud=c")
	const scrapes = 3
	for range scrapes {
		families := scrape(t, base+"/metrics")
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Errorf("nova_up = %v beside a refused quota request, want 1", up)
		}
		if up, _ := value(families, "nova_image_quota_up", nil); up != 0 {
			t.Errorf("nova_image_quota_up = %v with the quota endpoint answering 401, want 0", up)
		}
	}
	quotaRequests, tokenRequests := len(sim.QuotaRequests()), sim.TokenRequests()
	t.Logf("%d scrapes, the quota endpoint answering 401: %d quota requests, %d token requests", scrapes, quotaRequests, tokenRequests)
	if quotaRequests != 1 || tokenRequests != 1 {
		t.Errorf("%d quota requests and %d token requests in %d scrapes, want 1 and 1 (the listing's)", quotaRequests, tokenRequests, scrapes)
	}
	if v, _ := value(scrape(t, base+"/metrics"), "nova_image_exporter_auth_failures_total", map[string]string{"cloud": "c"}); v != 1 {
		t.Errorf("auth failures %v, want 1: the quota endpoint's refusal", v)
	}
	if n := strings.Count(logs.String(), "image quota request failed"); n != 1 {
		t.Errorf("%d quota failure lines, want 1 (per back-off):\n%s", n, logs)
	}
}

// Probes of one cloud with different options, arriving together, start a listing each
// before the first refusal is taken: they send the refused password once between them.
// Before, each sent it, one after another, after Keystone had already refused it (Keystone
// locks a user after a few refusals in a row).
func TestConcurrentProbesSendTheRefusedPasswordOnce(t *testing.T) {
	sim, simURL := authSimulator(t, simulator.Options{})
	var tokenRequests atomic.Int32
	sim.SetKeystoneFaults(func(int, *http.Request) simulator.Fault {
		tokenRequests.Add(1)
		// Slow, so that the probes' listings all start before the refusal arrives.
		return simulator.Fault{Status: http.StatusUnauthorized, Delay: 200 * time.Millisecond}
	})
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, "clouds:\n"+keystoneCloud("c", "glance", simURL, "wrong-password")))
	base, _ := startExporter(t, "--cloud=c")
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		wg.Go(func() { scrape(t, base+"/probe?cloud=c&name="+name) })
	}
	wg.Wait()
	if n := tokenRequests.Load(); n != 1 {
		t.Errorf("5 probes with different options at once sent the refused password %d times; want 1", n)
	}
}
