package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

func TestGophercloudAuth(t *testing.T) {
	tests := []struct {
		name string
		opts func(url string, sim *Simulator) gophercloud.AuthOptions
	}{
		{"project name and domain name", func(u string, _ *Simulator) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u + "/v3", Username: "demo", Password: "demo-secret", DomainName: "Default", TenantName: "demo"}
		}},
		{"project id, domain id", func(u string, _ *Simulator) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u + "/v3/", Username: "demo", Password: "demo-secret", DomainID: "default", TenantID: proj}
		}},
		{"version discovery from root", func(u string, _ *Simulator) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u, Username: "demo", Password: "demo-secret", DomainName: "Default", TenantName: "demo"}
		}},
		{"existing token", func(u string, sim *Simulator) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u + "/v3", TokenID: sim.IssueToken()}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, _ := newTest(t, Options{})
			ctx := context.Background()
			provider, err := openstack.AuthenticatedClient(ctx, tc.opts(srv.URL, sim))
			if err != nil {
				t.Fatalf("AuthenticatedClient: %v", err)
			}
			compute, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{Region: "RegionOne"})
			if err != nil {
				t.Fatalf("NewComputeV2: %v", err)
			}
			if want := srv.URL + "/v2.1/" + proj + "/"; compute.Endpoint != want {
				t.Errorf("compute endpoint %q, want %q", compute.Endpoint, want)
			}
			if _, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{Region: "OtherRegion"}); err == nil {
				t.Errorf("endpoint found in a region that does not exist")
			}
			// The token works against Nova.
			r := do(t, "GET", compute.Endpoint+"images/detail", provider.Token(), nil, "")
			if got := len(decodePage(t, r).Images); got != len(DefaultImages(testNow)) {
				t.Errorf("got %d images", got)
			}
		})
	}
}

