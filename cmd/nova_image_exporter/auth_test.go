package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

const (
	testProject   = "0123456789abcdef0123456789abcdef"
	testAppCredID = "21dced0fd20347869b93710d2b98aae0"
	testAppSecret = "appcred-secret-Zq8"
	testAK        = "QTWAOYTTINDUT2QVKYUC"
	testSK        = "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
	testTempAK    = "TEMPORARYACCESSKEY01"
	testTempSK    = "temporary-secret-key-Xy7"
	testSecToken  = "security-token-Pq4"
	testPassword  = "demo-secret"
)

// authSimulator accepts every credential kind the exporter supports.
func authSimulator(t *testing.T, opts simulator.Options) (*simulator.Simulator, string) {
	t.Helper()
	opts.Images = simulator.DefaultImages(testNow)
	opts.ApplicationCredentials = []simulator.ApplicationCredential{{ID: testAppCredID, Name: "monitoring", Secret: testAppSecret}}
	opts.AccessKeys = []simulator.AccessKey{{AK: testAK, SK: testSK}, {AK: testTempAK, SK: testTempSK, SecurityToken: testSecToken}}
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return sim, srv.URL
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

var signaturePattern = regexp.MustCompile(`Signature=([0-9a-f]+)`)

// secretsSeen are the credentials the simulator received: every token and every signature.
func secretsSeen(sim *simulator.Simulator) []string {
	var secrets []string
	for _, r := range sim.Requests() {
		if tok := r.Header.Get("X-Auth-Token"); tok != "" {
			secrets = append(secrets, tok)
		}
		if m := signaturePattern.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			secrets = append(secrets, m[1])
		}
	}
	return secrets
}

// TestEveryAuthTypeKeepsSecrets runs each auth type end to end at debug level, also against
// servers that echo the credentials in their error answers, and searches the log, the
// metrics, the /probe page and the landing page for every secret involved.
func TestEveryAuthTypeKeepsSecrets(t *testing.T) {
	sim, simURL := authSimulator(t, simulator.Options{})
	staticToken := sim.IssueToken()
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  password:
    auth:
      auth_url: %[1]s/v3
      username: demo
      password: %[2]s
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: %[1]s/v3
      application_credential_id: %[3]s
      application_credential_secret: %[4]s
  appcred-by-name:
    auth_type: v3applicationcredential
    auth:
      auth_url: %[1]s/v3
      application_credential_name: monitoring
      application_credential_secret: %[4]s
      username: demo
      user_domain_name: Default
  token:
    auth_type: token
    auth:
      token: %[5]s
      project_id: %[6]s
    compute_endpoint_override: %[1]s/v2.1/{project_id}
  aksk:
    auth_type: aksk
    auth:
      ak: %[7]s
      sk: %[8]s
      project_id: %[6]s
    compute_endpoint_override: %[1]s/v2.1/{project_id}
  aksk-temporary:
    auth_type: aksk
    auth:
      ak: %[9]s
      sk: %[10]s
      security_token: %[11]s
      project_id: %[6]s
    compute_endpoint_override: %[1]s/v2.1/{project_id}
`, simURL, testPassword, testAppCredID, testAppSecret, staticToken, testProject, testAK, testSK, testTempAK, testTempSK, testSecToken))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	for _, cloud := range []string{"password", "appcred", "appcred-by-name", "token", "aksk", "aksk-temporary"} {
		t.Run(cloud, func(t *testing.T) {
			base, logs := startExporter(t, "--cloud="+cloud, "--log.level=debug")
			checkImages(t, scrape(t, base+"/metrics"))
			exposed := logs.String() + get(t, base+"/metrics") + get(t, base+"/")
			// Servers that echo the credentials: Nova quoting the token or the Authorization
			// header in a 401 (and Keystone the password in the renewal's 401), then in a 400.
			for _, status := range []int{http.StatusUnauthorized, http.StatusBadRequest} {
				echo := func(int, *http.Request) simulator.Fault { return simulator.Fault{Echo: true, Status: status} }
				sim.SetFaults(echo)
				sim.SetKeystoneFaults(echo)
				page := get(t, base+"/probe?cloud="+cloud) + get(t, base+"/metrics")
				sim.SetFaults(nil)
				sim.SetKeystoneFaults(nil)
				if !strings.Contains(page, "nova_up 0") {
					t.Errorf("echoing server answering %d: want nova_up 0:\n%s", status, page)
				}
				exposed += page
			}
			if !strings.Contains(logs.String(), "<redacted>") {
				t.Errorf("the log shows no redacted secret: did the servers echo?\n%s", logs)
			}
			exposed += logs.String()
			secrets := append(secretsSeen(sim), testPassword, testAppSecret, staticToken, testSK, testTempSK, testSecToken)
			for _, secret := range secrets {
				if strings.Contains(exposed, secret) {
					t.Errorf("secret %q appears in the log, metrics or landing page", secret)
				}
			}
			if !strings.Contains(logs.String(), "level=debug") {
				t.Errorf("no debug line logged; the test would not see secrets logged at debug:\n%s", logs)
			}
		})
	}
}

func TestWrongPasswordIsAnAuthFailure(t *testing.T) {
	_, simURL := authSimulator(t, simulator.Options{})
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  sim:
    auth: {auth_url: %s/v3, username: demo, password: not-the-password, user_domain_name: Default, project_name: demo, project_domain_name: Default}
`, simURL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=sim", "--log.level=debug")
	families := scrape(t, base+"/metrics")
	if up, _ := value(families, "nova_up", nil); up != 0 {
		t.Errorf("nova_up = %v, want 0", up)
	}
	if v, _ := value(families, "nova_image_exporter_auth_failures_total", map[string]string{"cloud": "sim"}); v != 1 {
		t.Errorf("auth failures %v, want 1", v)
	}
	text := logs.String()
	if !strings.Contains(text, "authentication failed: authenticating to "+simURL+"/v3 as demo") || !strings.Contains(text, "401") ||
		strings.Contains(text, "not-the-password") {
		t.Errorf("log should say authentication failed with the status, without the password:\n%s", text)
	}
}

