package cloud

import (
	"bytes"
	"context"
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

// echoCase is an authenticator whose secrets a server echoes.
type echoCase struct {
	name    string
	auth    client.Authenticator
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
		{"password", NewKeystone(gophercloud.AuthOptions{
			IdentityEndpoint: srv.URL + "/v3", Username: "demo", Password: password, DomainName: "Default",
			Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
		}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, httpClient), []string{password}},
		{"application credential", NewKeystone(gophercloud.AuthOptions{
			IdentityEndpoint: srv.URL + "/v3", ApplicationCredentialID: "appcred-id", ApplicationCredentialSecret: appSecret,
		}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, httpClient), []string{appSecret}},
		{"token", &StaticToken{Token: staticToken, ComputeEndpoint: endpoint}, []string{staticToken}},
		{"aksk", &AKSK{AccessKey: ak, SecretKey: sk, ProjectID: project, ComputeEndpoint: endpoint}, []string{sk}},
	}
	for _, tc := range cases {
		_, keystone := tc.auth.(*Keystone)
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
				c := nova.New(tc.auth, client.Options{Logger: log.NewLogfmtLogger(&logs)})
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
					secrets = append(secrets, tc.auth.Secrets()...)
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