func TestKeystoneTokens(t *testing.T) {
	body := func(user, domain, password, scope string) string {
		return `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"` + user +
			`","domain":{"name":"` + domain + `"},"password":"` + password + `"}}},"scope":` + scope + `}}`
	}
	scopeName := `{"project":{"name":"demo","domain":{"name":"Default"}}}`
	const unauth = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	tests := []struct {
		name     string
		body     string
		code     int
		wantBody string
	}{
		{"good by name", body("demo", "Default", "demo-secret", scopeName), 201, ""},
		{"good by project id", body("demo", "Default", "demo-secret", `{"project":{"id":"`+proj+`"}}`), 201, ""},
		{"wrong password", body("demo", "Default", "nope", scopeName), 401, unauth},
		{"wrong user", body("eve", "Default", "demo-secret", scopeName), 401, unauth},
		{"wrong user domain", body("demo", "Other", "demo-secret", scopeName), 401, unauth},
		{"wrong project", body("demo", "Default", "demo-secret", `{"project":{"name":"other","domain":{"name":"Default"}}}`), 401, unauth},
		{"wrong project id", body("demo", "Default", "demo-secret", `{"project":{"id":"ffff"}}`), 401, unauth},
		{"malformed", `{"auth":`, 400, ""},
		{"no identity", `{"auth":{}}`, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, _ := newTest(t, Options{})
			r := do(t, "POST", srv.URL+"/v3/auth/tokens", "", map[string]string{"Content-Type": "application/json"}, tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.body)
			}
			if !regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(r.header.Get("x-openstack-request-id")) {
				t.Errorf("request id %q", r.header.Get("x-openstack-request-id"))
			}
			if tc.wantBody != "" && string(r.body) != tc.wantBody {
				t.Errorf("body %s, want %s", r.body, tc.wantBody)
			}
			if tc.code == 400 {
				var e struct {
					Error struct {
						Code    int
						Title   string
						Message string
					}
				}
				if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Code != 400 || e.Error.Title != "Bad Request" || e.Error.Message == "" {
					t.Errorf("bad request body %s", r.body)
				}
			}
			if tc.code != 201 {
				if sim.TokenRequests() != 0 {
					t.Errorf("TokenRequests = %d", sim.TokenRequests())
				}
				return
			}
			if sim.TokenRequests() != 1 {
				t.Errorf("TokenRequests = %d", sim.TokenRequests())
			}
			tok := r.header.Get("X-Subject-Token")
			if tok == "" {
				t.Fatal("no X-Subject-Token")
			}
			var tb struct {
				Token struct {
					Methods   []string `json:"methods"`
					ExpiresAt string   `json:"expires_at"`
					IssuedAt  string   `json:"issued_at"`
					Project   struct{ ID, Name string }
					Roles     []struct{ ID, Name string }
					Catalog   []struct {
						Type, Name string
						Endpoints  []struct {
							Interface, Region, URL string
							RegionID               string `json:"region_id"`
						}
					}
				}
			}
			if err := json.Unmarshal(r.body, &tb); err != nil {
				t.Fatal(err)
			}
			exp, err := time.Parse("2006-01-02T15:04:05.000000Z", tb.Token.ExpiresAt)
			if err != nil || time.Until(exp) < 59*time.Minute || time.Until(exp) > 61*time.Minute {
				t.Errorf("expires_at %q (%v)", tb.Token.ExpiresAt, err)
			}
			if tb.Token.Project.ID != proj || tb.Token.Project.Name != "demo" || !slices.Equal(tb.Token.Methods, []string{"password"}) {
				t.Errorf("token %+v", tb.Token)
			}
			var ifaces []string
			for _, c := range tb.Token.Catalog {
				if c.Type != "compute" {
					continue
				}
				for _, e := range c.Endpoints {
					ifaces = append(ifaces, e.Interface)
					if e.URL != srv.URL+"/v2.1/"+proj || e.Region != "RegionOne" || e.RegionID != "RegionOne" {
						t.Errorf("endpoint %+v", e)
					}
				}
			}
			if !slices.Equal(ifaces, []string{"public", "internal", "admin"}) {
				t.Errorf("compute interfaces %v", ifaces)
			}
			if got := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, ""); got.code != 200 {
				t.Errorf("issued token rejected: %d", got.code)
			}
		})
	}
}

func TestKeystoneVersionDocuments(t *testing.T) {
	_, srv, _ := newTest(t, Options{})
	r := do(t, "GET", srv.URL+"/v3", "", nil, "")
	var v struct {
		Version struct {
			ID, Status string
			Links      []struct{ Rel, Href string }
		}
	}
	if err := json.Unmarshal(r.body, &v); err != nil || r.code != 200 {
		t.Fatalf("%d %s %v", r.code, r.body, err)
	}
	if v.Version.ID != "v3.14" || v.Version.Status != "stable" || len(v.Version.Links) != 1 || v.Version.Links[0].Href != srv.URL+"/v3/" {
		t.Errorf("version %+v", v)
	}
	r = do(t, "GET", srv.URL+"/", "", nil, "")
	if r.code != 300 || !bytes.Contains(r.body, []byte(`{"versions": {"values": [{`)) {
		t.Errorf("root: %d %s", r.code, r.body)
	}
}

