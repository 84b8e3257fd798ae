package cloud

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// otcProject is the project of the Open Telekom Cloud-like clouds of these tests.
const otcProject = "77b6a44cba5143ab91d13ab9a8ff44fd"

// otcIAM is a Keystone (the simulator's, on loopback) whose catalog lists Open Telekom
// Cloud's hosts in region eu-de, as OTC's own catalog does: its image service, type image,
// is the IMS host. It returns the identity URL.
func otcIAM(t *testing.T) string {
	t.Helper()
	sim := simulator.New(simulator.Options{
		ProjectID: otcProject, Region: "eu-de",
		CatalogURLs: map[string]string{
			client.ServiceImage:   "https://ims.eu-de.otc.t-systems.com",
			client.ServiceCompute: "https://ecs.eu-de.otc.t-systems.com/v2.1/" + otcProject,
		},
		ApplicationCredentials: []simulator.ApplicationCredential{{ID: "21dced0fd20347869b93710d2b98aae0", Secret: "appcred-secret-value"}},
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return srv.URL + "/v3"
}

// endpointsOf loads cloud from a clouds.yaml holding entries and returns the endpoint of
// each service its authenticator gives, or the error of the load or of the look-up.
func endpointsOf(t *testing.T, entries, cloud string, services ...string) ([]string, error) {
	t.Helper()
	t.Setenv("OS_REGION_NAME", "")
	cfg, err := LoadCloud(writeFile(t, t.TempDir(), "clouds.yaml", "clouds:\n"+entries), cloud)
	if err != nil {
		return nil, err
	}
	auth, err := cfg.Authenticator(client.Options{HTTPClient: client.NewHTTPClient(0, nil)})
	if err != nil {
		return nil, err
	}
	endpoints := make([]string, len(services))
	for i, service := range services {
		endpoint, err := auth.Endpoint(context.Background(), service)
		if err != nil {
			return nil, err
		}
		// gophercloud ends a catalog's endpoints with a slash; the image API clients take either.
		endpoints[i] = strings.TrimSuffix(endpoint, "/")
	}
	return endpoints, nil
}

// An OTC cloud with a password and region_name eu-de reaches the catalog's IMS host, not a
// Huawei Cloud host built from the region; an override still wins over the catalog.
func TestACatalogCloudTakesItsEndpointsFromTheCatalog(t *testing.T) {
	authURL := otcIAM(t)
	password := "    auth: {auth_url: " + authURL + ", username: demo, password: demo-secret, user_domain_name: Default, project_name: demo, project_domain_name: Default}\n"
	appcred := "    auth_type: v3applicationcredential\n    auth: {auth_url: " + authURL + ", application_credential_id: 21dced0fd20347869b93710d2b98aae0, application_credential_secret: appcred-secret-value}\n"
	for _, tt := range []struct {
		name, entry string
		want        [2]string // image, compute
	}{
		{"password, ims", "    image_api: ims\n    region_name: eu-de\n" + password,
			[2]string{"https://ims.eu-de.otc.t-systems.com", "https://ecs.eu-de.otc.t-systems.com/v2.1/" + otcProject}},
		{"password, glance", "    image_api: glance\n    region_name: eu-de\n" + password,
			[2]string{"https://ims.eu-de.otc.t-systems.com", "https://ecs.eu-de.otc.t-systems.com/v2.1/" + otcProject}},
		{"application credential, ims", "    image_api: ims\n    region_name: eu-de\n" + appcred,
			[2]string{"https://ims.eu-de.otc.t-systems.com", "https://ecs.eu-de.otc.t-systems.com/v2.1/" + otcProject}},
		{"password, overrides", "    image_api: ims\n    region_name: eu-de\n" + password +
			"    image_endpoint_override: https://ims.example.com\n    compute_endpoint_override: https://ecs.example.com/v2.1/{project_id}\n",
			[2]string{"https://ims.example.com", "https://ecs.example.com/v2.1/" + otcProject}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := endpointsOf(t, "  otc:\n"+tt.entry, "otc", client.ServiceImage, client.ServiceCompute)
			if err != nil || [2]string(got) != tt.want {
				t.Errorf("image and compute endpoints %q (err %v), want %q", got, err, tt.want)
			}
		})
	}
}

// A catalog without the image endpoint of the cloud's region names the override that
// replaces it.
func TestAMissingCatalogEndpointNamesTheOverride(t *testing.T) {
	entry := "  otc:\n    image_api: ims\n    region_name: eu-nl\n    auth: {auth_url: " + otcIAM(t) +
		", username: demo, password: demo-secret, user_domain_name: Default, project_name: demo, project_domain_name: Default}\n"
	_, err := endpointsOf(t, entry, "otc", client.ServiceImage)
	if err == nil || !strings.Contains(err.Error(), `region "eu-nl"`) || !strings.Contains(err.Error(), "image_endpoint_override") {
		t.Errorf("error %v, want one naming the region and image_endpoint_override", err)
	}
}

// An OTC AK/SK cloud reaches ims.eu-de.otc.t-systems.com with one domain key: every
// service's host is {service}.{region}.{cloud_domain}, myhuaweicloud.com by default, as the
// Huawei Terraform provider builds them from its cloud argument.
func TestAnAKSKCloudBuildsItsHostsFromItsDomain(t *testing.T) {
	for _, tt := range []struct{ domain, region, host string }{
		{"", "cn-north-4", "cn-north-4.myhuaweicloud.com"},
		{"otc.t-systems.com", "eu-de", "eu-de.otc.t-systems.com"},
		{"myhuaweicloud.eu", "eu-west-101", "eu-west-101.myhuaweicloud.eu"},
		{"hc.sbercloud.ru", "ru-moscow-1", "ru-moscow-1.hc.sbercloud.ru"},
		{"prod-cloud-ocb.orange-business.com", "eu-west-0", "eu-west-0.prod-cloud-ocb.orange-business.com"},
	} {
		for _, api := range []string{client.APIIMS, client.APIGlance, client.APINova} {
			t.Run(tt.host+"/"+api, func(t *testing.T) {
				entry := fmt.Sprintf("  c:\n    auth_type: aksk\n    image_api: %s\n    region_name: %s\n    cloud_domain: %q\n    auth: {ak: AK, sk: sk-secret-value, project_id: %s}\n",
					api, tt.region, tt.domain, otcProject)
				got, err := endpointsOf(t, entry, "c", client.ServiceImage, client.ServiceCompute)
				want := [2]string{"https://ims." + tt.host, "https://ecs." + tt.host + "/v2.1/" + otcProject}
				if err != nil || [2]string(got) != want {
					t.Errorf("image and compute endpoints %q (err %v), want %q", got, err, want)
				}
			})
		}
	}
}

// A pre-issued token has no catalog either: IMS's host is built the same way; the compute
// endpoint of a token, which may be any OpenStack's, is never guessed.
func TestATokenCloudBuildsOnlyTheIMSHost(t *testing.T) {
	entry := "  c:\n    auth_type: token\n    image_api: ims\n    region_name: eu-de\n    cloud_domain: otc.t-systems.com\n    auth: {token: pre-issued-token-value, project_id: p}\n"
	got, err := endpointsOf(t, entry, "c", client.ServiceImage)
	if err != nil || got[0] != "https://ims.eu-de.otc.t-systems.com" {
		t.Errorf("image endpoint %q (err %v)", got, err)
	}
	nova := strings.Replace(entry, "image_api: ims", "image_api: nova", 1)
	if _, err := endpointsOf(t, nova, "c", client.ServiceCompute); err == nil || !strings.Contains(err.Error(), "compute_endpoint_override is required") {
		t.Errorf("nova over a token: error %v, want compute_endpoint_override required", err)
	}
}

// cloud_domain goes into every host name: anything but a plain DNS name is refused, naming
// the key; on a cloud with a catalog it would be ignored, so it is refused too.
func TestCloudDomainIsAPlainDNSName(t *testing.T) {
	aksk := "  c:\n    auth_type: aksk\n    region_name: eu-de\n    auth: {ak: AK, sk: sk-secret-value, project_id: p}\n    cloud_domain: "
	for _, bad := range []string{"otc.t-systems.com/x", "https://otc.t-systems.com", "evil.example?x", "com", "a..b.com", "-a.example.com",
		"a-.example.com", "otc.t-systems.com.", "a b.com", strings.Repeat("a", 64) + ".com", strings.Repeat("abcdefghi.", 26) + "com"} {
		_, err := endpointsOf(t, aksk+fmt.Sprintf("%q\n", bad), "c")
		if err == nil || !strings.Contains(err.Error(), `cloud "c": cloud_domain "`) || !strings.Contains(err.Error(), "want a DNS name") ||
			strings.Contains(err.Error(), "sk-secret-value") {
			t.Errorf("cloud_domain %q: error %v", bad, err)
		}
	}
	password := "  c:\n    cloud_domain: otc.t-systems.com\n    auth: {auth_url: https://iam.eu-de.otc.t-systems.com/v3, username: u, password: p, user_domain_name: d, project_name: eu-de, project_domain_name: d}\n"
	if _, err := endpointsOf(t, password, "c"); err == nil || !strings.Contains(err.Error(), `cloud "c": cloud_domain names the hosts that auth_type aksk builds`) {
		t.Errorf("cloud_domain on a password cloud: error %v", err)
	}
}

// cloud_domain is a key the exporter reads (no unknown-key warning) and part of the
// fingerprint: a reload that changes it rebuilds the cloud's client.
func TestCloudDomainIsAKnownKeyOfTheFingerprint(t *testing.T) {
	t.Setenv("OS_REGION_NAME", "")
	entry := "clouds:\n  c:\n    auth_type: aksk\n    region_name: eu-de\n    auth: {ak: AK, sk: sk-secret-value, project_id: p}\n"
	dir := t.TempDir()
	fingerprints := map[string]bool{}
	for _, domain := range []string{"", "    cloud_domain: otc.t-systems.com\n", "    cloud_domain: myhuaweicloud.eu\n"} {
		clouds, err := ReadClouds(writeFile(t, dir, "clouds.yaml", entry+domain), nil)
		if err != nil {
			t.Fatal(err)
		}
		if unknown := clouds.UnknownKeys(); len(unknown) != 0 {
			t.Errorf("unknown keys %v", unknown)
		}
		cfg, err := clouds.Load("c")
		if err != nil {
			t.Fatal(err)
		}
		fingerprints[cfg.Fingerprint] = true
	}
	if len(fingerprints) != 3 {
		t.Errorf("%d fingerprints for 3 domains", len(fingerprints))
	}
}

// The AK/SK entries of examples/huawei/clouds.yaml reach the hosts their comments name.
func TestTheHuaweiExamplesReachTheirHosts(t *testing.T) {
	t.Setenv("OS_REGION_NAME", "")
	clouds, err := ReadClouds("../../examples/huawei/clouds.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"huawei-cn-north-4-ims": "https://ims.cn-north-4.myhuaweicloud.com",
		"huawei-eu-ims":         "https://ims.eu-west-101.myhuaweicloud.eu",
		"otc-eu-de-ims":         "https://ims.eu-de.otc.t-systems.com",
		"swiss-otc-ims":         "https://ims.eu-ch2.sc.otc.t-systems.com",
	} {
		cfg, err := clouds.Load(name)
		if err != nil {
			t.Fatal(err)
		}
		auth, err := cfg.Authenticator(client.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := auth.Endpoint(context.Background(), client.ServiceImage); got != want || err != nil {
			t.Errorf("%s: image endpoint %q (err %v), want %q", name, got, err, want)
		}
	}
}

// A secret pasted into cloud_domain or region_name is not printed in the error that refuses
// it (found by a hostile review).
func TestHostErrorsShowNoSecret(t *testing.T) {
	const sk = "SkSecretValue0123456789abcdefXYZ"
	for _, entry := range []string{
		"  c:\n    auth_type: aksk\n    region_name: eu-de\n    auth: {ak: AK, sk: " + sk + ", project_id: p}\n    cloud_domain: " + sk + "\n",
		"  c:\n    auth_type: aksk\n    region_name: " + sk + "_x\n    auth: {ak: AK, sk: " + sk + ", project_id: p}\n",
		"  c:\n    auth_type: token\n    image_api: ims\n    region_name: eu-de\n    auth: {token: " + sk + ", project_id: p}\n    cloud_domain: " + sk + "\n",
	} {
		if _, err := endpointsOf(t, entry, "c"); err == nil || strings.Contains(err.Error(), sk[:8]) {
			t.Errorf("error %v: want a refusal without the secret", err)
		}
	}
}

// cloud_domain names a domain, not an IP address (found by a hostile review).
func TestCloudDomainIsNoIPAddress(t *testing.T) {
	for _, domain := range []string{"10.0.0.1", "127.0.0.1", "169.254.169.254", "example.123"} {
		entry := fmt.Sprintf("  c:\n    auth_type: aksk\n    region_name: eu-de\n    cloud_domain: %q\n    auth: {ak: AK, sk: sk-secret-value, project_id: p}\n", domain)
		if got, err := endpointsOf(t, entry, "c", client.ServiceImage); err == nil || !strings.Contains(err.Error(), "cloud_domain") {
			t.Errorf("cloud_domain %q: endpoint %q, error %v; want it refused, naming cloud_domain", domain, got, err)
		}
	}
}
