package main

// Tests of what the user documentation says (README.md and the reference in docs/): each
// reads the claim from the documentation and checks it against the exporter, so that a change
// to either without the other fails.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v2"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// userDocs are the files of the user documentation: README and the reference it links to.
var userDocs = []string{"README.md", "docs/configuration.md", "docs/operations.md", "docs/performance.md"}

// readme is README.md's text.
func readme(t *testing.T) string {
	t.Helper()
	return string(readFile(t, repoRoot+"/README.md"))
}

// docClaims returns the first submatch of every match of pattern in the user documentation,
// file by file; it fails the test when there are fewer than want matches in all.
func docClaims(t *testing.T, pattern string, want int) []string {
	t.Helper()
	var claims []string
	for _, file := range userDocs {
		text := string(readFile(t, repoRoot+"/"+file))
		for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(text, -1) {
			claims = append(claims, m[1])
		}
	}
	if len(claims) < want {
		t.Fatalf("%v: %d matches of %q, want at least %d", userDocs, len(claims), pattern, want)
	}
	return claims
}

// TestREADMESeriesPerImage counts the series of each image of the demo read through Glance
// (the API that gives every per-image family) and compares the largest count with what
// the docs say an image gives.
func TestREADMESeriesPerImage(t *testing.T) {
	base, _ := startExporter(t, "--demo", "--images.api=glance")
	families := scrape(t, base+"/metrics")
	perImage := map[string]int{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "id" {
					perImage[l.GetValue()]++
				}
			}
		}
	}
	most := 0
	for _, n := range perImage {
		most = max(most, n)
	}
	for _, claim := range docClaims(t, `[Ee]ach image gives up to (\d+) series`, 2) {
		if claim != strconv.Itoa(most) {
			t.Errorf("docs: each image gives up to %s series; an image of the demo gives %d", claim, most)
		}
	}
}

// TestREADMEGoVersion compares the Go version the docs ask for with go.mod's go line.
func TestREADMEGoVersion(t *testing.T) {
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(readFile(t, repoRoot+"/go.mod")))
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	for _, claim := range docClaims(t, `Go (\d[\d.]*) or newer`, 2) {
		if claim != goLine[1] {
			t.Errorf("docs ask for Go %s or newer; go.mod needs %s", claim, goLine[1])
		}
	}
}

// TestREADMEHeaderBound sends the exporter's server a request line and headers of exactly
// the size the docs allow, and one byte more.
func TestREADMEHeaderBound(t *testing.T) {
	claims := docClaims(t, `(?:hold at most|request line and headers over) (\d+) KiB`, 3)
	for _, claim := range claims[1:] {
		if claim != claims[0] {
			t.Fatalf("docs give two bounds on request headers: %v", claims)
		}
	}
	kib, _ := strconv.Atoi(claims[0])
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := newServer(cfg, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), log.NewNopLogger())
	go func() { _ = server.Serve(listener) }()
	t.Cleanup(func() { _ = server.Close() })
	for size, want := range map[int]int{kib << 10: http.StatusOK, kib<<10 + 1: http.StatusRequestHeaderFieldsTooLarge} {
		if got := statusOfRequestOfSize(t, listener.Addr().String(), size); got != want {
			t.Errorf("a request line and headers of %d bytes: %d, want %d (docs: at most %d KiB)", size, got, want, kib)
		}
	}
}

// statusOfRequestOfSize sends a GET whose request line and headers, final empty line
// included, are exactly size bytes, and returns the answer's status.
func statusOfRequestOfSize(t *testing.T, addr string, size int) int {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "GET / HTTP/1.1\r\nHost: x\r\nX-Fill: "
	const end = "\r\n\r\n"
	request := head + strings.Repeat("a", size-len(head)-len(end)) + end
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestHelpAndLandingPageNameEveryImageAPI checks that --help and the landing page say what
// the exporter lists: Nova, Glance v2 and Huawei IMS, not only Nova-compatible clouds.
func TestHelpAndLandingPageNameEveryImageAPI(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	base, _ := startExporter(t, "--demo")
	for what, text := range map[string]string{"--help": cfg.flags.Help, "the landing page": get(t, base+"/")} {
		for _, want := range []string{"Nova", "Glance v2", "Huawei IMS"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s does not name %s", what, want)
			}
		}
		if strings.Contains(text, "Nova-compatible clouds") {
			t.Errorf("%s still says Nova-compatible clouds only", what)
		}
	}
}