// TestIdentityServiceFailuresAreNotAuthFailures: a Keystone that fails or cannot be reached
// moves nova_image_exporter_identity_errors_total, not auth_failures_total, and the other
// way round for a refused password.
func TestIdentityServiceFailuresAreNotAuthFailures(t *testing.T) {
	sim, simURL := authSimulator(t, simulator.Options{})
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close() // connection refused
	entry := func(name, url, password string) string {
		return fmt.Sprintf(`  %s:
    auth: {auth_url: %s/v3, username: demo, password: %s, user_domain_name: Default, project_name: demo, project_domain_name: Default}
`, name, url, password)
	}
	// /metrics lists a cloud with a pre-issued token, which never asks Keystone.
	clouds := writeClouds(t, "clouds:\n"+entry("sim", simURL, testPassword)+entry("refused", closedURL, testPassword)+
		entry("wrong", simURL, "not-the-password")+fmt.Sprintf(`  token:
    auth_type: token
    auth: {token: %s, project_id: %s}
    compute_endpoint_override: %s/v2.1/{project_id}
`, sim.IssueToken(), testProject, simURL))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=token", "--client.timeout=300ms")
	for _, tt := range []struct {
		name, target string
		fault        simulator.Fault
		auth, ident  float64
		wantLog      string
	}{
		{"keystone 503", "sim", simulator.Fault{Status: http.StatusServiceUnavailable}, 0, 1, "HTTP 503"},
		{"keystone timeout", "sim", simulator.Fault{Hang: true}, 0, 1, "imeout"}, // net/http's "timeout awaiting" or "Timeout exceeded"
		{"connection refused", "refused", simulator.Fault{}, 0, 1, "connection refused"},
		{"password refused", "wrong", simulator.Fault{}, 1, 0, "HTTP 401"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim.SetKeystoneFaults(func(int, *http.Request) simulator.Fault { return tt.fault })
			t.Cleanup(func() { sim.SetKeystoneFaults(nil) })
			cloud := tt.target
			own := scrape(t, base+"/metrics")
			authBefore, _ := value(own, "nova_image_exporter_auth_failures_total", map[string]string{"cloud": cloud})
			identBefore, _ := value(own, "nova_image_exporter_identity_errors_total", map[string]string{"cloud": cloud})
			if up, _ := value(scrape(t, base+"/probe?cloud="+cloud), "nova_up", nil); up != 0 {
				t.Errorf("nova_up = %v, want 0", up)
			}
			own = scrape(t, base+"/metrics")
			authAfter, _ := value(own, "nova_image_exporter_auth_failures_total", map[string]string{"cloud": cloud})
			identAfter, found := value(own, "nova_image_exporter_identity_errors_total", map[string]string{"cloud": cloud})
			if !found {
				t.Errorf("no nova_image_exporter_identity_errors_total{cloud=%q}", cloud)
			}
			if authAfter-authBefore != tt.auth || identAfter-identBefore != tt.ident {
				t.Errorf("auth failures +%v, identity errors +%v; want +%v, +%v", authAfter-authBefore, identAfter-identBefore, tt.auth, tt.ident)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, logs)
			}
		})
	}
}

