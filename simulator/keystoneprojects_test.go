package simulator

import (
	"bytes"
	"os"
	"testing"
)

// TestKeystoneProjectsAsReal compares GET /v3/projects with the real Keystone Zed's answers
// (testdata/realkeystone, from the realstack) byte for byte: every project to the admin,
// 403 to a member, 401 to a token it does not know.
func TestKeystoneProjectsAsReal(t *testing.T) {
	realstack := Options{
		ProjectID: "16d614b50c694c56b057901bf2e92ab3", ProjectName: "admin",
		Projects: []Project{
			{ID: "5f52b7e6fb55451bb45affb52953b85c", Name: "service", DomainID: "default", Description: "service users"},
			{ID: "80ebb3bff8f0407cae3a6008cd991bdf", Name: "demo", DomainID: "default", Description: "realstack test project"},
		},
	}
	for _, tc := range []struct {
		name  string
		admin bool
		token func(tok string) string
		code  int
		file  string
	}{
		{"admin", true, func(tok string) string { return tok }, 200, "projects-admin.json"},
		{"member", false, func(tok string) string { return tok }, 403, "projects-member.json"},
		{"unknown token", true, func(string) string { return "gAAAAAbogus" }, 401, "projects-401.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := realstack
			opts.Admin = tc.admin
			sim, srv, tok := newTest(t, opts)
			real, err := os.ReadFile("testdata/realkeystone/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			// The real answers name the realstack's Keystone; the simulator names itself.
			real = bytes.ReplaceAll(real, []byte("http://127.0.0.1:25000"), []byte(srv.URL))
			// The simulator's own project has no description.
			real = bytes.Replace(real, []byte(`"description": "Bootstrap project for initializing the cloud."`), []byte(`"description": ""`), 1)
			got := do(t, "GET", srv.URL+"/v3/projects", tc.token(tok), nil, "")
			if got.code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", got.code, tc.code, got.body)
			}
			if !bytes.Equal(got.body, real) {
				t.Errorf("answer\n%s\nwant the real\n%s", got.body, real)
			}
			if got.header.Get("Vary") != "X-Auth-Token" {
				t.Errorf("Vary %q", got.header.Get("Vary"))
			}
			if sim.ProjectRequests() != 1 {
				t.Errorf("%d project requests counted, want 1", sim.ProjectRequests())
			}
		})
	}
}