// TestREADMEFlagTable compares the tables of flags, README's and the reference's, with the
// flags the exporter declares.
func TestREADMEFlagTable(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"README.md", "docs/configuration.md"} {
		checkFlagTable(t, cfg, file)
	}
}

// checkFlagTable checks that every flag cfg declares is in file's table of flags, and every
// flag of the table exists, with its default.
func checkFlagTable(t *testing.T, cfg *config, file string) {
	t.Helper()
	table := flagTable(t, file)
	declared := map[string]bool{}
	for _, f := range cfg.flags.Flags {
		if f.Hidden || f.Name == "help" {
			continue
		}
		declared[f.Name] = true
		documented, found := table[f.Name]
		if !found {
			t.Errorf("--%s is not in %s's table of flags", f.Name, file)
			continue
		}
		documented = normalDefault(documented)
		if f.IsBoolFlag() && documented == "" {
			documented = "off"
		}
		if want := flagDefault(f.IsBoolFlag(), f.Default); documented != want {
			t.Errorf("--%s: %s's default %q, the flag's %q", f.Name, file, documented, want)
		}
	}
	for name := range table {
		if !declared[name] {
			t.Errorf("%s's table of flags has --%s, which the exporter does not declare", file, name)
		}
	}
}

// flagTable is the table of flags in the section "Flags" of file: the default column by
// flag name (several flags may share a row).
func flagTable(t *testing.T, file string) map[string]string {
	t.Helper()
	_, section, _ := strings.Cut(string(readFile(t, repoRoot+"/"+file)), "\n## Flags\n")
	section, _, _ = strings.Cut(section, "\n## ")
	flagName := regexp.MustCompile("`--(?:\\[no-\\])?([a-z][a-z.-]*)`")
	table := map[string]string{}
	for line := range strings.Lines(section) {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`--") {
			continue
		}
		for _, m := range flagName.FindAllStringSubmatch(cells[1], -1) {
			table[m[1]] = strings.TrimSpace(cells[2])
		}
	}
	if len(table) < 20 {
		t.Fatalf("%s's table of flags: only %d flags found", file, len(table))
	}
	return table
}

// flagDefault is a flag's default as README writes it: on or off for a boolean flag, else
// the value, empty when there is none.
func flagDefault(isBool bool, defaults []string) string {
	value := strings.Join(defaults, ",")
	if isBool {
		if value == "true" {
			return "on"
		}
		return "off"
	}
	return normalDefault(value)
}

// byteSize is a size as README writes it, 8 MiB.
var byteSize = regexp.MustCompile(`^(\d+) ?([KMG])iB$`)

// normalDefault turns a default as README writes it (`60s`, 8 MiB) into one form: sizes
// in bytes, durations as time.Duration prints them, backticks dropped.
func normalDefault(s string) string {
	s = strings.Trim(s, "`")
	if d, err := time.ParseDuration(s); err == nil {
		return d.String()
	}
	if m := byteSize.FindStringSubmatch(s); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return fmt.Sprint(n << (10 * (strings.Index("KMG", m[2]) + 1)))
	}
	return s
}

// TestREADMEDemoCloudsYAML writes the clouds.yaml entry README gives for the --demo
// simulator, with the address README says to start it on, and lists the demo's images
// through it from a second exporter.
func TestREADMEDemoCloudsYAML(t *testing.T) {
	text := readme(t)
	block := regexp.MustCompile("(?s)```yaml\\n(clouds:\\n  demo:\\n.*?)```").FindStringSubmatch(text)
	address := regexp.MustCompile("--demo --demo\\.listen-address=([^\\s`]+)").FindStringSubmatch(text)
	if block == nil || address == nil {
		t.Fatal("README gives no clouds.yaml entry `demo` for the --demo simulator, or no --demo.listen-address to start it on")
	}
	free := freeAddress(t)
	demo, _ := startExporter(t, "--demo", "--demo.listen-address="+free)
	entry := strings.ReplaceAll(block[1], address[1], free)
	// The same entry read through Glance and IMS, with the keys README says they need.
	clouds := entry +
		strings.Replace(entry, "clouds:\n  demo:\n", "  demo-glance:\n    image_api: glance\n", 1) +
		strings.Replace(entry, "clouds:\n  demo:\n", "  demo-ims:\n    image_api: ims\n    image_endpoint_override: http://"+free+"\n", 1)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, clouds))
	t.Setenv("OS_CLOUD", "demo")
	own, logs := startExporter(t)
	want := imageIDs(scrape(t, demo+"/metrics"))
	for _, path := range []string{"/metrics", "/probe?cloud=demo-glance", "/probe?cloud=demo-ims"} {
		got := scrape(t, own+path)
		if up, _ := value(got, "nova_up", nil); up != 1 {
			t.Fatalf("%s of README's clouds.yaml for the demo:\n%s\nnova_up %v; log:\n%s", path, clouds, up, logs)
		}
		// Glance and IMS list the demo's hidden image too, which Nova leaves out.
		ids := imageIDs(got)
		if missing := slices.DeleteFunc(slices.Clone(want), func(id string) bool { return slices.Contains(ids, id) }); len(want) == 0 || len(missing) > 0 {
			t.Errorf("%s: through README's clouds.yaml %d images, missing %v of the %d --demo lists", path, len(ids), missing, len(want))
		}
	}
}

