package cloud

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// keystoneClient is a Client authenticating as the simulator's user at authURL, with its
// Keystone authenticator.
func keystoneClient(authURL, password string, timeout time.Duration, opts client.Options) (*nova.Client, *Keystone) {
	auth := NewKeystone(gophercloud.AuthOptions{
		IdentityEndpoint: authURL + "/v3",
		Username:         "demo",
		Password:         password,
		DomainName:       "Default",
		Scope:            &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
	}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, client.NewHTTPClient(timeout, nil))
	return nova.New(auth, opts), auth
}

// failureKind says which of AuthError and IdentityError err is: "refused", "identity",
// "both" or "other".
func failureKind(err error) string {
	var authErr *client.AuthError
	var identityErr *client.IdentityError
	isAuth, isIdentity := errors.As(err, &authErr), errors.As(err, &identityErr)
	switch {
	case isAuth && isIdentity:
		return "both"
	case isAuth:
		return "refused"
	case isIdentity:
		return "identity"
	}
	return "other"
}

func TestIdentityServiceFailuresAreNotRefusals(t *testing.T) {
	sim := simulator.New(simulator.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close() // nothing listens there any more: connection refused

	for _, tt := range []struct {
		name     string
		url      string
		password string
		fault    simulator.Fault
		want     string
		wantText string // or any of several, separated by "|"
	}{
		{"wrong password", srv.URL, "wrong-password", simulator.Fault{}, "refused", "HTTP 401"},
		{"403", srv.URL, "demo-secret", simulator.Fault{Status: http.StatusForbidden}, "refused", "HTTP 403"},
		{"503", srv.URL, "demo-secret", simulator.Fault{Status: http.StatusServiceUnavailable}, "identity", "HTTP 503"},
		{"500", srv.URL, "demo-secret", simulator.Fault{Status: http.StatusInternalServerError}, "identity", "HTTP 500"},
		{"429", srv.URL, "demo-secret", simulator.Fault{Status: http.StatusTooManyRequests}, "identity", "HTTP 429"},
		{"502 from a proxy", srv.URL, "demo-secret", simulator.Fault{Status: http.StatusBadGateway}, "identity", "unrecognised body (text/html"},
		{"malformed answer", srv.URL, "demo-secret", simulator.Fault{Garbage: true}, "identity", "authenticating to"},
		{"captive portal", srv.URL, "demo-secret", simulator.Fault{HTML: true}, "identity", "authenticating to"},
		// net/http words a client timeout in several ways, depending on which bound fires first.
		{"timeout", srv.URL, "demo-secret", simulator.Fault{Hang: true}, "identity", "Client.Timeout|timeout awaiting response headers|deadline exceeded"},
		{"connection refused", refusedURL, "demo-secret", simulator.Fault{}, "identity", "connection refused"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sim.SetKeystoneFaults(func(int, *http.Request) simulator.Fault { return tt.fault })
			t.Cleanup(func() { sim.SetKeystoneFaults(nil) })
			// The timeout case: the HTTP client's own bound ends the hanging request.
			c, _ := keystoneClient(tt.url, tt.password, 200*time.Millisecond, client.Options{})
			_, err := client.Collect(context.Background(), c, client.ListOptions{})
			if kind := failureKind(err); kind != tt.want {
				t.Errorf("error %v is %q, want %q", err, kind, tt.want)
			}
			if err == nil || !slices.ContainsFunc(strings.Split(tt.wantText, "|"), func(want string) bool { return strings.Contains(err.Error(), want) }) {
				t.Errorf("error %v, want it to say %q", err, tt.wantText)
			}
		})
	}
}

func TestRenewalFailingOnTheIdentityServiceIsNotARefusal(t *testing.T) {
	sim := simulator.New(simulator.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, _ := keystoneClient(srv.URL, "demo-secret", 5*time.Second, client.Options{})
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	sim.RevokeTokens()
	sim.SetKeystoneFaults(func(int, *http.Request) simulator.Fault {
		return simulator.Fault{Status: http.StatusServiceUnavailable}
	})
	_, err := client.Collect(context.Background(), c, client.ListOptions{})
	if kind := failureKind(err); kind != "identity" || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "HTTP 503") {
		t.Errorf("error %v (%s), want an identity error giving the API's 401 and Keystone's 503", err, kind)
	}
}

// expiringTokens runs listings of the simulator's 9 images, one per page, against a
// Keystone configured by opts whose clock, shared with the client's, advances by perPage on
// every images request; it returns the token requests each listing made and the last error.
func expiringTokens(t *testing.T, opts simulator.Options, perPage time.Duration, listings int) ([]int, error) {
	t.Helper()
	clock := simtest.NewClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	opts.Now = clock.Now
	sim := simulator.New(opts)
	sim.SetFaults(func(int, *http.Request) simulator.Fault {
		clock.Advance(perPage)
		return simulator.Fault{}
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	c, k := keystoneClient(srv.URL, "demo-secret", 5*time.Second, client.Options{})
	k.now = clock.Now
	var perListing []int
	var err error
	for range listings {
		before := sim.TokenRequests()
		var images []client.Image
		images, err = client.Collect(context.Background(), c, client.ListOptions{PageSize: 1})
		if err == nil && len(images) != 9 {
			t.Errorf("%d images, want 9", len(images))
		}
		perListing = append(perListing, sim.TokenRequests()-before)
	}
	return perListing, err
}

func TestTokensExpiredOnArrivalAreNotRenewedPerPage(t *testing.T) {
	// Keystone's clock is two hours behind: every token looks expired, and works.
	perListing, err := expiringTokens(t, simulator.Options{ExpiresAtShift: -2 * time.Hour}, time.Second, 3)
	if err != nil {
		t.Fatal(err)
	}
	if perListing[0] != 1 || perListing[1] != 0 || perListing[2] != 0 {
		t.Errorf("token requests per listing of 10 pages: %v, want [1 0 0] (renewing cannot help)", perListing)
	}
}

func TestTokensExpiringAtOnceAreRenewedOncePerListing(t *testing.T) {
	// Tokens that look valid for 10 s (Keystone's clock is off), while a page takes 5 s:
	// every page finds the token about to expire.
	perListing, err := expiringTokens(t, simulator.Options{ExpiresAtShift: 10*time.Second - time.Hour}, 5*time.Second, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The first listing authenticates and renews once; the second renews once.
	if perListing[0] > 2 || perListing[1] > 1 {
		t.Errorf("token requests per listing of 10 pages: %v, want at most [2 1]", perListing)
	}
}

func TestTokensIssuedExpiredFailWithTheReason(t *testing.T) {
	perListing, err := expiringTokens(t, simulator.Options{ExpiredTokens: true}, time.Second, 2)
	if kind := failureKind(err); kind != "refused" || !strings.Contains(err.Error(), "already expired") ||
		!strings.Contains(err.Error(), "clocks") {
		t.Errorf("error %v (%s), want a refusal saying that Keystone's tokens have already expired", err, kind)
	}
	if perListing[0] > 2 || perListing[1] > 1 {
		t.Errorf("token requests per failed listing: %v, want at most [2 1]", perListing)
	}
}