func TestUnauthorized(t *testing.T) {
	const unauth = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	clock := simtest.NewClock(testNow)
	tests := []struct {
		name  string
		token func(sim *Simulator) string
	}{
		{"no token", func(*Simulator) string { return "" }},
		{"unknown token", func(*Simulator) string { return "not-a-valid-token" }},
		{"revoked token", func(sim *Simulator) string {
			tok := sim.IssueToken()
			sim.RevokeTokens()
			return tok
		}},
		{"expired token", func(sim *Simulator) string {
			tok := sim.IssueToken()
			clock.Advance(30 * time.Millisecond)
			return tok
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := Options{}
			if tc.name == "expired token" {
				opts.TokenTTL = 10 * time.Millisecond
				opts.Now = clock.Now
			}
			sim, srv, _ := newTest(t, opts)
			tok := tc.token(sim)
			r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, "")
			if r.code != 401 || string(r.body) != unauth {
				t.Fatalf("got %d %s", r.code, r.body)
			}
			if got, want := r.header.Get("WWW-Authenticate"), `Keystone uri="`+srv.URL+`"`; got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
			if r.header.Get("x-openstack-request-id") == "" || r.header.Get("x-openstack-request-id") != r.header.Get("x-compute-request-id") {
				t.Errorf("request ids %v", r.header)
			}
		})
	}
	// A fresh token after revocation works again.
	sim, srv, tok := newTest(t, Options{})
	sim.RevokeTokens()
	if r := do(t, "GET", srv.URL+"/v2.1/images/detail", tok, nil, ""); r.code != 401 {
		t.Errorf("revoked: %d", r.code)
	}
	if r := do(t, "GET", srv.URL+"/v2.1/images/detail", sim.IssueToken(), nil, ""); r.code != 200 {
		t.Errorf("new token: %d", r.code)
	}
}

var testAppCreds = []ApplicationCredential{
	{ID: "5b1c0b2a9f8e4d7c6b5a49382716f0e1", Name: "exporter", Secret: "app-cred-secret"},
	{ID: "6c2d1c3b0a9f4e8d7c6b5a4938271601", Name: "other", Secret: "other-secret"},
}

func TestApplicationCredentialGophercloud(t *testing.T) {
	tests := []struct {
		name string
		opts func(u string) gophercloud.AuthOptions
	}{
		{"by id", func(u string) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u + "/v3", ApplicationCredentialID: testAppCreds[0].ID, ApplicationCredentialSecret: "app-cred-secret"}
		}},
		{"by name, user name and domain", func(u string) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u + "/v3", ApplicationCredentialName: "exporter", ApplicationCredentialSecret: "app-cred-secret", Username: "demo", DomainName: "Default"}
		}},
		{"by name and user id", func(u string) gophercloud.AuthOptions {
			return gophercloud.AuthOptions{IdentityEndpoint: u + "/v3", ApplicationCredentialName: "other", ApplicationCredentialSecret: "other-secret", UserID: userID}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, _ := newTest(t, Options{ApplicationCredentials: testAppCreds})
			provider, err := openstack.AuthenticatedClient(context.Background(), tc.opts(srv.URL))
			if err != nil {
				t.Fatalf("AuthenticatedClient: %v", err)
			}
			compute, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{Region: "RegionOne"})
			if err != nil {
				t.Fatalf("NewComputeV2: %v", err)
			}
			r := do(t, "GET", compute.Endpoint+"images/detail", provider.Token(), nil, "")
			if got := len(decodePage(t, r).Images); got != len(DefaultImages(testNow)) {
				t.Errorf("got %d images", got)
			}
			if sim.TokenRequests() != 1 {
				t.Errorf("TokenRequests = %d", sim.TokenRequests())
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		_, srv, _ := newTest(t, Options{ApplicationCredentials: testAppCreds})
		_, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{
			IdentityEndpoint: srv.URL + "/v3", ApplicationCredentialID: testAppCreds[0].ID, ApplicationCredentialSecret: "nope",
		})
		if !gophercloud.ResponseCodeIs(err, http.StatusUnauthorized) {
			t.Errorf("err %v, want a 401", err)
		}
	})
}

