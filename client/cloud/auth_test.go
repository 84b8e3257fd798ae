package cloud

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

func simulatorKeystone(t *testing.T, opts simulator.Options, password string) (*simulator.Simulator, *nova.Client) {
	t.Helper()
	sim := simulator.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	auth := NewKeystone(gophercloud.AuthOptions{
		IdentityEndpoint: srv.URL + "/v3",
		Username:         "demo",
		Password:         password,
		DomainName:       "Default",
		Scope:            &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
	}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, client.NewHTTPClient(5*time.Second, nil))
	auth.now = opts.Now // the simulator's clock is the client's too
	return sim, nova.New(auth, client.Options{})
}

func TestKeystoneReusesToken(t *testing.T) {
	sim, c := simulatorKeystone(t, simulator.Options{}, "demo-secret")
	for range 3 {
		if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := sim.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for 3 listings, want 1", n)
	}
	for _, r := range sim.Requests() {
		if !strings.HasPrefix(r.Path, "/v2.1/0123456789abcdef0123456789abcdef/images/detail") {
			t.Errorf("request to %s, want the catalog's compute endpoint", r.Path)
		}
	}
}

func TestKeystoneRenewsBeforeExpiry(t *testing.T) {
	clock := simtest.NewClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	sim, c := simulatorKeystone(t, simulator.Options{TokenTTL: 2 * time.Second, Now: clock.Now}, "demo-secret")
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	// Past three quarters of the token's life, the next listing renews it first instead
	// of risking a 401 halfway through.
	clock.Advance(1600 * time.Millisecond)
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := sim.TokenRequests(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
	if n := len(sim.Requests()); n != 2 {
		t.Errorf("%d images requests, want 2 (none refused)", n)
	}
}

func TestKeystoneConcurrentRenewalsShareOne(t *testing.T) {
	sim, c := simulatorKeystone(t, simulator.Options{}, "demo-secret")
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	sim.RevokeTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := sim.TokenRequests(); n != 2 {
		t.Errorf("%d token requests after a revocation seen by 8 listings, want 2", n)
	}
}

func TestKeystoneWrongPassword(t *testing.T) {
	sim, c := simulatorKeystone(t, simulator.Options{}, "wrong-secret-value")
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if err == nil || !strings.Contains(err.Error(), "authenticating to ") || !strings.Contains(err.Error(), " as demo") ||
		!strings.Contains(err.Error(), "401") {
		t.Fatalf("error %v, want an authentication failure naming the endpoint, the user and the status", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("error %q contains the password", err)
	}
	if n := len(sim.Requests()); n != 0 {
		t.Errorf("%d images requests without a token, want 0", n)
	}
}

func TestWithProjectID(t *testing.T) {
	for _, tt := range []struct{ endpoint, project, want string }{
		{"http://h/v2.1", "p", "http://h/v2.1/p"},
		{"http://h/v2.1/", "p", "http://h/v2.1/p"},
		{"http://h/v2.1/p", "p", "http://h/v2.1/p"},
		{"http://h/v2.1/%(project_id)s", "p", "http://h/v2.1/p"},
		{"https://ecs.r.myhuaweicloud.com/v2.1/{project_id}", "p", "https://ecs.r.myhuaweicloud.com/v2.1/p"},
		{"http://h/v2.1", "", "http://h/v2.1"},
	} {
		if got := withProjectID(tt.endpoint, tt.project); got != tt.want {
			t.Errorf("withProjectID(%q, %q) = %q, want %q", tt.endpoint, tt.project, got, tt.want)
		}
	}
}

// Keystone is told the same User-Agent as the images API: the exporter and its version.
func TestKeystoneSendsTheUserAgent(t *testing.T) {
	const userAgent = "nova_image_exporter/9.8.7"
	sim := simulator.New(simulator.Options{})
	var mu sync.Mutex
	userAgents := map[string]string{} // by path
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		userAgents[r.URL.Path] = r.Header.Get("User-Agent")
		mu.Unlock()
		sim.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	cfg := &Config{AuthType: AuthPassword, AuthOptions: gophercloud.AuthOptions{
		IdentityEndpoint: srv.URL + "/v3", Username: "demo", Password: "demo-secret", DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
	}, Endpoint: gophercloud.EndpointOpts{Region: "RegionOne"}}
	auth, opts, err := cfg.Connect(client.Options{UserAgent: userAgent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Collect(context.Background(), nova.New(auth, opts), client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, ok := userAgents["/v3/auth/tokens"]; !ok || len(userAgents) < 2 {
		t.Fatalf("requests %v, want Keystone's and Nova's", userAgents)
	}
	for path, got := range userAgents {
		if got != userAgent && !strings.HasPrefix(got, userAgent+" ") {
			t.Errorf("%s: User-Agent %q, want %q first", path, got, userAgent)
		}
	}
}
