package targets

import (
	"strings"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
)

// tokenAuth makes an entry a token cloud with both endpoints, which loads as it is.
const tokenAuth = "    auth: {token: t, project_id: p}\n    compute_endpoint_override: http://127.0.0.1:1/v2.1\n"

// brokenEntries are entries that each fail one per-entry check, with the reason each
// fails for.
var brokenEntries = map[string]struct{ entry, reason string }{
	"api":        {"    auth_type: token\n    image_api: cinder\n" + tokenAuth, `image_api "cinder" is not supported`},
	"enterprise": {"    auth_type: token\n    enterprise_project_id: e\n" + tokenAuth, "enterprise_project_id is a filter of image_api ims only"},
	"quota":      {"    auth_type: token\n    image_quota: true\n" + tokenAuth, "image_quota: the nova image API reports no quota"},
	"region":     {"    auth_type: token\n    image_api: ims\n    region_name: a.b\n" + tokenAuth, `region_name "a.b": want letters, digits and dashes`},
	"auth-type":  {"    auth_type: v2password\n" + tokenAuth, `auth_type "v2password" is not supported`},
	"typed":      {"    auth_type: token\n    verify: maybe\n" + tokenAuth, `verify: want true or false, got "maybe"`},
}

// tokenEntry is the entry name of a token cloud that loads, with keys added.
func tokenEntry(name, keys string) string {
	return "  " + name + ":\n    auth_type: token\n" + keys + tokenAuth
}

func brokenFile() string {
	var b strings.Builder
	b.WriteString("clouds:\n")
	b.WriteString(tokenEntry("good", ""))
	for name, e := range brokenEntries {
		b.WriteString("  " + name + ":\n" + e.entry)
	}
	return b.String()
}

// One rule for every per-entry check: a broken entry fails alone, its reason logged once
// per load and answered to /probe; the others load; config_last_reload_successful says
// that not every cloud loaded.
func TestABrokenEntryFailsAlone(t *testing.T) {
	set, file, logs, _ := setWithoutDefault(t, brokenFile(), Options{})
	if names := strings.Join(set.Names(), ","); names != "good" {
		t.Errorf("clouds %q, want good alone", names)
	}
	if problems := set.Problems(); len(problems) != len(brokenEntries) {
		t.Errorf("problems %v, want one per broken entry", problems)
	}
	lines := logs.Take()
	for name, e := range brokenEntries {
		_, err := set.Get(name)
		if err == nil || !strings.Contains(err.Error(), e.reason) || !strings.Contains(err.Error(), file) {
			t.Errorf("%s: Get: %v, want its reason %q", name, err, e.reason)
		}
		n := 0
		for _, line := range lines {
			if strings.Contains(line, "cloud="+name+" ") && strings.Contains(line, "level=warn") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: logged %d times, want once:\n%s", name, n, strings.Join(lines, "\n"))
		}
	}
	if v := testutil.ToFloat64(set.reloadOK); v != 0 {
		t.Errorf("config_last_reload_successful %v with broken entries, want 0", v)
	}
	if v := testutil.ToFloat64(set.reloadSuccess); v != 0 {
		t.Errorf("config_last_reload_success_timestamp_seconds %v with broken entries, want 0 (never)", v)
	}
}

// A reload that breaks a cloud that loaded is applied: that cloud fails alone, the others
// take their new configuration; fixing it loads it again.
func TestAReloadBreakingOneCloudAppliesTheRest(t *testing.T) {
	var forgotten []string
	set, file, _, built := setWithoutDefault(t, twoEntries, Options{Forget: func(c string) { forgotten = append(forgotten, c) }})
	if v := testutil.ToFloat64(set.reloadOK); v != 1 {
		t.Fatalf("config_last_reload_successful %v, want 1", v)
	}
	writeFile(t, file, strings.NewReplacer("{token: t-a}", "{}", "{token: t-b}", "{token: t-b2}").Replace(twoEntries))
	if err := set.Reload(); err != nil {
		t.Fatalf("reload breaking a: %v, want it applied", err)
	}
	if names := strings.Join(set.Names(), ","); names != "b" || built["b"] != 2 {
		t.Errorf("clouds %q, builds %v: want b alone, rebuilt", names, built)
	}
	if _, err := set.Get("a"); err == nil || !strings.Contains(err.Error(), `cloud "a": auth.token is required`) {
		t.Errorf("Get(a): %v, want its reason", err)
	}
	if strings.Join(forgotten, ",") != "a" {
		t.Errorf("forgotten %v, want a", forgotten)
	}
	if v := testutil.ToFloat64(set.reloadOK); v != 0 {
		t.Errorf("config_last_reload_successful %v, want 0", v)
	}
	writeFile(t, file, twoEntries)
	if err := set.Reload(); err != nil || strings.Join(set.Names(), ",") != "a,b" || testutil.ToFloat64(set.reloadOK) != 1 {
		t.Errorf("reload of the fixed file: %v, clouds %v, config_last_reload_successful %v", err, set.Names(), testutil.ToFloat64(set.reloadOK))
	}
}

