package simulator

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

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
