package targets

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/collector"
	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
)

const twoEntries = `clouds:
  a:
    auth_type: token
    auth: {token: t-a}
    compute_endpoint_override: http://127.0.0.1:1/v2.1/a
  b:
    auth_type: token
    auth: {token: t-b}
    compute_endpoint_override: http://127.0.0.1:1/v2.1/b
`

// readCounter is an Options.ReadFile that counts the reads and bytes of each file.
type readCounter struct {
	mu    sync.Mutex
	reads map[string]int
	bytes map[string]int
}

func newReadCounter() *readCounter {
	return &readCounter{reads: map[string]int{}, bytes: map[string]int{}}
}

func (c *readCounter) readFile(name string) ([]byte, error) {
	b, err := os.ReadFile(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads[filepath.Base(name)]++
	c.bytes[filepath.Base(name)] += len(b)
	return b, err
}

func (c *readCounter) take() (reads, bytes map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	reads, bytes = c.reads, c.bytes
	c.reads, c.bytes = map[string]int{}, map[string]int{}
	return reads, bytes
}

// setWithoutDefault loads content as the only source of clouds, with no default cloud,
// as an exporter started without --cloud does.
func setWithoutDefault(t *testing.T, content string, opts Options) (*Set, string, *testlog.Buffer, map[string]int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	writeFile(t, file, content)
	logs := &testlog.Buffer{}
	built := map[string]int{}
	var mu sync.Mutex
	opts.File, opts.Logger = file, log.NewLogfmtLogger(logs)
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	build := opts.Build
	if build == nil {
		build = func(cfg *cloud.Config) (collector.Target, error) { return collector.Target{Cloud: cfg.Name}, nil }
	}
	opts.Build = func(cfg *cloud.Config) (collector.Target, error) {
		mu.Lock()
		built[cfg.Name]++
		mu.Unlock()
		return build(cfg)
	}
	set, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return set, file, logs, built
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloadRefusesAFileThatYieldsNoCloud(t *testing.T) {
	for name, content := range map[string]string{
		"empty":                        "",
		"clouds: {}":                   "clouds: {}\n",
		"no clouds key":                "# being rewritten\n",
		"truncated in the first entry": twoEntries[:strings.Index(twoEntries, "  b:")-30],
		"truncated mid-key":            twoEntries[:strings.Index(twoEntries, "token: t-a")+3],
	} {
		t.Run(name, func(t *testing.T) {
			set, file, logs, _ := setWithoutDefault(t, twoEntries, Options{})
			logs.Take()
			writeFile(t, file, content)
			reloads := map[string]func() error{
				"SIGHUP": set.ReloadAndLog,
				"POST /-/reload": func() error {
					rec := httptest.NewRecorder()
					set.ReloadHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
					if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "previous configuration kept") {
						return nil
					}
					return fmt.Errorf("%d %s", rec.Code, rec.Body.String())
				},
			}
			for path, reload := range reloads {
				if err := reload(); err == nil {
					t.Errorf("%s: the reload succeeded, want it refused", path)
				}
				if names := strings.Join(set.Names(), ","); names != "a,b" {
					t.Errorf("%s: clouds %q after a refused reload, want the previous a,b", path, names)
				}
				if _, err := set.Get("b"); err != nil {
					t.Errorf("%s: %v", path, err)
				}
				if v := testutil.ToFloat64(set.reloadOK); v != 0 {
					t.Errorf("%s: config_last_reload_successful %v, want 0", path, v)
				}
				lines := logs.Take()
				if len(lines) != 1 || !strings.Contains(lines[0], "level=error") || !strings.Contains(lines[0], "file="+file) {
					t.Errorf("%s: log %q, want one error line naming the file", path, lines)
				}
			}
			writeFile(t, file, twoEntries)
			if err := set.Reload(); err != nil || testutil.ToFloat64(set.reloadOK) != 1 {
				t.Errorf("reload of the good file again: %v", err)
			}
		})
	}
}

func TestReloadSaysWhyItWasRefused(t *testing.T) {
	set, file, _, _ := setWithoutDefault(t, twoEntries, Options{})
	for content, want := range map[string]string{
		"": file + `: no cloud under clouds: (an empty or truncated file?)`,
		strings.NewReplacer("{token: t-a}", "{}", "{token: t-b}", "{}").Replace(twoEntries): file + `: none of its 2 clouds loads; ` + file +
			`: cloud "a": auth.token is required`,
	} {
		writeFile(t, file, content)
		if err := set.Reload(); err == nil || err.Error() != want {
			t.Errorf("reload of %q: %v, want %q", content, err, want)
		}
	}
	// Removing a cloud, or adding a broken one, is a change, not a mistake.
	writeFile(t, file, strings.Replace(twoEntries, "  a:\n", "  z:\n", 1)+"  new:\n    auth_type: nope\n    auth: {}\n")
	if err := set.Reload(); err != nil {
		t.Errorf("reload removing a, adding z and a broken entry: %v", err)
	}
	if names := strings.Join(set.Names(), ","); names != "b,z" || len(set.Problems()) != 1 {
		t.Errorf("clouds %s, problems %v", names, set.Problems())
	}
}

func TestStartWithAnEmptyFileFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	writeFile(t, file, "clouds:\n")
	_, err := New(Options{File: file, Logger: log.NewNopLogger(), Build: func(*cloud.Config) (collector.Target, error) {
		t.Error("built a cloud of an empty file")
		return collector.Target{}, nil
	}})
	if err == nil || !strings.Contains(err.Error(), file+": no cloud under clouds:") {
		t.Errorf("start with an empty clouds.yaml: %v", err)
	}
	// With another cloud (the environment's), an empty clouds.yaml is fine.
	env := &cloud.Config{Name: cloud.EnvCloudName}
	if _, err := New(Options{File: file, Fixed: []*cloud.Config{env}, Default: env.Name, Logger: log.NewNopLogger(),
		Build: func(*cloud.Config) (collector.Target, error) { return collector.Target{}, nil }}); err != nil {
		t.Errorf("start with the environment's cloud and an empty clouds.yaml: %v", err)
	}
}

