//go:build integration

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// lockoutUser is the realstack's user of its own for this test (images.env): Keystone
// locks it after LOCKOUT_FAILURE_ATTEMPTS refused logins in a row
// ([security_compliance] lockout_failure_attempts).
type lockoutUser struct {
	name, id, password, adminPassword string
	attempts                          int
}

func loadLockoutUser(t *testing.T) lockoutUser {
	t.Helper()
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set: run scripts/realstack/up.sh and source its images.env (make test-integration does)", name)
		}
		return v
	}
	attempts, err := strconv.Atoi(env("LOCKOUT_FAILURE_ATTEMPTS"))
	if err != nil || attempts < 1 {
		t.Fatalf("LOCKOUT_FAILURE_ATTEMPTS=%q: want a positive number", os.Getenv("LOCKOUT_FAILURE_ATTEMPTS"))
	}
	return lockoutUser{name: env("LOCKOUT_USER"), id: env("LOCKOUT_USER_ID"), password: env("LOCKOUT_PASSWORD"),
		adminPassword: env("ADMIN_PASSWORD"), attempts: attempts}
}

// login asks Keystone for a token of user scoped to the project, without the exporter's
// code, and returns the status.
func (rs realstack) login(t *testing.T, user, password, project string) int {
	t.Helper()
	body := fmt.Sprintf(`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": %q, "domain": {"name": "Default"}, "password": %q}}},
		"scope": {"project": {"name": %q, "domain": {"name": "Default"}}}}}`, user, password, project)
	resp, err := httpClient.Post(rs.authURL+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("Keystone: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// unlock ends a lockout left by an earlier run, as an administrator does: Keystone resets
// a user's failed logins when it is (re-)enabled.
func (rs realstack) unlock(t *testing.T, u lockoutUser) {
	t.Helper()
	body := fmt.Sprintf(`{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "Default"}, "password": %q}}},
		"scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}`, u.adminPassword)
	resp, err := httpClient.Post(rs.authURL+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("admin token: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPatch, rs.authURL+"/users/"+u.id, strings.NewReader(`{"user": {"enabled": true}}`))
	req.Header.Set("X-Auth-Token", resp.Header.Get("X-Subject-Token"))
	req.Header.Set("Content-Type", "application/json")
	resp, err = httpClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("unlocking %s: %v %v", u.name, resp, err)
	}
	resp.Body.Close()
}

// TestIntegrationWrongPasswordNeverLocksTheUser runs the exporter with the lockout user's
// wrong password against the real Keystone, which locks a user after 3 refused logins in a
// row, and scrapes it 20 times in a row: each scrape answers nova_up 0, the back-off holds
// the password back after the first refusal, and the right password still logs in, with
// Keystone directly and through the exporter once clouds.yaml is fixed and reloaded.
func TestIntegrationWrongPasswordNeverLocksTheUser(t *testing.T) {
	rs := loadRealstack(t)
	u := loadLockoutUser(t)
	rs.unlock(t, u)
	if code := rs.login(t, u.name, u.password, rs.projectName); code != http.StatusCreated {
		t.Fatalf("the right password before the test: Keystone answered %d", code)
	}
	entry := func(password string) string {
		return fmt.Sprintf(`clouds:
  lockout:
    image_api: glance
    auth: {auth_url: %s, username: %s, password: %s, user_domain_name: Default, project_name: %s, project_domain_name: Default}
    region_name: RegionOne
    interface: public
`, rs.authURL, u.name, password, rs.projectName)
	}
	clouds := writeClouds(t, entry("not-"+u.password))
	t.Setenv("OS_CLIENT_CONFIG_FILE", clouds)
	base, logs := startExporter(t, "--cloud=lockout")

	const scrapes = 20
	for i := range scrapes {
		if up, _ := value(scrape(t, base+"/metrics"), "nova_up", nil); up != 0 {
			t.Fatalf("scrape %d: nova_up %v with a wrong password", i+1, up)
		}
	}
	own := scrape(t, base+"/metrics")
	refused, _ := value(own, "nova_image_exporter_auth_failures_total", map[string]string{"cloud": "lockout"})
	left, found := value(own, "nova_image_exporter_auth_backoff_seconds", map[string]string{"cloud": "lockout"})
	t.Logf("%d scrapes with a wrong password: %v refused logins, back-off %vs left", scrapes+1, refused, left)
	if refused < 1 || refused >= float64(u.attempts) {
		t.Errorf("%v refused logins in %d scrapes, want fewer than Keystone's %d that lock the user", refused, scrapes+1, u.attempts)
	}
	if !found || left <= 0 || left > 60 {
		t.Errorf("nova_image_exporter_auth_backoff_seconds %v (found %v), want the first minute's back-off", left, found)
	}

	if code := rs.login(t, u.name, u.password, rs.projectName); code != http.StatusCreated {
		t.Fatalf("the right password after %d scrapes with a wrong one: Keystone answered %d, want 201 (the user is locked)\nexporter log:\n%s", scrapes+1, code, logs)
	}
	if err := os.WriteFile(clouds, []byte(entry(u.password)), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %v %v\n%s", resp, err, logs)
	}
	resp.Body.Close()
	families := scrape(t, base+"/metrics")
	if up, _ := value(families, "nova_up", nil); up != 1 {
		t.Errorf("nova_up %v once the right password is reloaded, want 1\nexporter log:\n%s", up, logs)
	}
	if left, _ := value(families, "nova_image_exporter_auth_backoff_seconds", map[string]string{"cloud": "lockout"}); left != 0 {
		t.Errorf("back-off %vs after the reload, want 0", left)
	}
}
