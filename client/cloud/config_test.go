package cloud

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
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
	auth, err := cfg.Authenticator(client.Options{})
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

const authTypesYAML = `clouds:
  appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.com/v3
      application_credential_id: 21dced0fd20347869b93710d2b98aae0
      application_credential_secret: appcred-secret-value
      project_name: ignored
      project_domain_name: Default
  appcred-by-name:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://keystone.example.com/v3
      application_credential_name: monitoring
      application_credential_secret: appcred-secret-value
  huawei:
    auth_type: aksk
    auth:
      ak: QTWAOYTTINDUT2QVKYUC
      project_id: 77b6a44cba5143ab91d13ab9a8ff44fd
    region_name: cn-north-4
  huawei-no-region:
    auth_type: aksk
    auth:
      ak: QTWAOYTTINDUT2QVKYUC
      sk: sk-secret-value
      project_id: 77b6a44cba5143ab91d13ab9a8ff44fd
`

func TestLoadCloudAuthTypes(t *testing.T) {
	t.Setenv("OS_REGION_NAME", "")
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", authTypesYAML)
	writeFile(t, dir, "secure.yaml", "clouds:\n  huawei:\n    auth:\n      sk: sk-from-secure-yaml\n      security_token: temp-token-value\n")

	cfg, err := LoadCloud(file, "appcred")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.AuthOptions
	if cfg.AuthType != AuthApplicationCredential || a.ApplicationCredentialID != "21dced0fd20347869b93710d2b98aae0" ||
		a.ApplicationCredentialSecret != "appcred-secret-value" || a.Scope != nil || a.TenantName != "" {
		t.Errorf("appcred: %+v (an application credential must not request a scope)", a)
	}
	_, err = LoadCloud(file, "appcred-by-name")
	if err == nil || !strings.Contains(err.Error(), "auth.username or auth.user_id is required") {
		t.Errorf("appcred-by-name without a user: error %v", err)
	}

	cfg, err = LoadCloud(file, "huawei")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := cfg.Authenticator(client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	aksk, ok := auth.(*AKSK)
	if !ok || aksk.AccessKey != "QTWAOYTTINDUT2QVKYUC" || aksk.SecretKey != "sk-from-secure-yaml" || aksk.SecurityToken != "temp-token-value" ||
		aksk.ProjectID != "77b6a44cba5143ab91d13ab9a8ff44fd" ||
		aksk.ComputeEndpoint != "https://ecs.cn-north-4.myhuaweicloud.com/v2.1/77b6a44cba5143ab91d13ab9a8ff44fd" {
		t.Errorf("huawei: authenticator %+v", auth)
	}
	_, err = LoadCloud(file, "huawei-no-region")
	if err == nil || !strings.Contains(err.Error(), "region_name or compute_endpoint_override is required") || strings.Contains(err.Error(), "sk-secret-value") {
		t.Errorf("huawei-no-region: error %v", err)
	}
}

// clearOSEnv empties every variable LoadEnvCloud reads.
func clearOSEnv(t *testing.T) {
	t.Helper()
	for _, v := range envVariableNames() {
		t.Setenv(v, "")
	}
}

func TestLoadEnvCloud(t *testing.T) {
	t.Run("password", func(t *testing.T) {
		clearOSEnv(t)
		for k, v := range map[string]string{
			"OS_AUTH_URL": "https://keystone.example.com/v3", "OS_USERNAME": "monitor", "OS_PASSWORD": "env-password-value",
			"OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_NAME": "demo", "OS_PROJECT_DOMAIN_NAME": "Default",
			"OS_REGION_NAME": "RegionTwo", "OS_INTERFACE": "internal",
		} {
			t.Setenv(k, v)
		}
		cfg, err := LoadEnvCloud("")
		if err != nil {
			t.Fatal(err)
		}
		a := cfg.AuthOptions
		if cfg.AuthType != AuthPassword || cfg.Name != EnvCloudName || a.Username != "monitor" || a.Password != "env-password-value" ||
			a.Scope == nil || a.Scope.ProjectName != "demo" || a.Scope.DomainName != "Default" || cfg.Endpoint.Region != "RegionTwo" ||
			cfg.Endpoint.Availability != "internal" {
			t.Errorf("got %+v", cfg)
		}
		t.Setenv("OS_PROJECT_DOMAIN_NAME", "")
		if _, err := LoadEnvCloud(""); err == nil || !strings.Contains(err.Error(), "OS_PROJECT_DOMAIN_NAME or OS_PROJECT_DOMAIN_ID is required") {
			t.Errorf("missing project domain: error %v, want the variable named", err)
		}
	})
	t.Run("application credential", func(t *testing.T) {
		clearOSEnv(t)
		t.Setenv("OS_AUTH_URL", "https://keystone.example.com/v3")
		t.Setenv("OS_APPLICATION_CREDENTIAL_ID", "abc")
		t.Setenv("OS_APPLICATION_CREDENTIAL_SECRET", "s")
		cfg, err := LoadEnvCloud("")
		if err != nil || cfg.AuthType != AuthApplicationCredential || cfg.AuthOptions.ApplicationCredentialID != "abc" {
			t.Errorf("got %+v, %v", cfg, err)
		}
	})
	t.Run("token", func(t *testing.T) {
		clearOSEnv(t)
		t.Setenv("OS_AUTH_TOKEN", "gAAAA-env-token")
		if _, err := LoadEnvCloud(""); err == nil || !strings.Contains(err.Error(), "OS_COMPUTE_ENDPOINT_OVERRIDE is required") ||
			strings.Contains(err.Error(), "gAAAA-env-token") {
			t.Errorf("token without endpoint: error %v", err)
		}
		t.Setenv("OS_COMPUTE_ENDPOINT_OVERRIDE", "https://nova.example.com/v2.1/p")
		cfg, err := LoadEnvCloud("")
		if err != nil || cfg.AuthType != AuthToken {
			t.Errorf("got %+v, %v", cfg, err)
		}
	})
	t.Run("huawei aksk", func(t *testing.T) {
		clearOSEnv(t)
		t.Setenv("HUAWEICLOUD_SDK_AK", "AKVALUE")
		t.Setenv("HUAWEICLOUD_SDK_SK", "sk-env-secret")
		t.Setenv("OS_REGION_NAME", "ap-southeast-1")
		if _, err := LoadEnvCloud(""); err == nil || !strings.Contains(err.Error(), "HUAWEICLOUD_SDK_PROJECT_ID is required") ||
			strings.Contains(err.Error(), "sk-env-secret") {
			t.Errorf("aksk without project: error %v", err)
		}
		t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "p1")
		cfg, err := LoadEnvCloud("")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.AuthType != AuthAKSK || cfg.Auth["ak"] != "AKVALUE" || cfg.Auth["sk"] != "sk-env-secret" ||
			cfg.ComputeEndpointOverride != "https://ecs.ap-southeast-1.myhuaweicloud.com/v2.1/{project_id}" {
			t.Errorf("got %+v", cfg)
		}
	})
	t.Run("nothing", func(t *testing.T) {
		clearOSEnv(t)
		if _, err := LoadEnvCloud(""); err == nil || !strings.Contains(err.Error(), "no cloud configured") {
			t.Errorf("error %v", err)
		}
	})
}