// Start-up, and a reload, fail when no cloud of a file with entries loads.
func TestNoCloudLoadingFails(t *testing.T) {
	allBroken := strings.NewReplacer("{token: t-a}", "{}", "{token: t-b}", "{}").Replace(twoEntries)
	build := func(cfg *cloud.Config) (collector.Target, error) { return collector.Target{Cloud: cfg.Name}, nil }
	file := t.TempDir() + "/clouds.yaml"
	writeFile(t, file, allBroken)
	_, err := New(Options{File: file, Logger: log.NewNopLogger(), Build: build})
	if err == nil || !strings.Contains(err.Error(), file+": none of its 2 clouds loads") || !strings.Contains(err.Error(), `cloud "a": auth.token is required`) {
		t.Errorf("start with every entry broken: %v", err)
	}
	set, file, _, _ := setWithoutDefault(t, twoEntries, Options{})
	writeFile(t, file, allBroken)
	if err := set.Reload(); err == nil || strings.Join(set.Names(), ",") != "a,b" {
		t.Errorf("reload with every entry broken: %v, clouds %v; want it refused", err, set.Names())
	}
}

// The default cloud (/metrics's) must load, at start and at every reload: /metrics of a
// cloud that cannot be listed would only ever say nova_up 0, and a reload that breaks it
// keeps the configuration in force rather than take the exporter's main cloud away.
func TestTheDefaultCloudMustLoad(t *testing.T) {
	file := t.TempDir() + "/clouds.yaml"
	content := twoEntries + "  api:\n" + brokenEntries["api"].entry
	writeFile(t, file, content)
	build := func(cfg *cloud.Config) (collector.Target, error) { return collector.Target{Cloud: cfg.Name}, nil }
	if _, err := New(Options{File: file, Default: "api", Logger: log.NewNopLogger(), Build: build}); err == nil || !strings.Contains(err.Error(), `image_api "cinder"`) {
		t.Errorf("start with a broken default: %v, want refused with its reason", err)
	}
	set, err := New(Options{File: file, Default: "a", Logger: log.NewNopLogger(), Build: build})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, file, strings.Replace(content, "{token: t-a}", "{}", 1))
	if err := set.Reload(); err == nil || !strings.Contains(err.Error(), `cloud "a": auth.token is required`) {
		t.Errorf("reload breaking the default: %v, want it refused", err)
	}
	if _, err := set.Get("a"); err != nil {
		t.Errorf("after the refused reload: %v", err)
	}
}

// A cloud whose image API cannot express an option of the --images.* flags fails alone.
func TestAFlagOptionACloudCannotExpressFailsItAlone(t *testing.T) {
	content := "clouds:\n" + tokenEntry("nova", "") + tokenEntry("ims", "    image_api: ims\n    image_endpoint_override: http://127.0.0.1:1/ims\n")
	defaults, err := client.ParseSelection(client.Selection{}, map[string][]string{"type": {"snapshot"}})
	if err != nil {
		t.Fatal(err)
	}
	set, _, _, _ := setWithoutDefault(t, content, Options{Defaults: defaults, Build: func(cfg *cloud.Config) (collector.Target, error) {
		return collector.Target{Cloud: cfg.Name, API: apiOf(cfg)}, nil
	}})
	if names := strings.Join(set.Names(), ","); names != "nova" {
		t.Errorf("clouds %q, want nova alone", names)
	}
	if _, err := set.Get("ims"); err == nil || !strings.Contains(err.Error(), `--images.type: the ims image API has no such filter`) {
		t.Errorf("Get(ims): %v", err)
	}
}

// apiOf is the image API client of cfg, never called.
func apiOf(cfg *cloud.Config) client.ImageAPI {
	api, err := NewSource(cfg, client.Options{})
	if err != nil {
		panic(err)
	}
	return api
}