func TestEnvironmentOnlyConfiguration(t *testing.T) {
	sim, simURL := authSimulator(t, simulator.Options{})
	clearEnv := func(t *testing.T) {
		for _, v := range []string{"OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD", "OS_USER_DOMAIN_NAME",
			"OS_PROJECT_NAME", "OS_PROJECT_ID", "OS_PROJECT_DOMAIN_NAME", "OS_REGION_NAME", "OS_INTERFACE", "OS_AUTH_TOKEN",
			"OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_SECRET", "OS_COMPUTE_ENDPOINT_OVERRIDE", "OS_AUTH_TYPE",
			"HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_PROJECT_ID"} {
			t.Setenv(v, "")
		}
	}
	t.Run("keystone", func(t *testing.T) {
		clearEnv(t)
		for k, v := range map[string]string{
			"OS_AUTH_URL": simURL + "/v3", "OS_USERNAME": "demo", "OS_PASSWORD": testPassword, "OS_USER_DOMAIN_NAME": "Default",
			"OS_PROJECT_NAME": "demo", "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne", "OS_INTERFACE": "public",
		} {
			t.Setenv(k, v)
		}
		base, logs := startExporter(t)
		checkImages(t, scrape(t, base+"/metrics"))
		if !strings.Contains(logs.String(), "source=environment") {
			t.Errorf("log does not say the environment configured the cloud:\n%s", logs)
		}
	})
	t.Run("huawei aksk", func(t *testing.T) {
		clearEnv(t)
		before := len(sim.Requests())
		t.Setenv("HUAWEICLOUD_SDK_AK", testAK)
		t.Setenv("HUAWEICLOUD_SDK_SK", testSK)
		t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", testProject)
		t.Setenv("OS_COMPUTE_ENDPOINT_OVERRIDE", simURL+"/v2.1/{project_id}")
		base, _ := startExporter(t)
		checkImages(t, scrape(t, base+"/metrics"))
		requests := sim.Requests()[before:]
		if len(requests) != 1 || !strings.HasPrefix(requests[0].Header.Get("Authorization"), "SDK-HMAC-SHA256 Access="+testAK) {
			t.Errorf("want one signed request, got %d", len(requests))
		}
	})
}

