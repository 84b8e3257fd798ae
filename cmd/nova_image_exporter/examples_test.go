package main

// Tests of the example files under examples/ and of the packaging files: what can be checked on
// this machine is checked. promtool and systemd-analyze are used when present; without them the
// tests that need them skip with a message, or fail with E2E_REQUIRED=1 (as .ci/run sets).

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"go.yaml.in/yaml/v2"
)

const (
	repoRoot    = "../.."
	examplesDir = repoRoot + "/examples"
	// The example user and password of examples/web-config.yml, documented there.
	exampleUser     = "prometheus"
	examplePassword = "change-me-example-password"
)

// skipUnlessRequired skips the test with why, or fails it when E2E_REQUIRED=1.
func skipUnlessRequired(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatalf("%s (E2E_REQUIRED=1)", why)
	}
	t.Skip(why + "; set E2E_REQUIRED=1 to fail instead")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	if err := os.WriteFile(to, readFile(t, from), 0o600); err != nil {
		t.Fatal(err)
	}
}

// yamlDocuments decodes every document of the YAML file at path into a generic value.
func yamlDocuments(t *testing.T, path string) []any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []any
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		docs = append(docs, doc)
	}
}

// field walks the generic YAML value v along keys; nil if any is missing.
func field(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[any]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// unmarshalFile decodes the single-document YAML file at path strictly into out.
func unmarshalFile(t *testing.T, path string, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict(readFile(t, path), out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestExampleYAMLParses(t *testing.T) {
	files := []string{repoRoot + "/.promu.yml"}
	err := filepath.WalkDir(examplesDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 12 {
		t.Fatalf("only %d YAML files found: %v", len(files), files)
	}
	for _, path := range files {
		docs := yamlDocuments(t, path)
		if len(docs) == 0 {
			t.Errorf("%s: no YAML document", path)
		}
		if filepath.Base(filepath.Dir(path)) != "kubernetes" {
			continue
		}
		for i, doc := range docs {
			for _, key := range [][]string{{"apiVersion"}, {"kind"}} {
				if s, _ := field(doc, key...).(string); s == "" {
					t.Errorf("%s: document %d has no %s", path, i+1, strings.Join(key, "."))
				}
			}
			if field(doc, "kind") == "Kustomization" {
				continue
			}
			if field(doc, "metadata", "name") == nil || field(doc, "metadata", "namespace") != "monitoring" {
				t.Errorf("%s: document %d needs metadata.name and metadata.namespace monitoring", path, i+1)
			}
		}
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key, and returns a pool trusting it.
func selfSignedCert(t *testing.T, certFile, keyFile string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "nova_image_exporter test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}

// TestExampleWebConfig runs the exporter with examples/web-config.yml as it is, beside a
// certificate and key made for the test under the names it gives.
func TestExampleWebConfig(t *testing.T) {
	var webConfig struct {
		TLS struct {
			CertFile   string `yaml:"cert_file"`
			KeyFile    string `yaml:"key_file"`
			MinVersion string `yaml:"min_version"`
		} `yaml:"tls_server_config"`
		Users map[string]string `yaml:"basic_auth_users"`
	}
	example := examplesDir + "/web-config.yml"
	unmarshalFile(t, example, &webConfig)
	if filepath.IsAbs(webConfig.TLS.CertFile) || filepath.IsAbs(webConfig.TLS.KeyFile) || webConfig.TLS.CertFile == "" {
		t.Fatalf("%s: cert_file and key_file should be relative to the file (the test puts them beside it): %+v", example, webConfig.TLS)
	}
	if !strings.HasPrefix(webConfig.Users[exampleUser], "$2") {
		t.Fatalf("%s: no bcrypt hash for user %q", example, exampleUser)
	}
	if !bytes.Contains(readFile(t, example), []byte(`"`+examplePassword+`"`)) {
		t.Fatalf("%s does not document the example password %q", example, examplePassword)
	}

	dir := t.TempDir()
	config := filepath.Join(dir, "web-config.yml")
	copyFile(t, example, config)
	pool := selfSignedCert(t, filepath.Join(dir, webConfig.TLS.CertFile), filepath.Join(dir, webConfig.TLS.KeyFile))

	addr := freeAddress(t)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(transport.CloseIdleConnections)
	httpsClient := &http.Client{Transport: transport, Timeout: 10 * time.Second}
	base := "https://" + addr
	get := func(path, user, password string) (int, string, error) {
		req, err := http.NewRequest(http.MethodGet, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		resp, err := httpsClient.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}

	logs := runUntilServing(t, time.Now, []string{"--demo", "--web.config.file=" + config, "--web.listen-address=" + addr}, func() error {
		_, _, err := get("/", "", "")
		return err
	})

	code, body, err := get("/metrics", exampleUser, examplePassword)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "\nnova_up 1\n") || !strings.Contains(body, "nova_image_exporter_build_info{") {
		t.Errorf("HTTPS /metrics with the example user and password: %d, %v\n%.500s\nlog:\n%s", code, err, body, logs)
	}
	if code, body, err := get("/probe?cloud=demo", exampleUser, examplePassword); err != nil || code != http.StatusOK || !strings.Contains(body, "nova_images{") {
		t.Errorf("HTTPS /probe?cloud=demo with the example user and password: %d, %v\n%.500s", code, err, body)
	}
	for _, c := range []struct{ what, user, password string }{
		{"a wrong password", exampleUser, examplePassword + "x"},
		{"an unknown user", "nobody", examplePassword},
		{"no credentials", "", ""},
	} {
		if code, _, err := get("/metrics", c.user, c.password); err != nil || code != http.StatusUnauthorized {
			t.Errorf("HTTPS /metrics with %s: %d, %v; want 401", c.what, code, err)
		}
	}

	// Plain HTTP on the TLS port: Go's TLS server answers 400 to an HTTP request, never metrics.
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + addr + "/metrics"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "nova_up") {
			t.Errorf("plain HTTP answered %d:\n%.300s", resp.StatusCode, body)
		}
	}
	// A client that does not trust the certificate fails the handshake.
	untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	if resp, err := untrusting.Get(base + "/"); err == nil {
		resp.Body.Close()
		t.Error("a client without the certificate in its roots connected")
	}
}

// promtool finds promtool in $PROMETHEUS_BIN_DIR, else where scripts/prometheus/install.sh puts it:
// $PROMETHEUS_DIR/usr/bin, by default /tmp/nova-image-exporter-prometheus/usr/bin.
func promtool(t *testing.T) string {
	t.Helper()
	installed := os.Getenv("PROMETHEUS_DIR")
	if installed == "" {
		installed = "/tmp/nova-image-exporter-prometheus"
	}
	dirs := []string{os.Getenv("PROMETHEUS_BIN_DIR"), filepath.Join(installed, "usr", "bin")}
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		path := filepath.Join(dir, "promtool")
		if info, err := os.Stat(path); err == nil && !info.IsDir() {
			return path
		}
	}
	skipUnlessRequired(t, "no promtool in $PROMETHEUS_BIN_DIR or "+dirs[1]+" (make prometheus)")
	return ""
}

func runIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestExamplePrometheusConfig runs promtool check config on examples/prometheus.yml where it
// lies, which loads the shipped rules from alerts/ (as in the tarball), and promtool check
// rules on the PrometheusRule's spec.
func TestExamplePrometheusConfig(t *testing.T) {
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(readFile(t, examplesDir+"/prometheus.yml"), &prom); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(prom.RuleFiles, []string{"../alerts/nova_image_exporter.rules.yml"}) {
		t.Fatalf("rule_files = %v; want the shipped rules where they lie, [../alerts/nova_image_exporter.rules.yml]", prom.RuleFiles)
	}
	// Every /probe target is an entry of the example clouds.yaml files.
	clouds := exampleCloudNames(t)
	probes := 0
	for _, job := range prom.ScrapeConfigs {
		if job.MetricsPath != "/probe" {
			continue
		}
		for _, sc := range job.StaticConfigs {
			for _, target := range sc.Targets {
				probes++
				if !slices.Contains(clouds, target) {
					t.Errorf("job %s: target %q is no entry of the example clouds.yaml files %v", job.JobName, target, clouds)
				}
			}
		}
	}
	if probes == 0 {
		t.Error("no /probe targets in examples/prometheus.yml")
	}

	tool := promtool(t)
	t.Log(runIn(t, examplesDir, tool, "check", "config", "prometheus.yml"))
	dir := t.TempDir()

	spec := field(yamlDocuments(t, examplesDir+"/kubernetes/prometheusrule.yaml")[0], "spec")
	data, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheusrule-spec.yml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Log(runIn(t, dir, tool, "check", "rules", "prometheusrule-spec.yml"))
}

// TestExamplePrometheusRuleUpToDate fails when examples/kubernetes/prometheusrule.yaml is not
// what scripts/prometheusrule.sh makes of alerts/nova_image_exporter.rules.yml.
func TestExamplePrometheusRuleUpToDate(t *testing.T) {
	generated := runIn(t, repoRoot, "bash", "scripts/prometheusrule.sh")
	checkedIn := string(readFile(t, examplesDir+"/kubernetes/prometheusrule.yaml"))
	if generated != checkedIn {
		t.Fatal("examples/kubernetes/prometheusrule.yaml is out of date with alerts/nova_image_exporter.rules.yml: run `make prometheusrule`")
	}
	docs := yamlDocuments(t, examplesDir+"/kubernetes/prometheusrule.yaml")
	rules := yamlDocuments(t, repoRoot+"/alerts/nova_image_exporter.rules.yml")
	if len(docs) != 1 || len(rules) != 1 {
		t.Fatalf("%d PrometheusRule documents, %d rule file documents; want 1 each", len(docs), len(rules))
	}
	if field(docs[0], "kind") != "PrometheusRule" || field(docs[0], "apiVersion") != "monitoring.coreos.com/v1" {
		t.Errorf("not a monitoring.coreos.com/v1 PrometheusRule: %v, %v", field(docs[0], "apiVersion"), field(docs[0], "kind"))
	}
	groups := field(rules[0], "groups")
	if groups == nil || !reflect.DeepEqual(field(docs[0], "spec", "groups"), groups) {
		t.Error("the PrometheusRule's spec.groups differ from the rule file's groups")
	}
}

// exampleCloudNames lists the entries of the example clouds.yaml files.
func exampleCloudNames(t *testing.T) []string {
	t.Helper()
	var all []string
	for _, file := range []string{examplesDir + "/openstack/clouds.yaml", examplesDir + "/huawei/clouds.yaml"} {
		names, err := cloudNames(file)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, names...)
	}
	return all
}

// clearCloudEnvironment keeps the caller's environment from choosing or configuring a cloud.
func clearCloudEnvironment(t *testing.T) {
	t.Helper()
	for _, name := range []string{"OS_CLOUD", "OS_CLIENT_CONFIG_FILE", "OS_AUTH_URL", "OS_AUTH_TYPE", "OS_AUTH_TOKEN",
		"OS_APPLICATION_CREDENTIAL_ID", "OS_APPLICATION_CREDENTIAL_NAME", "HUAWEICLOUD_SDK_AK", "OS_REGION_NAME", "OS_INTERFACE"} {
		t.Setenv(name, "")
	}
}

// TestExampleCloudsLoad loads every entry of the example clouds.yaml files, and runs
// --config.check on each file.
func TestExampleCloudsLoad(t *testing.T) {
	clearCloudEnvironment(t)
	for _, file := range []string{examplesDir + "/openstack/clouds.yaml", examplesDir + "/huawei/clouds.yaml"} {
		names, err := cloudNames(file)
		if err != nil || len(names) < 2 {
			t.Fatalf("%s: %v, %v", file, names, err)
		}
		for _, name := range names {
			if _, err := cloud.LoadCloud(file, name); err != nil {
				t.Errorf("%s: %v", file, err)
			}
		}
		abs, err := filepath.Abs(file)
		if err != nil {
			t.Fatal(err)
		}
		t.Setenv("OS_CLIENT_CONFIG_FILE", abs)
		var stdout, stderr strings.Builder
		if err := run(t.Context(), time.Now, []string{"--config.check"}, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "configuration OK") {
			t.Errorf("--config.check of %s: %v\n%s%s", file, err, stdout.String(), stderr.String())
		}
	}

	// The Huawei secret keys come from secure.yaml: without it the entries do not load.
	alone := writeClouds(t, string(readFile(t, examplesDir+"/huawei/clouds.yaml")))
	if _, err := cloud.LoadCloud(alone, "huawei-ap-southeast-1"); err == nil || !strings.Contains(err.Error(), "sk") {
		t.Errorf("huawei/clouds.yaml without secure.yaml: %v; want an error naming sk", err)
	}
}

// k8s holds the fields of the example manifests that must agree with each other.
type k8s struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Ports []struct {
			Name string `yaml:"name"`
			Port int    `yaml:"port"`
		} `yaml:"ports"`
		Endpoints []struct {
			Port string `yaml:"port"`
			Path string `yaml:"path"`
		} `yaml:"endpoints"`
		Prober struct {
			URL  string `yaml:"url"`
			Path string `yaml:"path"`
		} `yaml:"prober"`
		Targets struct {
			StaticConfig struct {
				Static []string `yaml:"static"`
			} `yaml:"staticConfig"`
		} `yaml:"targets"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []struct {
					Env []struct {
						Name  string `yaml:"name"`
						Value string `yaml:"value"`
					} `yaml:"env"`
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					LivenessProbe  k8sProbe `yaml:"livenessProbe"`
					ReadinessProbe k8sProbe `yaml:"readinessProbe"`
					Resources      struct {
						Requests map[string]string `yaml:"requests"`
						Limits   map[string]string `yaml:"limits"`
					} `yaml:"resources"`
					SecurityContext struct {
						ReadOnlyRootFilesystem   bool `yaml:"readOnlyRootFilesystem"`
						AllowPrivilegeEscalation bool `yaml:"allowPrivilegeEscalation"`
					} `yaml:"securityContext"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
				Volumes []struct {
					Name   string `yaml:"name"`
					Secret struct {
						SecretName string `yaml:"secretName"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

func loadManifest(t *testing.T, name, kind string) k8s {
	t.Helper()
	var m k8s
	if err := yaml.Unmarshal(readFile(t, examplesDir+"/kubernetes/"+name), &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if m.Kind != kind {
		t.Fatalf("%s: kind %q, want %q", name, m.Kind, kind)
	}
	return m
}

func subset(small, big map[string]string) bool {
	for k, v := range small {
		if big[k] != v {
			return false
		}
	}
	return len(small) > 0
}

// TestExampleKubernetesManifestsAgree checks that the manifests refer to each other rightly:
// selectors, ports, the Secret's mount and OS_CLIENT_CONFIG_FILE, the Probe's prober and
// targets; and that the Secret's clouds.yaml loads.
func TestExampleKubernetesManifestsAgree(t *testing.T) {
	clearCloudEnvironment(t)
	deployment := loadManifest(t, "deployment.yaml", "Deployment")
	service := loadManifest(t, "service.yaml", "Service")
	secret := loadManifest(t, "secret.yaml", "Secret")
	monitor := loadManifest(t, "servicemonitor.yaml", "ServiceMonitor")
	probe := loadManifest(t, "probe.yaml", "Probe")

	pod := deployment.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers; want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !subset(deployment.Spec.Selector.MatchLabels, deployment.Spec.Template.Metadata.Labels) {
		t.Error("the Deployment's selector does not select its pods")
	}
	var serviceSelector struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
		} `yaml:"spec"`
	}
	if err := yaml.Unmarshal(readFile(t, examplesDir+"/kubernetes/service.yaml"), &serviceSelector); err != nil {
		t.Fatal(err)
	}
	if !subset(serviceSelector.Spec.Selector, deployment.Spec.Template.Metadata.Labels) {
		t.Error("the Service does not select the Deployment's pods")
	}
	if len(c.Ports) != 1 || c.Ports[0].ContainerPort != 9879 || len(service.Spec.Ports) != 1 || service.Spec.Ports[0].Name != c.Ports[0].Name {
		t.Errorf("container ports %+v and Service ports %+v do not agree on port 9879", c.Ports, service.Spec.Ports)
	}
	for _, p := range []k8sProbe{c.LivenessProbe, c.ReadinessProbe} {
		if p.HTTPGet.Path != "/" || p.HTTPGet.Port != c.Ports[0].Name {
			t.Errorf("probe %+v; want the landing page / on port %s", p.HTTPGet, c.Ports[0].Name)
		}
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v; want cpu and memory requests and a memory limit", c.Resources)
	}
	if !pod.SecurityContext.RunAsNonRoot || !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("want runAsNonRoot, readOnlyRootFilesystem and no privilege escalation")
	}

	// OS_CLIENT_CONFIG_FILE is clouds.yaml in the Secret's mount.
	var configFile string
	for _, e := range c.Env {
		if e.Name == "OS_CLIENT_CONFIG_FILE" {
			configFile = e.Value
		}
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.Secret.SecretName == secret.Metadata.Name && configFile == m.MountPath+"/clouds.yaml" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("OS_CLIENT_CONFIG_FILE=%q is not clouds.yaml of the mounted Secret %s", configFile, secret.Metadata.Name)
	}
	clouds := writeClouds(t, secret.StringData["clouds.yaml"])
	names, err := cloudNames(clouds)
	if err != nil || len(names) == 0 {
		t.Fatalf("the Secret's clouds.yaml: %v, %v", names, err)
	}
	for _, name := range names {
		if _, err := cloud.LoadCloud(clouds, name); err != nil {
			t.Errorf("the Secret's clouds.yaml: %v", err)
		}
	}

	if !subset(monitor.Spec.Selector.MatchLabels, service.Metadata.Labels) {
		t.Error("the ServiceMonitor does not select the Service")
	}
	if len(monitor.Spec.Endpoints) != 1 || monitor.Spec.Endpoints[0].Port != service.Spec.Ports[0].Name || monitor.Spec.Endpoints[0].Path != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %+v; want /metrics on port %s", monitor.Spec.Endpoints, service.Spec.Ports[0].Name)
	}
	wantProber := service.Metadata.Name + ".monitoring.svc:9879"
	if probe.Spec.Prober.URL != wantProber || probe.Spec.Prober.Path != "/probe" {
		t.Errorf("Probe prober %+v; want %s, /probe", probe.Spec.Prober, wantProber)
	}
	for _, target := range probe.Spec.Targets.StaticConfig.Static {
		if !slices.Contains(names, target) {
			t.Errorf("Probe target %q is no entry of the Secret's clouds.yaml %v", target, names)
		}
	}
}

// TestExampleSystemdUnit runs systemd-analyze verify and security on the unit, with ExecStart's
// binary pointed at an existing file (verify requires one), and parses ExecStart's flags.
func TestExampleSystemdUnit(t *testing.T) {
	const binary = "/usr/local/bin/nova_image_exporter"
	unit := string(readFile(t, examplesDir+"/systemd/nova_image_exporter.service"))

	// ExecStart, its continuation lines joined, must hold flags the exporter accepts.
	execStart := regexp.MustCompile(`(?m)^ExecStart=((?:.*\\\n)*.*)$`).FindStringSubmatch(unit)
	if execStart == nil {
		t.Fatal("no ExecStart=")
	}
	args := strings.Fields(strings.ReplaceAll(execStart[1], "\\\n", " "))
	if args[0] != binary {
		t.Fatalf("ExecStart runs %s; the test expects %s", args[0], binary)
	}
	credentials := t.TempDir()
	for i := range args {
		args[i] = strings.ReplaceAll(args[i], "%d", credentials)
	}
	if _, err := parseFlags(args[1:], io.Discard); err != nil {
		t.Errorf("ExecStart's flags %v: %v", args[1:], err)
	}
	for _, want := range []string{
		"\nDynamicUser=yes\n", "\nProtectSystem=strict\n", "\nNoNewPrivileges=yes\n",
		"\nLoadCredential=clouds.yaml:", "\nEnvironment=OS_CLIENT_CONFIG_FILE=%d/clouds.yaml\n",
		"\nExecReload=/bin/kill -HUP $MAINPID\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		skipUnlessRequired(t, "systemd-analyze not found")
	}
	// The test binary stands in for the exporter: verify only checks that it is executable.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "nova_image_exporter.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, binary, self)), 0o600); err != nil {
		t.Fatal(err)
	}
	// verify exits 0 on unknown keys and bad values too, but says so: any output is a failure.
	if out := runIn(t, dir, analyze, "verify", "--man=no", path); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify:\n%s", out)
	}
	// Overall exposure at most 2.0 of 10 ("OK"); --threshold is in tenths.
	cmd := exec.Command(analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.0 (%v):\n%s", err, out)
	} else if m := regexp.MustCompile(`Overall exposure level.*`).Find(out); m != nil {
		t.Log(string(m))
	}
}

// TestExamplePackagingFilesAgree checks that the Dockerfile copies what the Makefile builds, on
// the default port, as nobody; and that .promu.yml sets the version variables the Makefile sets.
func TestExamplePackagingFilesAgree(t *testing.T) {
	dockerfile := string(readFile(t, repoRoot+"/Dockerfile"))
	makefile := string(readFile(t, repoRoot+"/Makefile"))
	promu := string(readFile(t, repoRoot+"/.promu.yml"))
	for _, want := range []string{
		"COPY .build/${OS}-${ARCH}/nova_image_exporter /bin/nova_image_exporter\n",
		"FROM quay.io/prometheus/busybox-${OS}-${ARCH}:latest\n",
		"\nEXPOSE 9879\n", "\nUSER nobody\n", `ENTRYPOINT ["/bin/nova_image_exporter"]`,
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if !strings.Contains(makefile, "-o $(BUILD_DIR)/$(GOOS)-$(GOARCH)/nova_image_exporter$(EXE)") || !strings.Contains(makefile, "BUILD_DIR            := .build\n") {
		t.Error("the Makefile no longer builds .build/$(GOOS)-$(GOARCH)/nova_image_exporter, which the Dockerfile copies")
	}
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if addrs := *cfg.web.WebListenAddresses; len(addrs) != 1 || addrs[0] != ":9879" {
		t.Errorf("default listen addresses %v; the Dockerfile exposes 9879", addrs)
	}
	for _, v := range []string{"Version", "Revision", "Branch", "BuildUser", "BuildDate"} {
		if !strings.Contains(promu, "github.com/prometheus/common/version."+v+"=") || !strings.Contains(makefile, "-X $(PKG)."+v+"=") {
			t.Errorf(".promu.yml and the Makefile must both set version.%s", v)
		}
	}
}

// TestExampleTarballHoldsWhatREADMEReferences packs the release tarball as `make tarball`
// does (make tarball-pack, with a stand-in binary), and finds in it every file that README,
// or the reference in docs/ it links to, links to or names by its path, and the rules
// examples/prometheus.yml loads; .promu.yml packs the same files.
func TestExampleTarballHoldsWhatREADMEReferences(t *testing.T) {
	for _, tool := range []string{"make", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			skipUnlessRequired(t, "no "+tool+" in $PATH")
		}
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "build", "linux-amd64", "nova_image_exporter")
	if err := os.MkdirAll(filepath.Dir(binary), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(binary, []byte("stand-in"), 0o755); err != nil {
		t.Fatal(err)
	}
	runIn(t, repoRoot, "make", "--no-print-directory", "tarball-pack", "GOOS=linux", "GOARCH=amd64", "VERSION=test",
		"BUILD_DIR="+filepath.Join(dir, "build"), "TARBALL_DIR="+filepath.Join(dir, "tarballs"))
	packed := tarballPaths(t, filepath.Join(dir, "tarballs", "nova_image_exporter-test.linux-amd64.tar.gz"))
	if !packed["nova_image_exporter"] {
		t.Error("the tarball has no binary")
	}
	for _, ref := range readmePaths(t) {
		if !packed[ref] {
			t.Errorf("the docs name %s, which is not in the tarball", ref)
		}
	}
	var prom struct {
		RuleFiles []string `yaml:"rule_files"`
	}
	if err := yaml.Unmarshal(readFile(t, examplesDir+"/prometheus.yml"), &prom); err != nil {
		t.Fatal(err)
	}
	for _, rules := range prom.RuleFiles {
		if p := path.Join("examples", rules); !packed[p] {
			t.Errorf("examples/prometheus.yml loads %s, which is not in the tarball at %s", rules, p)
		}
	}
	var promu struct {
		Tarball struct{ Files []string } `yaml:"tarball"`
	}
	if err := yaml.Unmarshal(readFile(t, repoRoot+"/.promu.yml"), &promu); err != nil {
		t.Fatal(err)
	}
	for _, file := range promu.Tarball.Files {
		if !packed[file] {
			t.Errorf(".promu.yml packs %s, which make tarball does not", file)
		}
	}
}

// notShipped are paths README names that only a checkout needs, for building.
var notShipped = map[string]bool{"scripts/prometheusrule.sh": true}

// shippedDocs are the files of the user documentation whose paths the tarball must hold:
// README and the reference it links to.
var shippedDocs = []string{"README.md", "docs/configuration.md", "docs/operations.md"}

// readmePaths are the repository's files and directories that README and the reference it
// links to link to or name in code (`examples/prometheus.yml`, `alerts/tests/*.yml`),
// without what only a build needs. A link is relative to its file; a path in code, to the
// repository.
func readmePaths(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, doc := range shippedDocs {
		for _, c := range docPathCandidates(string(readFile(t, repoRoot+"/"+doc)), path.Dir(doc)) {
			paths = append(paths, repositoryPaths(c)...)
		}
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	for _, want := range []string{"alerts/tests/nova_image_exporter.rules.test.yml", "docs/testing.md", "examples/systemd/nova_image_exporter.service"} {
		if !slices.Contains(paths, want) {
			t.Fatalf("the docs' paths, as read here, lack %s: %v", want, paths)
		}
	}
	return paths
}

// docPathCandidates are the words of text that may name a path: its links, joined to dir,
// and the words of its code.
func docPathCandidates(text, dir string) []string {
	var candidates []string
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)(?:#[^)]*)?\)`).FindAllStringSubmatch(text, -1) {
		candidates = append(candidates, path.Join(dir, m[1]))
	}
	fenced := regexp.MustCompile("(?s)\n```[a-z]*\n.*?\n```")
	for _, block := range fenced.FindAllString(text, -1) {
		candidates = append(candidates, strings.Fields(block)...)
	}
	for _, m := range regexp.MustCompile("`([^`\n]+)`").FindAllStringSubmatch(fenced.ReplaceAllString(text, ""), -1) {
		candidates = append(candidates, strings.Fields(m[1])...)
	}
	return candidates
}

// repositoryPaths are the repository's files and directories that c names, relative to
// the repository, none when c names nothing there or only what a build needs.
func repositoryPaths(c string) []string {
	c = strings.TrimSuffix(c, "/")
	if c == "" || strings.ContainsAny(c[:1], "./-$%") || strings.Contains(c, "=") || !strings.ContainsAny(c, "./") || notShipped[c] {
		return nil
	}
	matches, _ := filepath.Glob(filepath.Join(repoRoot, c))
	var paths []string
	for _, m := range matches {
		rel, _ := filepath.Rel(repoRoot, m)
		paths = append(paths, filepath.ToSlash(rel))
	}
	return paths
}

// tarballPaths lists the files and directories of the .tar.gz at file, without the
// directory they all lie in.
func tarballPaths(t *testing.T, file string) map[string]bool {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	archive := tar.NewReader(gz)
	for {
		h, err := archive.Next()
		if errors.Is(err, io.EOF) {
			return paths
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, rest, found := strings.Cut(strings.TrimSuffix(h.Name, "/"), "/"); found {
			paths[rest] = true
		}
	}
}

// cloudNames lists the entries of the clouds.yaml at file.
func cloudNames(file string) ([]string, error) {
	clouds, err := cloud.ReadClouds(file, nil)
	if err != nil {
		return nil, err
	}
	return clouds.Names(), nil
}