func TestARefusedReloadBuildsNothingOrForgetsWhatItBuilt(t *testing.T) {
	var forgotten []string
	set, file, _, built := setWithoutDefault(t, twoEntries, Options{
		Default: "a",
		Forget:  func(cloud string) { forgotten = append(forgotten, cloud) },
		Build: func(cfg *cloud.Config) (collector.Target, error) {
			if cfg.AuthOptions.TokenID == "t-a2" {
				return collector.Target{}, errors.New("no client for a")
			}
			return collector.Target{Cloud: cfg.Name}, nil
		},
	})
	c := "  c:\n    auth_type: token\n    auth: {token: t-c}\n    compute_endpoint_override: http://127.0.0.1:1/v2.1/c\n"
	// c is new and loads; a's entry, the default's, lost its token: refused before building
	// anything.
	writeFile(t, file, strings.Replace(twoEntries, "{token: t-a}", "{}", 1)+c)
	if err := set.Reload(); err == nil || built["c"] != 0 || len(forgotten) != 0 {
		t.Errorf("reload losing a: %v, built %v, forgotten %v: want it refused, c neither built nor forgotten", err, built, forgotten)
	}
	// a's entry loads but its target cannot be built: refused, and c, built meanwhile, is
	// forgotten.
	writeFile(t, file, strings.Replace(twoEntries, "{token: t-a}", "{token: t-a2}", 1)+c)
	if err := set.Reload(); err == nil || !strings.Contains(err.Error(), "no client for a") {
		t.Errorf("reload failing to build a: %v", err)
	}
	if built["c"] != 1 || strings.Join(forgotten, ",") != "c" {
		t.Errorf("built %v, forgotten %v: want c built, then forgotten", built, forgotten)
	}
}

func TestStartWithAnUnknownDefaultListsTheClouds(t *testing.T) {
	var b strings.Builder
	b.WriteString("clouds:\n")
	for i := range 25 {
		fmt.Fprintf(&b, "  c%02d:\n    auth_type: token\n    auth: {token: t}\n    compute_endpoint_override: http://127.0.0.1:1/v2.1\n", i)
	}
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	writeFile(t, file, b.String())
	_, err := New(Options{File: file, Default: "c99", Logger: log.NewNopLogger(),
		Build: func(*cloud.Config) (collector.Target, error) { return collector.Target{}, nil }})
	want := file + `: no cloud "c99" under clouds: (have "c00", "c01", "c02", "c03", "c04", "c05", "c06", "c07", "c08", "c09", ` +
		`"c10", "c11", "c12", "c13", "c14", "c15", "c16", "c17", "c18", "c19", and 5 more)`
	if err == nil || err.Error() != want {
		t.Errorf("start with --cloud=c99:\n%v\nwant\n%s", err, want)
	}
}