func TestApplicationCredentialTokens(t *testing.T) {
	const unauth = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	const scoped = `{"error": {"code": 401, "title": "Unauthorized", "message": "Error authenticating with application credential: Application credentials cannot request a scope."}}`
	body := func(cred, scope string) string {
		b := `{"auth":{"identity":{"methods":["application_credential"],"application_credential":` + cred + `}`
		if scope != "" {
			b += `,"scope":` + scope
		}
		return b + `}}`
	}
	byID := `{"id":"` + testAppCreds[0].ID + `","secret":"app-cred-secret"}`
	tests := []struct {
		name     string
		body     string
		code     int
		wantBody string
	}{
		{"by id", body(byID, ""), 201, ""},
		{"by id, null scope", body(byID, "null"), 201, ""},
		{"by name and user", body(`{"name":"exporter","secret":"app-cred-secret","user":{"name":"demo","domain":{"name":"Default"}}}`, ""), 201, ""},
		{"by name and user, domain id", body(`{"name":"exporter","secret":"app-cred-secret","user":{"name":"demo","domain":{"id":"default"}}}`, ""), 201, ""},
		{"by name and user id", body(`{"name":"exporter","secret":"app-cred-secret","user":{"id":"`+userID+`"}}`, ""), 201, ""},
		{"with a project scope", body(byID, `{"project":{"id":"`+proj+`"}}`), 401, scoped},
		{"wrong secret", body(`{"id":"`+testAppCreds[0].ID+`","secret":"other-secret"}`, ""), 401, unauth},
		{"another credential's secret by name", body(`{"name":"other","secret":"app-cred-secret","user":{"id":"`+userID+`"}}`, ""), 401, unauth},
		{"unknown id", body(`{"id":"0000","secret":"app-cred-secret"}`, ""), 401, unauth},
		{"name without user", body(`{"name":"exporter","secret":"app-cred-secret"}`, ""), 401, unauth},
		{"name with another user", body(`{"name":"exporter","secret":"app-cred-secret","user":{"name":"eve","domain":{"name":"Default"}}}`, ""), 401, unauth},
		{"name with the wrong user domain", body(`{"name":"exporter","secret":"app-cred-secret","user":{"name":"demo","domain":{"name":"Other"}}}`, ""), 401, unauth},
		{"no secret", body(`{"id":"`+testAppCreds[0].ID+`"}`, ""), 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sim, srv, _ := newTest(t, Options{ApplicationCredentials: testAppCreds})
			r := do(t, "POST", srv.URL+"/v3/auth/tokens", "", map[string]string{"Content-Type": "application/json"}, tc.body)
			if r.code != tc.code {
				t.Fatalf("status %d, want %d: %s", r.code, tc.code, r.body)
			}
			if tc.wantBody != "" && string(r.body) != tc.wantBody {
				t.Errorf("body %s\nwant %s", r.body, tc.wantBody)
			}
			if tc.code != 201 {
				if sim.TokenRequests() != 0 {
					t.Errorf("TokenRequests = %d", sim.TokenRequests())
				}
				return
			}
			var tb struct {
				Token struct {
					Methods               []string `json:"methods"`
					Project               struct{ ID string }
					ApplicationCredential *struct {
						ID         string `json:"id"`
						Name       string `json:"name"`
						Restricted *bool  `json:"restricted"`
					} `json:"application_credential"`
					Catalog []struct{ Type string }
				}
			}
			if err := json.Unmarshal(r.body, &tb); err != nil {
				t.Fatal(err)
			}
			ac := tb.Token.ApplicationCredential
			if !slices.Equal(tb.Token.Methods, []string{"application_credential"}) || tb.Token.Project.ID != proj ||
				ac == nil || ac.ID != testAppCreds[0].ID || ac.Name != "exporter" || ac.Restricted == nil || !*ac.Restricted ||
				len(tb.Token.Catalog) == 0 {
				t.Errorf("token %s", r.body)
			}
			tok := r.header.Get("X-Subject-Token")
			if got := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, ""); got.code != 200 {
				t.Errorf("token rejected by Nova: %d", got.code)
			}
			// Validating it shows the application credential too.
			v := do(t, "GET", srv.URL+"/v3/auth/tokens", tok, map[string]string{"X-Subject-Token": tok}, "")
			if v.code != 200 || !json.Valid(v.body) || !strings.Contains(string(v.body), `"application_credential": {"id": "`+testAppCreds[0].ID+`", "name": "exporter", "restricted": true}`) {
				t.Errorf("validation %d %s", v.code, v.body)
			}
		})
	}
	// Password tokens carry no application_credential.
	_, srv, _ := newTest(t, Options{ApplicationCredentials: testAppCreds})
	r := do(t, "POST", srv.URL+"/v3/auth/tokens", "", nil,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"`+userID+`","password":"demo-secret"}}},"scope":{"project":{"id":"`+proj+`"}}}}`)
	if r.code != 201 || strings.Contains(string(r.body), "application_credential") {
		t.Errorf("password token %d %s", r.code, r.body)
	}
}

func TestTokenExpiryUsesClock(t *testing.T) {
	clock := simtest.NewClock(testNow)
	sim, srv, _ := newTest(t, Options{Now: clock.Now, TokenTTL: time.Hour})
	r := do(t, "POST", srv.URL+"/v3/auth/tokens", "", nil,
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"`+userID+`","password":"demo-secret"}}},"scope":{"project":{"id":"`+proj+`"}}}}`)
	var tb struct {
		Token struct {
			ExpiresAt string `json:"expires_at"`
			IssuedAt  string `json:"issued_at"`
		}
	}
	if err := json.Unmarshal(r.body, &tb); err != nil || r.code != 201 {
		t.Fatalf("%d %s %v", r.code, r.body, err)
	}
	if tb.Token.IssuedAt != "2026-11-28T20:00:00.000000Z" || tb.Token.ExpiresAt != "2026-11-28T21:00:00.000000Z" {
		t.Errorf("issued %s expires %s", tb.Token.IssuedAt, tb.Token.ExpiresAt)
	}
	tok := r.header.Get("X-Subject-Token")
	issued := sim.IssueToken()
	u := srv.URL + "/v2.1/" + proj + "/images/detail"
	clock.Advance(59 * time.Minute)
	for _, tk := range []string{tok, issued} {
		if r := do(t, "GET", u, tk, nil, ""); r.code != 200 {
			t.Errorf("before expiry: %d", r.code)
		}
	}
	clock.Advance(time.Minute)
	for _, tk := range []string{tok, issued} {
		if r := do(t, "GET", u, tk, nil, ""); r.code != 401 {
			t.Errorf("at expiry: %d", r.code)
		}
	}
	// RevokeTokens still works with a custom clock.
	fresh := sim.IssueToken()
	sim.RevokeTokens()
	if r := do(t, "GET", u, fresh, nil, ""); r.code != 401 {
		t.Errorf("revoked: %d", r.code)
	}
}

func TestTokenExpiryOptions(t *testing.T) {
	expiresAt := func(r response) time.Time {
		var body struct {
			Token struct {
				ExpiresAt time.Time `json:"expires_at"`
			} `json:"token"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		return body.Token.ExpiresAt
	}
	images := func(srv string, r response) int {
		return do(t, "GET", srv+"/v2.1/"+proj+"/images/detail", r.header.Get("X-Subject-Token"), nil, "").code
	}
	_, srv, _ := newTest(t, Options{Now: func() time.Time { return testNow }, ExpiresAtShift: -2 * time.Hour})
	r := postToken(t, srv.URL)
	if got := expiresAt(r); !got.Equal(testNow.Add(-time.Hour)) || images(srv.URL, r) != 200 {
		t.Errorf("ExpiresAtShift: expires_at %v, want an hour ago, and the token still accepted", got)
	}
	_, srv, _ = newTest(t, Options{Now: func() time.Time { return testNow }, ExpiredTokens: true})
	r = postToken(t, srv.URL)
	if got := expiresAt(r); !got.Before(testNow) || images(srv.URL, r) != 401 {
		t.Errorf("ExpiredTokens: expires_at %v, want past, and the token refused", got)
	}
}
