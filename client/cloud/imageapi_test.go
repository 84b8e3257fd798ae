package cloud

import (
	"context"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

const imageAPIsYAML = `
clouds:
  default:
    auth:
      auth_url: https://keystone.example.com/v3
      username: u
      password: keystone-password
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
  glance:
    image_api: glance
    image_endpoint_override: https://glance.example.com/image
    auth:
      auth_url: https://keystone.example.com/v3
      username: u
      password: keystone-password
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
  ims-aksk:
    image_api: ims
    auth_type: aksk
    region_name: cn-north-4
    enterprise_project_id: "0"
    auth:
      ak: QTWAOYTTINDUT2QVKYUC
      sk: sk-secret-value
      project_id: 77b6a44cba5143ab91d13ab9a8ff44fd
  ims-no-region:
    image_api: ims
    auth_type: aksk
    auth:
      ak: QTWAOYTTINDUT2QVKYUC
      sk: sk-secret-value
      project_id: 77b6a44cba5143ab91d13ab9a8ff44fd
  glance-token:
    image_api: glance
    auth_type: token
    compute_endpoint_override: https://nova.example.com/v2.1/p
    auth:
      token: pre-issued-token-value
      project_id: p
  enterprise-on-nova:
    enterprise_project_id: "0"
    auth:
      auth_url: https://keystone.example.com/v3
      username: u
      password: keystone-password
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
`

func TestImageAPIKeys(t *testing.T) {
	t.Setenv("OS_REGION_NAME", "")
	file := writeFile(t, t.TempDir(), "clouds.yaml", imageAPIsYAML)
	clouds, err := ReadClouds(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ defaultAPI, cloud, wantAPI string }{
		{"", "default", client.APINova},
		{client.APIGlance, "default", client.APIGlance},
		{client.APIIMS, "glance", client.APIGlance}, // clouds.yaml's image_api wins over --images.api
	} {
		clouds.DefaultImageAPI = tt.defaultAPI
		cfg, err := clouds.Load(tt.cloud)
		if err != nil || cfg.ImageAPI != tt.wantAPI {
			t.Errorf("default %q, cloud %s: image API %q (err %v), want %q", tt.defaultAPI, tt.cloud, cfg.ImageAPI, err, tt.wantAPI)
		}
	}
	clouds.DefaultImageAPI = ""

	cfg, err := clouds.Load("ims-aksk")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := cfg.Authenticator(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := auth.Endpoint(context.Background(), client.ServiceImage)
	if endpoint != "https://ims.cn-north-4.myhuaweicloud.com" || err != nil || cfg.EnterpriseProjectID != "0" {
		t.Errorf("ims-aksk: image endpoint %q (err %v), enterprise project %q; want IMS of the region and \"0\"", endpoint, err, cfg.EnterpriseProjectID)
	}

	for cloud, want := range map[string]string{
		"ims-no-region":      `cloud "ims-no-region": region_name or image_endpoint_override is required`,
		"glance-token":       `cloud "glance-token": image_endpoint_override is required`,
		"enterprise-on-nova": `cloud "enterprise-on-nova": enterprise_project_id is a filter of image_api ims only`,
	} {
		_, err := clouds.Load(cloud)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pre-issued-token-value") {
			t.Errorf("%s: error %v, want %q", cloud, err, want)
		}
	}
}

// An unknown image_api fails its entry alone, naming the cloud and the value; the other
// entries load.
func TestUnknownImageAPIFailsItsEntry(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", imageAPIsYAML+"  typo:\n    image_api: glace\n    auth:\n      auth_url: https://k.example.com/v3\n")
	clouds, err := ReadClouds(file, nil)
	if err != nil {
		t.Fatalf("ReadClouds: %v, want the mistake to be the entry's alone", err)
	}
	if _, err := clouds.Load("typo"); err == nil || !strings.Contains(err.Error(), `cloud "typo": image_api "glace" is not supported (want nova, glance, ims)`) {
		t.Errorf("error %v, want one naming the cloud and the value", err)
	}
	if _, err := clouds.Load("glance"); err != nil {
		t.Errorf("another entry: %v", err)
	}
	writeFile(t, dir, "clouds.yaml", imageAPIsYAML)
	writeFile(t, dir, "secure.yaml", "clouds:\n  glance:\n    image_api: [glance]\n")
	clouds, err = ReadClouds(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clouds.Load("glance"); err == nil || !strings.Contains(err.Error(), `secure.yaml:3: clouds.glance.image_api: want a string, got a list`) {
		t.Errorf("secure.yaml: error %v, want one naming the file, the line and the key", err)
	}
}

func TestEnvCloudTakesTheDefaultImageAPI(t *testing.T) {
	clearOSEnv(t)
	t.Setenv("OS_AUTH_TOKEN", "pre-issued-token-value")
	t.Setenv("OS_IMAGE_ENDPOINT_OVERRIDE", "https://glance.example.com")
	cfg, err := LoadEnvCloud(client.APIGlance)
	if err != nil || cfg.ImageAPI != client.APIGlance || cfg.ImageEndpointOverride != "https://glance.example.com" {
		t.Fatalf("config %+v, err %v", cfg, err)
	}
	if _, err := LoadEnvCloud(client.APINova); err == nil || !strings.Contains(err.Error(), "OS_COMPUTE_ENDPOINT_OVERRIDE is required") {
		t.Errorf("nova without a compute endpoint: error %v", err)
	}
}

// A region_name that builds an endpoint's host must be a plain name: "x.evil.example/" would
// send the signed requests elsewhere.
func TestRegionThatNamesAHostIsPlain(t *testing.T) {
	t.Setenv("OS_REGION_NAME", "")
	for _, api := range []string{"ims", "nova"} {
		file := writeFile(t, t.TempDir(), "clouds.yaml", `clouds:
  evil:
    image_api: `+api+`
    auth_type: aksk
    region_name: evil.example.com/x?
    auth: {ak: AK, sk: sk-secret-value, project_id: p}
`)
		_, err := LoadCloud(file, "evil")
		if err == nil || !strings.Contains(err.Error(), `region_name "evil.example.com/x?": want letters, digits and dashes`) {
			t.Errorf("image_api %s: error %v", api, err)
		}
	}
}

// project_metrics overrides --images.project-metrics either way, for the cloud only.
func TestProjectMetricsKey(t *testing.T) {
	file := writeFile(t, t.TempDir(), "clouds.yaml", imageAPIsYAML+`  glance-off:
    image_api: glance
    project_metrics: false
    image_endpoint_override: https://glance.example.com
    auth_type: token
    auth: {token: pre-issued-token-value}
  glance-on:
    image_api: glance
    project_metrics: true
    image_endpoint_override: https://glance.example.com
    auth_type: token
    auth: {token: pre-issued-token-value}
`)
	for cloud, want := range map[string][2]bool{"glance": {true, false}, "glance-off": {false, false}, "glance-on": {true, true}} {
		cfg, err := LoadCloud(file, cloud)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]bool{cfg.ProjectMetricsOn(true), cfg.ProjectMetricsOn(false)}; got != want {
			t.Errorf("%s: project metrics on with --images.project-metrics and without: %v, want %v", cloud, got, want)
		}
	}
}

// orphaned_snapshots overrides --images.orphaned-snapshots either way, for the cloud only.
func TestOrphanedSnapshotsKey(t *testing.T) {
	file := writeFile(t, t.TempDir(), "clouds.yaml", imageAPIsYAML+`  glance-off:
    image_api: glance
    orphaned_snapshots: false
    image_endpoint_override: https://glance.example.com
    auth_type: token
    auth: {token: pre-issued-token-value}
  glance-on:
    image_api: glance
    orphaned_snapshots: true
    image_endpoint_override: https://glance.example.com
    auth_type: token
    auth: {token: pre-issued-token-value}
`)
	for cloud, want := range map[string][2]bool{"glance": {true, false}, "glance-off": {false, false}, "glance-on": {true, true}} {
		cfg, err := LoadCloud(file, cloud)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]bool{cfg.OrphanedSnapshotsOn(true), cfg.OrphanedSnapshotsOn(false)}; got != want {
			t.Errorf("%s: orphaned snapshots on with --images.orphaned-snapshots and without: %v, want %v", cloud, got, want)
		}
	}
}

func TestImageQuotaKey(t *testing.T) {
	file := writeFile(t, t.TempDir(), "clouds.yaml", imageAPIsYAML+`  glance-no-quota:
    image_api: glance
    image_quota: false
    image_endpoint_override: https://glance.example.com
    auth_type: token
    auth: {token: pre-issued-token-value}
  nova-quota:
    image_quota: true
    auth_type: token
    compute_endpoint_override: https://nova.example.com/v2.1/p
    auth: {token: pre-issued-token-value}
`)
	for cloud, want := range map[string][2]bool{"glance": {true, false}, "glance-no-quota": {false, false}} {
		cfg, err := LoadCloud(file, cloud)
		if err != nil {
			t.Fatal(err)
		}
		if got := [2]bool{cfg.QuotasOn(true), cfg.QuotasOn(false)}; got != want {
			t.Errorf("%s: quotas on with --images.quota and without: %v, want %v", cloud, got, want)
		}
	}
	if _, err := LoadCloud(file, "nova-quota"); err == nil || !strings.Contains(err.Error(), "image_quota: the nova image API reports no quota") {
		t.Errorf("image_quota: true on nova: error %v", err)
	}
}