// imageIDs are the ids of nova_image_status.
func imageIDs(families map[string]*dto.MetricFamily) []string {
	var ids []string
	for _, m := range families["nova_image_status"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "id" {
				ids = append(ids, l.GetValue())
			}
		}
	}
	return ids
}

// TestREADMEServerBounds compares the bounds the docs give the exporter's own HTTP server and
// --client.max-retries with the exporter's.
func TestREADMEServerBounds(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	server := newServer(cfg, http.NotFoundHandler(), log.NewNopLogger())
	for _, claim := range docClaims(t, `headers must arrive within (\d+s)`, 2) {
		if d, _ := time.ParseDuration(claim); d != server.ReadHeaderTimeout {
			t.Errorf("docs: request headers must arrive within %s; the server waits %s", claim, server.ReadHeaderTimeout)
		}
	}
	for _, claim := range docClaims(t, `keep-alive connections? (?:is|are) closed after (\d+) minutes`, 3) {
		if minutes, _ := strconv.Atoi(claim); time.Duration(minutes)*time.Minute != server.IdleTimeout {
			t.Errorf("docs: idle keep-alive connections are closed after %s minutes; the server after %s", claim, server.IdleTimeout)
		}
	}
	most, _ := strconv.Atoi(docClaims(t, `0 never retries; at most (\d+)`, 1)[0])
	if _, err := parseFlags([]string{fmt.Sprintf("--client.max-retries=%d", most)}, io.Discard); err != nil {
		t.Errorf("--client.max-retries=%d, the docs' most: %v", most, err)
	}
	if _, err := parseFlags([]string{fmt.Sprintf("--client.max-retries=%d", most+1)}, io.Discard); err == nil {
		t.Errorf("--client.max-retries=%d accepted; the docs say at most %d", most+1, most)
	}
}

// TestREADMECrossbuildPlatforms compares the platforms the docs list with .promu.yml's and
// the Makefile's.
func TestREADMECrossbuildPlatforms(t *testing.T) {
	var promu struct {
		Crossbuild struct{ Platforms []string } `yaml:"crossbuild"`
	}
	if err := yaml.Unmarshal(readFile(t, repoRoot+"/.promu.yml"), &promu); err != nil {
		t.Fatal(err)
	}
	makefile := regexp.MustCompile(`(?m)^CROSSBUILD_PLATFORMS \?= (.*)$`).FindStringSubmatch(string(readFile(t, repoRoot+"/Makefile")))
	if makefile == nil || strings.Join(promu.Crossbuild.Platforms, " ") != makefile[1] {
		t.Errorf(".promu.yml builds %v, the Makefile %v", promu.Crossbuild.Platforms, makefile)
	}
	// docs/operations.md: "every platform of `.promu.yml` (linux amd64, arm64; darwin amd64; ...)".
	list := docClaims(t, "every platform of `.promu.yml` \\(([^)]*)\\)", 1)[0]
	var documented []string
	for group := range strings.SplitSeq(strings.Join(strings.Fields(list), " "), "; ") {
		osName, arches, _ := strings.Cut(group, " ")
		for arch := range strings.SplitSeq(arches, ", ") {
			documented = append(documented, osName+"/"+arch)
		}
	}
	if !slices.Equal(documented, promu.Crossbuild.Platforms) {
		t.Errorf("the docs list %v, .promu.yml %v", documented, promu.Crossbuild.Platforms)
	}
}