// The simulator and the exporter share a fake clock, moved on between scrapes: 7s of it
// pass in no time.
func TestTokenExpiringMidRunIsRenewedWithoutAFailedScrape(t *testing.T) {
	clock := simtest.NewClock(time.Now())
	sim, simURL := authSimulator(t, simulator.Options{TokenTTL: 3 * time.Second, Now: clock.Now})
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  sim:
    auth: {auth_url: %s/v3, username: demo, password: %s, user_domain_name: Default, project_name: demo, project_domain_name: Default}
`, simURL, testPassword))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, _ := startExporterWithClock(t, clock.Now, "--cloud=sim")
	deadline := clock.Now().Add(7 * time.Second)
	scrapes := 0
	for clock.Now().Before(deadline) {
		families := scrape(t, base+"/metrics")
		if up, _ := value(families, "nova_up", nil); up != 1 {
			t.Fatalf("scrape %d failed while the token expired under it", scrapes)
		}
		scrapes++
		clock.Advance(250 * time.Millisecond)
	}
	if n := sim.TokenRequests(); n < 2 {
		t.Errorf("%d token requests over 7s of 3s tokens, want renewals", n)
	}
	if requests := len(sim.Requests()); requests != scrapes {
		t.Errorf("%d images requests for %d scrapes: some were refused and retried instead of renewed before expiry", requests, scrapes)
	}
}

func TestTLSTowardsTheCloud(t *testing.T) {
	ca, err := simtest.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Options{Images: simulator.DefaultImages(testNow)})
	serve := func(requireClientCert bool) string {
		cfg, err := ca.ServerTLSConfig(requireClientCert)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(sim)
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are expected
		srv.TLS = cfg
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile := write("ca.pem", ca.CertPEM())
	certPEM, keyPEM, err := ca.IssueClientCert("nova-image-exporter")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := write("client.pem", certPEM), write("client-key.pem", keyPEM)
	httpsURL, mtlsURL := serve(false), serve(true)
	entry := func(name, url, tls string) string {
		return fmt.Sprintf(`  %s:
    auth: {auth_url: %s/v3, username: demo, password: %s, user_domain_name: Default, project_name: demo, project_domain_name: Default}
%s
`, name, url, testPassword, tls)
	}
	clouds := writeClouds(t, "clouds:\n"+
		entry("cacert", httpsURL, "    cacert: "+caFile)+
		entry("untrusted", httpsURL, "")+
		entry("insecure", httpsURL, "    verify: false")+
		entry("mtls", mtlsURL, fmt.Sprintf("    cacert: %s\n    cert: %s\n    key: %s", caFile, certFile, keyFile))+
		entry("mtls-no-cert", mtlsURL, "    cacert: "+caFile))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	for _, tt := range []struct {
		cloud   string
		up      float64
		wantLog string
	}{
		{"cacert", 1, ""},
		{"untrusted", 0, "certificate signed by unknown authority"},
		{"insecure", 1, "level=warn"},
		{"mtls", 1, ""},
		{"mtls-no-cert", 0, "identity service unreachable or failing"},
	} {
		t.Run(tt.cloud, func(t *testing.T) {
			base, logs := startExporter(t, "--cloud="+tt.cloud)
			families := scrape(t, base+"/metrics")
			if up, _ := value(families, "nova_up", nil); up != tt.up {
				t.Errorf("nova_up = %v, want %v\n%s", up, tt.up, logs)
			}
			if tt.up == 1 {
				checkImages(t, families)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, logs)
			}
		})
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	sim, _ := authSimulator(t, simulator.Options{})
	var proxied []string
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied = append(proxied, r.URL.Host)
		mu.Unlock()
		sim.ServeHTTP(w, r) // a forward proxy reaching the cloud
	}))
	t.Cleanup(proxy.Close)
	clouds := writeClouds(t, fmt.Sprintf(`clouds:
  behind-proxy:
    auth_type: token
    auth: {token: %s, project_id: %s}
    compute_endpoint_override: http://nova.example.invalid:8774/v2.1/{project_id}
`, sim.IssueToken(), testProject))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("HTTPS_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")

	base, _ := startExporter(t, "--cloud=behind-proxy")
	checkImages(t, scrape(t, base+"/metrics"))
	mu.Lock()
	if len(proxied) != 1 || proxied[0] != "nova.example.invalid:8774" {
		t.Errorf("proxy saw %v, want one request for nova.example.invalid:8774", proxied)
	}
	mu.Unlock()

	t.Setenv("NO_PROXY", "nova.example.invalid")
	base, _ = startExporter(t, "--cloud=behind-proxy")
	if up, _ := value(scrape(t, base+"/metrics"), "nova_up", nil); up != 0 {
		t.Errorf("nova_up = %v with NO_PROXY naming the host (unresolvable directly), want 0", up)
	}
}
