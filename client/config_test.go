package client

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const cloudsYAML = `clouds:
  openstack:
    auth:
      auth_url: https://keystone.example.com:5000/v3
      username: monitor
      password: s3cret-password
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
    region_name: RegionOne
    interface: internal
  huawei-iam:
    auth:
      auth_url: https://iam.cn-north-4.myhuaweicloud.com/v3
      username: monitor
      user_domain_name: my-account
      project_id: 0123456789abcdef0123456789abcdef
    region_name: cn-north-4
    compute_endpoint_override: https://ecs.cn-north-4.myhuaweicloud.com/v2.1/{project_id}
  pretoken:
    auth_type: token
    auth:
      token: gAAAAAB-secret-token
      project_id: p1
    compute_endpoint_override: https://nova.example.com/v2.1/{project_id}
  token-no-endpoint:
    auth_type: token
    auth:
      token: gAAAAAB-secret-token
  no-password:
    auth:
      auth_url: https://keystone.example.com/v3
      username: monitor
      user_domain_name: Default
      project_name: demo
      project_domain_name: Default
  no-project-domain:
    auth:
      auth_url: https://keystone.example.com/v3
      username: monitor
      password: s3cret-password
      user_domain_name: Default
      project_name: demo
  weird-auth:
    auth_type: v2password
    auth:
      auth_url: https://keystone.example.com/v3
`

func TestLoadCloud(t *testing.T) {
	t.Setenv("OS_REGION_NAME", "")
	t.Setenv("OS_INTERFACE", "")
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", cloudsYAML)
	writeFile(t, dir, "secure.yaml", "clouds:\n  huawei-iam:\n    auth:\n      password: from-secure-yaml\n")

	cfg, err := LoadCloud(file, "openstack")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.AuthOptions
	if cfg.AuthType != AuthPassword || a.IdentityEndpoint != "https://keystone.example.com:5000/v3" || a.Username != "monitor" ||
		a.Password != "s3cret-password" || a.DomainName != "Default" || a.Scope == nil || a.Scope.ProjectName != "demo" ||
		a.Scope.DomainName != "Default" || cfg.Endpoint.Region != "RegionOne" || cfg.Endpoint.Availability != "internal" {
		t.Errorf("openstack: got %+v", cfg)
	}

	cfg, err = LoadCloud(file, "huawei-iam")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AuthOptions.Password != "from-secure-yaml" || cfg.ComputeEndpointOverride != "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/{project_id}" {
		t.Errorf("huawei-iam: password from secure.yaml or override missing: %+v", cfg)
	}

	cfg, err = LoadCloud(file, "pretoken")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := cfg.Authenticator(nil)
	if err != nil {
		t.Fatal(err)
	}
	static, ok := auth.(*StaticToken)
	if !ok || static.Token != "gAAAAAB-secret-token" || static.ComputeEndpoint != "https://nova.example.com/v2.1/p1" {
		t.Errorf("pretoken: authenticator %#v", auth)
	}
}

func TestLoadCloudErrorsNameFileCloudAndField(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", cloudsYAML)
	tests := []struct {
		cloud string
		want  string
	}{
		{"missing", `no cloud "missing" under clouds:`},
		{"", "no cloud chosen (--cloud or OS_CLOUD)"},
		{"token-no-endpoint", `cloud "token-no-endpoint": compute_endpoint_override is required`},
		{"no-password", `cloud "no-password": auth.password is required`},
		{"no-project-domain", `cloud "no-project-domain": auth.project_domain_name or auth.project_domain_id is required`},
		{"weird-auth", `cloud "weird-auth": auth_type "v2password" is not supported`},
	}
	for _, tt := range tests {
		_, err := LoadCloud(file, tt.cloud)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), file) {
			t.Errorf("LoadCloud(%q): error %v, want one naming %s and %q", tt.cloud, err, file, tt.want)
			continue
		}
		for _, secret := range []string{"s3cret-password", "gAAAAAB-secret-token"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("LoadCloud(%q): error %q reveals a secret", tt.cloud, err)
			}
		}
	}

	if _, err := LoadCloud(filepath.Join(dir, "absent.yaml"), "openstack"); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("unreadable file: error %v, want one naming the file", err)
	}
	bad := writeFile(t, dir, "bad.yaml", "clouds: [not, a, map\n")
	if _, err := LoadCloud(bad, "openstack"); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("malformed file: error %v, want one naming the file", err)
	}
}

func TestCloudsFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	t.Setenv("OS_CLIENT_CONFIG_FILE", "")
	if _, err := CloudsFile(); err == nil || !strings.Contains(err.Error(), "no clouds.yaml found") {
		t.Errorf("no file: error %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "xdg", "openstack"), 0o700); err != nil {
		t.Fatal(err)
	}
	xdg := writeFile(t, filepath.Join(dir, "xdg", "openstack"), "clouds.yaml", cloudsYAML)
	if got, err := CloudsFile(); err != nil || got != xdg {
		t.Errorf("CloudsFile() = %q, %v; want %q", got, err, xdg)
	}
	writeFile(t, dir, "clouds.yaml", cloudsYAML)
	if got, err := CloudsFile(); err != nil || got != "clouds.yaml" {
		t.Errorf("CloudsFile() = %q, %v; want ./clouds.yaml first", got, err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", "/somewhere/clouds.yaml")
	if got, err := CloudsFile(); err != nil || got != "/somewhere/clouds.yaml" {
		t.Errorf("CloudsFile() = %q, %v; want OS_CLIENT_CONFIG_FILE", got, err)
	}
}