func TestConfigErrorsHideValues(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "clouds.yaml", "clouds:\n  c:\n    auth: hunter2password\n  ok:\n    auth_type: token\n    auth: {token: t, project_id: p}\n    compute_endpoint_override: http://h/v2.1/{project_id}\n")
	clouds, err := ReadClouds(file, nil)
	if err != nil || strings.Join(clouds.Names(), ",") != "c,ok" {
		t.Fatalf("Names = %v, %v; want both entries listed despite the bad one", clouds, err)
	}
	_, err = LoadCloud(file, "c")
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("LoadCloud of a mistyped auth: %v, want an error without the value", err)
	}
	if _, err := LoadCloud(file, "ok"); err != nil {
		t.Errorf("the good entry: %v", err)
	}
	noProject := writeFile(t, dir, "noproject.yaml", "clouds:\n  t:\n    auth_type: token\n    auth: {token: t}\n    compute_endpoint_override: http://h/v2.1/{project_id}\n")
	if _, err := LoadCloud(noProject, "t"); err == nil || !strings.Contains(err.Error(), "auth.project_id") {
		t.Errorf("a {project_id} endpoint without project_id: %v", err)
	}
}

// yamlLine is how an error names a line of clouds.yaml: the file's own (file:3:), or
// yaml's for what the file's own does not find (line 3:).
var yamlLine = regexp.MustCompile(`\.yaml:\d+: |line \d+: `)

func TestYAMLErrorsHideValuesWithBackticks(t *testing.T) {
	dir := t.TempDir()
	for _, secret := range []string{"qz`kx`jv", "`x`y`", "a`b", "ab`cdefghijklmno"} {
		for _, doc := range []string{
			"clouds:\n  c:\n    auth: SECRET\n",                            // clouds.yaml's own decoding
			"clouds:\n  c:\n    auth_type: [SECRET]\n    auth: {}\n",       // the entry's decoding
			"clouds:\n  c:\n    auth: {password: [SECRET]}\n",              // gophercloud's parser
			"clouds:\n  c:\n    auth: SECRET\n    region_name: [SECRET]\n", // two errors in one message
		} {
			content := strings.ReplaceAll(doc, "SECRET", strconv.Quote(secret))
			file := writeFile(t, dir, "clouds.yaml", content)
			_, err := LoadCloud(file, "c")
			if err == nil {
				t.Fatalf("clouds.yaml %q loaded", content)
			}
			for _, part := range strings.Split(secret, "`") {
				if len(part) >= 2 && strings.Contains(err.Error(), part) {
					t.Errorf("clouds.yaml %q: error %q shows %q of the value", content, err, part)
				}
			}
			if !yamlLine.MatchString(err.Error()) {
				t.Errorf("clouds.yaml %q: error %q lost the line", content, err)
			}
		}
	}
}