func TestUnknownKeysAreWarnedOncePerLoad(t *testing.T) {
	content := strings.Replace(twoEntries, "    auth: {token: t-b}", "    regoin_name: r\n    auth: {token: t-b, usrname: u}", 1)
	set, _, logs, _ := setWithoutDefault(t, content, Options{})
	for _, load := range []string{"start-up", "reload"} {
		if load == "reload" {
			if err := set.Reload(); err != nil {
				t.Fatal(err)
			}
		}
		var warnings []string
		for _, line := range logs.Take() {
			if strings.Contains(line, "level=warn") {
				warnings = append(warnings, line)
			}
		}
		if len(warnings) != 2 || !strings.Contains(warnings[0], "cloud=b key=auth.usrname") || !strings.Contains(warnings[1], "cloud=b key=regoin_name") {
			t.Errorf("%s: warnings %q, want one per unknown key naming the cloud and the key", load, warnings)
		}
	}
	if keys := set.UnknownKeys(); len(keys) != 2 {
		t.Errorf("UnknownKeys %v", keys)
	}
}

func TestALoadReadsEachFileOnce(t *testing.T) {
	reads := newReadCounter()
	set, file, _, _ := setWithoutDefault(t, twoEntries+"  c:\n    auth_type: token\n    compute_endpoint_override: http://127.0.0.1:1/v2.1/c\n",
		Options{ReadFile: reads.readFile})
	if names := strings.Join(set.Names(), ","); names != "a,b" {
		t.Fatalf("clouds %s, want a,b (c has no token yet)", names)
	}
	// c's token in secure.yaml, which is read as well: each file once per load.
	writeFile(t, filepath.Join(filepath.Dir(file), "secure.yaml"), "clouds:\n  c:\n    auth: {token: t-c}\n")
	for _, load := range []string{"start-up", "reload"} {
		if load == "reload" {
			if err := set.Reload(); err != nil {
				t.Fatal(err)
			}
			if names := strings.Join(set.Names(), ","); names != "a,b,c" {
				t.Errorf("clouds %s after the reload, want a,b,c", names)
			}
		}
		if got, _ := reads.take(); got["clouds.yaml"] != 1 || got["secure.yaml"] != 1 {
			t.Errorf("%s read %v, want clouds.yaml and secure.yaml once each", load, got)
		}
	}
}

// TestLoadingManyCloudsIsLinear counts the work, not the time: a load of 1 000 clouds
// reads each file once, every byte once, and builds each cloud once.
func TestLoadingManyCloudsIsLinear(t *testing.T) {
	const n = 1000
	var clouds, secure strings.Builder
	clouds.WriteString("clouds:\n")
	secure.WriteString("clouds:\n")
	for i := range n {
		fmt.Fprintf(&clouds, "  c%04d:\n    auth: {auth_url: http://127.0.0.1:1/v3, username: u, user_domain_name: Default, project_name: p, project_domain_name: Default}\n", i)
		fmt.Fprintf(&secure, "  c%04d:\n    auth: {password: p%d}\n", i, i)
	}
	reads := newReadCounter()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "secure.yaml"), secure.String())
	file := filepath.Join(dir, "clouds.yaml")
	writeFile(t, file, clouds.String())
	builds := 0
	set, err := New(Options{File: file, ReadFile: reads.readFile, Logger: log.NewNopLogger(), Build: func(cfg *cloud.Config) (collector.Target, error) {
		builds++
		return collector.Target{Cloud: cfg.Name}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(set.Names()); got != n || builds != n {
		t.Errorf("%d clouds, %d builds; want %d each", got, builds, n)
	}
	gotReads, gotBytes := reads.take()
	if gotReads["clouds.yaml"] != 1 || gotReads["secure.yaml"] != 1 ||
		gotBytes["clouds.yaml"] != clouds.Len() || gotBytes["secure.yaml"] != secure.Len() {
		t.Errorf("loading %d clouds read %v files, %v bytes; want each file once (%d and %d bytes)", n, gotReads, gotBytes, clouds.Len(), secure.Len())
	}
}

func TestNilLoggerLogsNothing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "clouds.yaml")
	// An unknown key and a broken entry: both are logged, at start and at every reload.
	writeFile(t, file, "clouds:\n"+tokenEntry("good", "    regoin_name: x\n")+"  broken:\n    auth_type: nonsense\n")
	set, err := New(Options{File: file, Build: func(*cloud.Config) (collector.Target, error) { return collector.Target{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	_ = set.ReloadAndLog()
}
