package main

// Tests of what README.md says: each reads the claim from README and checks it against the
// exporter, so that a change to either without the other fails.

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v2"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// readme is README.md's text.
func readme(t *testing.T) string {
	t.Helper()
	return string(readFile(t, repoRoot+"/README.md"))
}

// readmeClaims returns the first submatch of every match of pattern in README; it fails
// the test when README has fewer than want matches.
func readmeClaims(t *testing.T, pattern string, want int) []string {
	t.Helper()
	var claims []string
	for _, m := range regexp.MustCompile(pattern).FindAllStringSubmatch(readme(t), -1) {
		claims = append(claims, m[1])
	}
	if len(claims) < want {
		t.Fatalf("README: %d matches of %q, want at least %d", len(claims), pattern, want)
	}
	return claims
}

// TestREADMESeriesPerImage counts the series of each image of the demo read through Glance
// (the API that gives every per-image family) and compares the largest count with what
// README says an image gives.
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
	for _, claim := range readmeClaims(t, `[Ee]ach image gives up to (\d+) series`, 2) {
		if claim != strconv.Itoa(most) {
			t.Errorf("README: each image gives up to %s series; an image of the demo gives %d", claim, most)
		}
	}
}

// TestREADMEGoVersion compares the Go version README asks for with go.mod's go line.
func TestREADMEGoVersion(t *testing.T) {
	goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(readFile(t, repoRoot+"/go.mod")))
	if goLine == nil {
		t.Fatal("go.mod has no go line")
	}
	for _, claim := range readmeClaims(t, `Go (\d[\d.]*) or newer`, 2) {
		if claim != goLine[1] {
			t.Errorf("README asks for Go %s or newer; go.mod needs %s", claim, goLine[1])
		}
	}
}

// TestREADMEHeaderBound sends the exporter's server a request line and headers of exactly
// the size README allows, and one byte more.
func TestREADMEHeaderBound(t *testing.T) {
	claims := readmeClaims(t, `(?:hold at most|request line and headers over) (\d+) KiB`, 3)
	for _, claim := range claims[1:] {
		if claim != claims[0] {
			t.Fatalf("README gives two bounds on request headers: %v", claims)
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
			t.Errorf("a request line and headers of %d bytes: %d, want %d (README: at most %d KiB)", size, got, want, kib)
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

// TestREADMEFlagTable compares README's table of flags with the flags the exporter
// declares: every flag is in the table, every flag of the table exists, with its default.
func TestREADMEFlagTable(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	table := readmeFlagTable(t)
	declared := map[string]bool{}
	for _, f := range cfg.flags.Flags {
		if f.Hidden || f.Name == "help" {
			continue
		}
		declared[f.Name] = true
		documented, found := table[f.Name]
		if !found {
			t.Errorf("--%s is not in README's table of flags", f.Name)
			continue
		}
		documented = normalDefault(documented)
		if f.IsBoolFlag() && documented == "" {
			documented = "off"
		}
		if want := flagDefault(f.IsBoolFlag(), f.Default); documented != want {
			t.Errorf("--%s: README's default %q, the flag's %q", f.Name, documented, want)
		}
	}
	for name := range table {
		if !declared[name] {
			t.Errorf("README's table of flags has --%s, which the exporter does not declare", name)
		}
	}
}

// readmeFlagTable is README's table of flags: the default column by flag name (several
// flags may share a row).
func readmeFlagTable(t *testing.T) map[string]string {
	t.Helper()
	_, section, _ := strings.Cut(readme(t), "\n## Flags\n")
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
		t.Fatalf("README's table of flags: only %d flags found", len(table))
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

// TestREADMEServerBounds compares the bounds README gives the exporter's own HTTP server and
// --client.max-retries with the exporter's.
func TestREADMEServerBounds(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	server := newServer(cfg, http.NotFoundHandler(), log.NewNopLogger())
	for _, claim := range readmeClaims(t, `headers must arrive within (\d+s)`, 2) {
		if d, _ := time.ParseDuration(claim); d != server.ReadHeaderTimeout {
			t.Errorf("README: request headers must arrive within %s; the server waits %s", claim, server.ReadHeaderTimeout)
		}
	}
	for _, claim := range readmeClaims(t, `keep-alive connections? (?:is|are) closed after (\d+) minutes`, 3) {
		if minutes, _ := strconv.Atoi(claim); time.Duration(minutes)*time.Minute != server.IdleTimeout {
			t.Errorf("README: idle keep-alive connections are closed after %s minutes; the server after %s", claim, server.IdleTimeout)
		}
	}
	most, _ := strconv.Atoi(readmeClaims(t, `0 never retries; at most (\d+)`, 1)[0])
	if _, err := parseFlags([]string{fmt.Sprintf("--client.max-retries=%d", most)}, io.Discard); err != nil {
		t.Errorf("--client.max-retries=%d, README's most: %v", most, err)
	}
	if _, err := parseFlags([]string{fmt.Sprintf("--client.max-retries=%d", most+1)}, io.Discard); err == nil {
		t.Errorf("--client.max-retries=%d accepted; README says at most %d", most+1, most)
	}
}

// TestREADMECrossbuildPlatforms compares the platforms README lists with .promu.yml's and
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
	// README: "every platform of `.promu.yml` (linux amd64, arm64; darwin amd64; ...)".
	list := readmeClaims(t, "every platform of `.promu.yml` \\(([^)]*)\\)", 1)[0]
	var documented []string
	for group := range strings.SplitSeq(strings.Join(strings.Fields(list), " "), "; ") {
		osName, arches, _ := strings.Cut(group, " ")
		for arch := range strings.SplitSeq(arches, ", ") {
			documented = append(documented, osName+"/"+arch)
		}
	}
	if !slices.Equal(documented, promu.Crossbuild.Platforms) {
		t.Errorf("README lists %v, .promu.yml %v", documented, promu.Crossbuild.Platforms)
	}
}

// TestREADMEPageSizeHint: a 403 to a listing with a page size set logs that the page size
// may be too large, as README says of Huawei.
func TestREADMEPageSizeHint(t *testing.T) {
	readmeClaims(t, `(`+regexp.QuoteMeta("refused a page size you set, the listing fails and the log says to lower it")+`)`, 1)
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
