package cloud

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// echoCase is an authenticator whose secrets a server echoes: each subtest builds its own,
// for an authenticator holds back credentials refused a moment ago.
type echoCase struct {
	name    string
	newAuth func() client.Authenticator
	secrets []string // the configured secrets
}

func TestEchoedSecretsAreRedacted(t *testing.T) {
	const (
		password  = "demo-secret"
		appSecret = "appcred-secret-Zq8"
		ak, sk    = "QTWAOYTTINDUT2QVKYUC", "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc"
		project   = "0123456789abcdef0123456789abcdef"
	)
	sim := simulator.New(simulator.Options{
		ApplicationCredentials: []simulator.ApplicationCredential{{ID: "appcred-id", Name: "monitoring", Secret: appSecret}},
		AccessKeys:             []simulator.AccessKey{{AK: ak, SK: sk}},
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	httpClient := client.NewHTTPClient(5*time.Second, nil)
	endpoint := srv.URL + "/v2.1/" + project
	staticToken := sim.IssueToken()
	cases := []echoCase{
		{"password", func() client.Authenticator {
			return NewKeystone(gophercloud.AuthOptions{
				IdentityEndpoint: srv.URL + "/v3", Username: "demo", Password: password, DomainName: "Default",
				Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
			}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, httpClient)
		}, []string{password}},
		{"application credential", func() client.Authenticator {
			return NewKeystone(gophercloud.AuthOptions{
				IdentityEndpoint: srv.URL + "/v3", ApplicationCredentialID: "appcred-id", ApplicationCredentialSecret: appSecret,
			}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, httpClient)
		}, []string{appSecret}},
		{"token", func() client.Authenticator { return &StaticToken{Token: staticToken, ComputeEndpoint: endpoint} }, []string{staticToken}},
		{"aksk", func() client.Authenticator {
			return &AKSK{AccessKey: ak, SecretKey: sk, ProjectID: project, ComputeEndpoint: endpoint}
		}, []string{sk}},
	}
	for _, tc := range cases {
		_, keystone := tc.newAuth().(*Keystone)
		for _, fault := range []struct {
			name     string
			keystone bool
			fault    simulator.Fault
		}{
			{"keystone 401", true, simulator.Fault{Echo: true}},
			{"nova 401", false, simulator.Fault{Echo: true}},
			{"nova 400", false, simulator.Fault{Echo: true, Status: http.StatusBadRequest}},
		} {
			if fault.keystone && !keystone {
				continue
			}
			t.Run(tc.name+"/"+fault.name, func(t *testing.T) {
				echo := func(int, *http.Request) simulator.Fault { return fault.fault }
				if fault.keystone {
					sim.SetKeystoneFaults(echo)
				} else {
					sim.SetFaults(echo)
				}
				t.Cleanup(func() { sim.SetKeystoneFaults(nil); sim.SetFaults(nil) })
				var logs bytes.Buffer
				before := len(sim.Requests())
				auth := tc.newAuth()
				c := nova.New(auth, client.Options{Logger: log.NewLogfmtLogger(&logs)})
				_, err := client.Collect(context.Background(), c, client.ListOptions{})
				if err == nil {
					t.Fatal("the listing succeeded against a failing server")
				}
				exposed := err.Error() + logs.String()
				if !strings.Contains(exposed, client.Redacted) {
					t.Errorf("nothing client.Redacted in %q: did the server echo?", exposed)
				}
				secrets := append(requestSecrets(sim.Requests()[before:]), tc.secrets...)
				if keystone {
					secrets = append(secrets, auth.Secrets()...)
				}
				for _, secret := range secrets {
					if secret != "" && strings.Contains(exposed, secret) {
						t.Errorf("secret %q in the error or the debug log:\n%s", secret, exposed)
					}
				}
			})
		}
	}
}

var signature = regexp.MustCompile(`Signature=([0-9a-f]+)`)

// requestSecrets are the tokens and signatures that requests carried.
func requestSecrets(requests []simulator.RequestRecord) []string {
	var secrets []string
	for _, r := range requests {
		secrets = append(secrets, r.Header.Get("X-Auth-Token"))
		if m := signature.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			secrets = append(secrets, m[1])
		}
	}
	return secrets
}

// A catalog endpoint too long to use is quoted in the error without the secrets it holds:
// before, it was cut and quoted with only its user information removed.
func TestATooLongCatalogEndpointIsRedacted(t *testing.T) {
	const password = "s3cr3t-P4ssw0rd-of-the-monitoring-user"
	keystone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Subject-Token", "tok-1")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"token": map[string]any{
			"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"project":    map[string]any{"id": "p1", "name": "demo", "domain": map[string]any{"id": "default"}},
			"catalog": []any{map[string]any{"type": "image", "name": "glance", "endpoints": []any{map[string]any{
				"interface": "public", "region": "RegionOne", "region_id": "RegionOne",
				"url": "http://glance.example/" + password + "/" + strings.Repeat("a", client.MaxEndpointBytes)}}}},
		}})
	}))
	defer keystone.Close()
	k := NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: keystone.URL + "/v3", Username: "u", Password: password, DomainName: "Default", TenantName: "demo"},
		gophercloud.EndpointOpts{Region: "RegionOne"}, nil, client.NewHTTPClient(5*time.Second, nil))
	_, err := k.Endpoint(context.Background(), client.ServiceImage)
	if err == nil || strings.Contains(err.Error(), password[:8]) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("error: %v; want the endpoint refused without the password", err)
	}
}