// TestREADMEPageSizeHint: a 403 to a listing with a page size set logs that the page size
// may be too large, as the docs say of Huawei.
func TestREADMEPageSizeHint(t *testing.T) {
	docClaims(t, `(`+regexp.QuoteMeta("refused a page size you set, the listing fails and the log says to lower it")+`)`, 1)
	sim := faultyCloud(t, nil)
	sim.SetFaults(func(int, *http.Request) simulator.Fault { return simulator.Fault{Status: http.StatusForbidden} })
	base, logs := startExporter(t, "--cloud=faulty", "--images.page-size=10")
	if up, _ := value(scrape(t, base+"/metrics"), "nova_up", nil); up != 0 {
		t.Errorf("nova_up %v after a 403, want 0", up)
	}
	if lines := linesWith(logs.String(), "try a smaller page-size"); len(lines) != 1 || !strings.Contains(lines[0], "HTTP 403") {
		t.Errorf("want one line saying to try a smaller page-size, log:\n%s", logs)
	}
}

// TestDocLinksResolve follows every relative link of README.md, CONTRIBUTING.md and
// docs/*.md: the file it names exists, and its #anchor is a heading of that file.
func TestDocLinksResolve(t *testing.T) {
	docs, err := filepath.Glob(repoRoot + "/docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	docs = append(docs, repoRoot+"/README.md", repoRoot+"/CONTRIBUTING.md")
	link := regexp.MustCompile(`\]\(([^)#:]*)(?:#([^)]*))?\)`)
	for _, doc := range docs {
		for _, m := range link.FindAllStringSubmatch(string(readFile(t, doc)), -1) {
			target := doc
			if m[1] != "" {
				target = filepath.Join(filepath.Dir(doc), m[1])
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s: %v", doc, m[0], err)
				continue
			}
			if m[2] != "" && !slices.Contains(headingAnchors(t, target), m[2]) {
				t.Errorf("%s links to %s: no heading of %s has the anchor #%s", doc, m[0], target, m[2])
			}
		}
	}
}

// headingAnchors are the anchors GitHub gives the headings of the Markdown file at path:
// lower case, spaces as hyphens, no punctuation but hyphens and underscores.
func headingAnchors(t *testing.T, path string) []string {
	t.Helper()
	if !strings.HasSuffix(path, ".md") {
		return nil
	}
	var anchors []string
	for _, m := range regexp.MustCompile(`(?m)^#+ (.*)$`).FindAllStringSubmatch(string(readFile(t, path)), -1) {
		anchor := strings.Map(func(r rune) rune {
			switch {
			case r == ' ':
				return '-'
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				return unicode.ToLower(r)
			}
			return -1
		}, m[1])
		anchors = append(anchors, anchor)
	}
	return anchors
}

// TestREADMEMetricsTableNamesEveryFamily compares the families of README's metrics table with
// those the exporter serves for the three image APIs (an admin's Glance and IMS through
// AK/SK, with quotas, project names and orphaned snapshots), /probe and /metrics together: a
// family served but missing from the table, or named in the table and never served, fails.
func TestREADMEMetricsTableNamesEveryFamily(t *testing.T) {
	sim := simulator.New(simulator.Options{Images: simulator.FullImages(testNow), Admin: true,
		GlanceQuotas: map[string]int64{simulator.GlanceImageSizeTotal: 1000, simulator.GlanceImageCountTotal: 100},
		AccessKeys:   []simulator.AccessKey{{AK: testAK, SK: testSK}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, threeAPIClouds(srv.URL)))
	base, _ := startExporter(t, "--cloud=nova", "--images.orphaned-snapshots")
	served := map[string]bool{}
	for _, path := range []string{"/metrics", "/probe?cloud=nova", "/probe?cloud=glance", "/probe?cloud=ims"} {
		for name := range scrape(t, base+path) {
			if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") && !strings.HasPrefix(name, "promhttp_") {
				served[name] = true
			}
		}
	}
	table := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(nova_[a-z_]+)` \\|").FindAllStringSubmatch(readme(t), -1) {
		table[m[1]] = true
	}
	for name := range served {
		if !table[name] {
			t.Errorf("%s is served but not in README's metrics table", name)
		}
	}
	for name := range table {
		if !served[name] {
			t.Errorf("README's metrics table names %s, which is never served", name)
		}
	}
}
