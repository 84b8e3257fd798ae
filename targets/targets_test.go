package targets

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

const entries = `clouds:
  a:
    auth_type: token
    auth: {token: t-a}
    compute_endpoint_override: http://127.0.0.1:1/v2.1/a
  b:
    auth_type: token
    auth: {token: t-b}
    compute_endpoint_override: http://127.0.0.1:1/v2.1/b
  bad:
    auth_type: token
    auth: {token: t-bad}
`

func newTestSet(t *testing.T, content string) (*Set, string, map[string]int, *prometheus.Registry) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	built := map[string]int{}
	reg := prometheus.NewRegistry()
	set, err := New(Options{
		File: file, Default: "a", Logger: log.NewNopLogger(), Registerer: reg,
		Build: func(cfg *cloud.Config) (collector.Target, error) {
			built[cfg.Name]++
			return collector.Target{Cloud: cfg.Name}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return set, file, built, reg
}

func TestReloadRebuildsOnlyChangedClouds(t *testing.T) {
	set, file, built, reg := newTestSet(t, entries)
	if got := strings.Join(set.Names(), ","); got != "a,b" {
		t.Errorf("names %s, want a,b", got)
	}
	if problems := set.Problems(); len(problems) != 1 || !strings.Contains(problems[0].Error(), `cloud "bad": compute_endpoint_override is required`) {
		t.Errorf("problems %v", problems)
	}
	changed := strings.Replace(entries, "token: t-b", "token: t-b2", 1)
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := set.Reload(); err != nil {
		t.Fatal(err)
	}
	if built["a"] != 1 || built["b"] != 2 {
		t.Errorf("builds %v: want a kept (1) and b rebuilt (2)", built)
	}
	if v := testutil.ToFloat64(set.reloadOK); v != 0 {
		t.Errorf("reload metric %v with the bad entry, want 0", v)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 2 {
		t.Errorf("%d reload metrics registered, %v", n, err)
	}
}

func TestReloadKeepsTheOldConfigurationOnError(t *testing.T) {
	set, file, _, _ := newTestSet(t, entries)
	withoutDefault := strings.Replace(entries, "  a:\n", "  z:\n", 1)
	for _, content := range []string{"clouds: [", withoutDefault} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := set.Reload(); err == nil {
			t.Errorf("reload of %q succeeded", content[:min(len(content), 20)])
		}
		if _, err := set.Get("a"); err != nil {
			t.Errorf("after a failed reload: %v, want the previous configuration", err)
		}
		if v := testutil.ToFloat64(set.reloadOK); v != 0 {
			t.Errorf("reload metric %v after a failed reload", v)
		}
	}
}

func TestResolveProbe(t *testing.T) {
	set, _, _, _ := newTestSet(t, entries)
	for query, want := range map[string]string{
		"cloud=b&status=active": "",
		"cloud=b&status=nope":   "want a Glance status",
		"cloud=bad":             `cloud "bad" cannot be probed`,
		"cloud=zz":              `unknown cloud "zz" (configured: "a", "b")`,
		"":                      "missing ?cloud=NAME",
		"cloud=a&url=http://x":  `unknown parameter "url"`,
	} {
		target, found, err := set.ResolveProbe(httptest.NewRequest("GET", "/probe?"+query, nil))
		switch {
		case want == "" && (err != nil || !found || target.Cloud != "b"):
			t.Errorf("?%s: %v %v %v", query, target, found, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("?%s: error %v, want %q", query, err, want)
		}
	}
}
