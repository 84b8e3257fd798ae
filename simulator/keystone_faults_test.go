package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const passwordBody = `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"demo","domain":{"name":"Default"},"password":"demo-secret"}}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}`

func postToken(t *testing.T, u string) response {
	t.Helper()
	return do(t, "POST", u+"/v3/auth/tokens", "", map[string]string{"Content-Type": "application/json"}, passwordBody)
}

func TestKeystoneFaults(t *testing.T) {
	sim, srv, _ := newTest(t, Options{})
	sim.SetKeystoneFaults(func(n int, _ *http.Request) Fault {
		switch n {
		case 0:
			return Fault{Status: http.StatusServiceUnavailable, RetryAfter: "3"}
		case 1:
			return Fault{Status: http.StatusBadGateway}
		case 2:
			return Fault{Echo: true}
		case 3:
			return Fault{Garbage: true}
		}
		return Fault{}
	})
	r := postToken(t, srv.URL)
	if r.code != 503 || r.header.Get("Retry-After") != "3" || !strings.HasPrefix(string(r.body), `{"error": {"code": 503, "title": "Service Unavailable"`) {
		t.Errorf("503 fault: %d %v %s", r.code, r.header, r.body)
	}
	if r = postToken(t, srv.URL); r.code != 502 || !strings.Contains(string(r.body), "nginx") {
		t.Errorf("502 fault: %d %s", r.code, r.body)
	}
	r = postToken(t, srv.URL)
	if r.code != 401 || !strings.Contains(string(r.body), "demo-secret") || r.header.Get("x-openstack-request-id") != "demo-secret" {
		t.Errorf("echo fault: %d %v %s, want a 401 quoting the password", r.code, r.header, r.body)
	}
	if r = postToken(t, srv.URL); r.code != 201 || json.Valid(r.body) {
		t.Errorf("garbage fault: %d %q", r.code, r.body)
	}
	if r = postToken(t, srv.URL); r.code != 201 || sim.TokenRequests() != 1 {
		t.Errorf("after the plan: %d, %d token requests counted; want 201 and only it counted", r.code, sim.TokenRequests())
	}
	sim.SetKeystoneFaults(nil)
	if r = postToken(t, srv.URL); r.code != 201 {
		t.Errorf("plan removed: %d", r.code)
	}
}

func TestNovaEchoFault(t *testing.T) {
	sim, srv, tok := newTest(t, Options{})
	sim.SetFaults(func(int, *http.Request) Fault { return Fault{Echo: true, Status: http.StatusBadRequest} })
	r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, nil, "")
	if r.code != 400 || !strings.HasPrefix(string(r.body), `{"badRequest": {"code": 400, "message": "Invalid request (X-Auth-Token: `+tok) ||
		!strings.Contains(r.header.Get("x-openstack-request-id"), tok) {
		t.Errorf("echo fault: %d %v %s, want a 400 quoting the token", r.code, r.header, r.body)
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