// The check that every load and --config.check make changes nothing of what it checks: an
// alias of an auth type and an application credential's scope are resolved when the
// configuration is built, not when it is checked.
func TestCheckChangesNothing(t *testing.T) {
	for name, build := range map[string]func() *Config{
		"password by an alias": func() *Config {
			return &Config{AuthType: "v3password", ImageAPI: client.APINova, AuthOptions: gophercloud.AuthOptions{
				IdentityEndpoint: "https://keystone.example.com/v3", Username: "u", Password: "p", DomainName: "Default",
				TenantName: "demo", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}}}
		},
		"application credential with a scope": func() *Config {
			return &Config{AuthType: AuthApplicationCredential, ImageAPI: client.APINova, AuthOptions: gophercloud.AuthOptions{
				IdentityEndpoint: "https://keystone.example.com/v3", ApplicationCredentialID: "id", ApplicationCredentialSecret: "s",
				TenantName: "demo", Password: "p", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}}}
		},
		"token by an alias": func() *Config {
			return &Config{AuthType: "v3token", ImageAPI: client.APINova, ComputeEndpointOverride: "https://nova.example.com/v2.1/p",
				AuthOptions: gophercloud.AuthOptions{TokenID: "t"}}
		},
	} {
		checked := build()
		if err := checked.check(yamlField); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if want := build(); !reflect.DeepEqual(checked, want) {
			t.Errorf("%s: checking changed the configuration to %+v, want %+v", name, checked, want)
		}
	}
}

// A rotated CA bundle, client certificate or key is a changed configuration, though
// clouds.yaml still names the same files: a reload must build the cloud's client anew.
func TestFingerprintFollowsTLSFiles(t *testing.T) {
	for _, v := range []string{"OS_CACERT", "OS_CERT", "OS_KEY"} {
		t.Setenv(v, "")
	}
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	writeCA := func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
			NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := writeFile(t, dir, "clouds.yaml", "clouds:\n  c:\n    auth_type: token\n    auth: {token: t, project_id: p}\n"+
		"    compute_endpoint_override: https://nova.example.com/v2.1/p\n    cacert: "+caFile+"\n")
	fingerprint := func() string {
		t.Helper()
		cfg, err := LoadCloud(file, "c")
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Fingerprint
	}
	writeCA()
	before := fingerprint()
	if again := fingerprint(); again != before {
		t.Fatalf("the same files give fingerprints %s and %s", before, again)
	}
	writeCA()
	if after := fingerprint(); after == before {
		t.Errorf("the CA bundle was rotated, the fingerprint %s stayed", after)
	}
}

// The environment's variables are those of the auth type, however it is chosen: OS_AUTH_TYPE
// set to aksk reads HUAWEICLOUD_SDK_*, and a password cloud's errors name OS_* variables.
func TestEnvVariablesFollowTheAuthType(t *testing.T) {
	clearOSEnv(t)
	t.Setenv("OS_AUTH_TYPE", "aksk")
	t.Setenv("HUAWEICLOUD_SDK_AK", "AKVALUE")
	t.Setenv("HUAWEICLOUD_SDK_SK", "sk-env-secret")
	t.Setenv("HUAWEICLOUD_SDK_PROJECT_ID", "p1")
	t.Setenv("OS_REGION_NAME", "ap-southeast-1")
	if cfg, err := LoadEnvCloud(""); err != nil || cfg.AuthType != AuthAKSK || cfg.Auth["ak"] != "AKVALUE" {
		t.Errorf("OS_AUTH_TYPE=aksk: %+v, %v", cfg, err)
	}
	clearOSEnv(t)
	t.Setenv("OS_AUTH_URL", "https://keystone.example.com/v3")
	t.Setenv("OS_USERNAME", "monitor")
	t.Setenv("OS_PASSWORD", "env-password-value")
	t.Setenv("OS_USER_DOMAIN_NAME", "Default")
	if _, err := LoadEnvCloud(""); err == nil || !strings.Contains(err.Error(), "OS_PROJECT_NAME or OS_PROJECT_ID is required") {
		t.Errorf("password without a project: %v, want the OS_* variables named", err)
	}
}

// envVariableNames lists every environment variable that can configure the environment's
// cloud.
func envVariableNames() []string {
	var names []string
	for _, v := range commonVariables {
		names = append(names, v)
	}
	for _, t := range authTypes {
		for _, v := range t.variables {
			names = append(names, v)
		}
	}
	return names
}
