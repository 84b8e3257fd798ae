package dashboards

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/model"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// builtins are the series Prometheus makes itself, with the labels they carry (nil: any).
var builtins = map[string]map[string]bool{
	"up":                                    nil,
	"scrape_duration_seconds":               nil,
	"scrape_samples_scraped":                nil,
	"scrape_samples_post_metric_relabeling": nil,
	"scrape_series_added":                   nil,
	"ALERTS":                                nil,
	"ALERTS_FOR_STATE":                      nil,
}

// targetLabels are the labels Prometheus adds to every scraped series: job and instance, and the
// cloud label the README's /probe relabelling sets.
var targetLabels = map[string]bool{"job": true, "instance": true, "cloud": true}

// knownMetrics says which metric names a query may use: what the exporter emits, the recording
// rules, Prometheus's builtins.
type knownMetrics struct {
	exporter exposed
	records  map[string]bool
}

func (k knownMetrics) known(name string) bool {
	_, builtin := builtins[name]
	return builtin || k.records[name] || k.exporter[name] != nil
}

func (k knownMetrics) all() []string {
	var out []string
	for n := range builtins {
		out = append(out, n)
	}
	for n := range k.records {
		out = append(out, n)
	}
	for n := range k.exporter {
		out = append(out, n)
	}
	return out
}

var literalAlternation = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\|[a-zA-Z_:][a-zA-Z0-9_:]*)*$`)

var promqlParser = parser.NewParser(parser.Options{})

// checkExpr parses expr (Grafana variables already substituted) and returns the problems found:
// a parse error, a metric name that is not known, a selector that names no metric, a label that an
// exporter metric does not carry.
func checkExpr(expr string, k knownMetrics) (names []string, problems []string) {
	ast, err := promqlParser.ParseExpr(expr)
	if err != nil {
		return nil, []string{fmt.Sprintf("does not parse: %v\n\t%s", err, expr)}
	}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		var selNames []string
		if vs.Name != "" {
			selNames = append(selNames, vs.Name)
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != model.MetricNameLabel || (vs.Name != "" && m.Type == labels.MatchEqual && m.Value == vs.Name) {
				continue
			}
			switch {
			case m.Type == labels.MatchEqual:
				selNames = append(selNames, m.Value)
			case m.Type == labels.MatchRegexp && literalAlternation.MatchString(m.Value):
				selNames = append(selNames, strings.Split(m.Value, "|")...)
			default: // another regex or a negative matcher: at least one known name must match
				matched := false
				for _, n := range k.all() {
					if m.Matches(n) {
						matched = true
						selNames = append(selNames, n)
					}
				}
				if !matched {
					problems = append(problems, fmt.Sprintf("matcher %s matches no known metric", m))
				}
			}
		}
		if len(selNames) == 0 {
			problems = append(problems, fmt.Sprintf("selector %s names no metric", vs))
		}
		for _, n := range selNames {
			names = append(names, n)
			if !k.known(n) {
				problems = append(problems, fmt.Sprintf("metric %q is neither emitted by the exporter, nor a recording rule, nor a Prometheus builtin", n))
				continue
			}
			have := k.exporter[n]
			if have == nil {
				continue // builtin or recording rule: its labels are not checked
			}
			for _, m := range vs.LabelMatchers {
				if m.Name != model.MetricNameLabel && !have[m.Name] && !targetLabels[m.Name] {
					problems = append(problems, fmt.Sprintf("metric %q has no label %q (it has %s)", n, m.Name, strings.Join(SortedKeys(have), ", ")))
				}
			}
		}
		return nil
	})
	return names, problems
}

// demoAPIs are the image APIs the exporter's demo serves its images through (--images.api).
var demoAPIs = []string{"nova", "glance", "ims"}

// quotaFamilies are the quota families of issue 16, each with the labels it carries besides the
// target's.
var quotaFamilies = map[string]map[string]bool{
	"nova_image_quota_up":          {},
	"nova_image_quota_limit":       {"resource": true},
	"nova_image_quota_usage":       {"resource": true},
	"nova_image_quota_limit_bytes": {"resource": true},
	"nova_image_quota_usage_bytes": {"resource": true},
}

// quotaRatioRules are the recording rules of the quota families, each with the family its
// numerator is.
var quotaRatioRules = map[string]string{
	"cloud:nova_image_quota_usage:ratio":       "nova_image_quota_usage",
	"cloud:nova_image_quota_usage_bytes:ratio": "nova_image_quota_usage_bytes",
}

// projectFamilies are the per-project families of issue 23, each with the labels it carries
// besides the target's. They need the image's owner, which Nova's proxy does not send.
var projectFamilies = map[string]map[string]bool{
	"nova_project_images":            {"project_id": true, "status": true},
	"nova_project_images_size_bytes": {"project_id": true, "status": true},
}

// orphanFamilies are the orphaned-snapshot families of issue 24, each with the labels it carries
// besides the target's: served only where orphaned snapshots are on (--images.orphaned-snapshots),
// which the demo leaves off, so they are checked against this contract; the e2e clouds have them
// on (orphanFamilyOf), and TestOrphanPanels runs their panels through promtool.
var orphanFamilies = map[string]map[string]bool{
	"nova_image_servers_up":              {},
	"nova_image_orphaned":                {"id": true, "name": true},
	"nova_orphaned_snapshots":            {"project_id": true},
	"nova_orphaned_snapshots_size_bytes": {"project_id": true},
}

// sameLabels reports whether a and b hold the same labels.
func sameLabels(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for l := range a {
		if !b[l] {
			return false
		}
	}
	return true
}

// orphanFamilyOf reports whether a cloud of the e2e test read through api has the
// orphaned-snapshot family name: every API has the server listing's nova_image_servers_up; a
// snapshot is judged only where the listing covered its owner, and the e2e credentials are a
// project's: a pre-issued token (nova, glance), whose project the exporter does not know, and
// AK/SK (ims), which names it. So only ims has orphan samples.
func orphanFamilyOf(api, name string) bool {
	return name == "nova_image_servers_up" || api == "ims"
}

// isOrphanSeries reports whether name is an orphaned-snapshot family.
func isOrphanSeries(name string) bool {
	_, family := orphanFamilies[name]
	return family
}

// projectInfo is nova_project_info with its labels: present only where the credential may read
// the owners' names from Keystone/IAM, so the dashboard must do without it.
const projectInfo = "nova_project_info"

var projectInfoLabels = map[string]bool{"project_id": true, "project_name": true, "domain_id": true}

// projectFamilyOf reports whether a cloud read through api has the per-project family (or a
// recording rule of them, cloud_project:*) name: every API that sends an owner, Glance and IMS.
// The public bytes are only Glance's: IMS sends no size for its public images.
func projectFamilyOf(api, name string) bool {
	if name == "cloud_project:nova_image_size_bytes:sum_public" {
		return api == "glance"
	}
	return api != "nova"
}

// isProjectSeries reports whether name is a per-project family or one of their recording rules.
func isProjectSeries(name string) bool {
	_, family := projectFamilies[name]
	return family || strings.HasPrefix(name, "cloud_project:")
}

// quotaFamilyOf reports whether a cloud read through api has the quota family (or the recording rule
// of one) name: Nova has no quota API; IMS has count quotas only; Glance has both.
func quotaFamilyOf(api, name string) bool {
	if f, ok := quotaRatioRules[name]; ok {
		name = f
	}
	switch api {
	case "glance":
		return true
	case "ims":
		return !strings.HasSuffix(name, "_bytes")
	}
	return false
}

// exporterMetrics runs the exporter's demo reading its images through api and reads /metrics and
// /probe?cloud=demo; it returns what they hold and /probe's text.
func exporterMetrics(t *testing.T, api string) (exposed, string) {
	t.Helper()
	base, _ := startExporter(t, nil, "--demo", "--images.api="+api)
	e := exposed{}
	var probe string
	for _, path := range []string{"/probe?cloud=demo", "/metrics"} {
		text := fetch(t, base+path)
		if err := e.add(text); err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		if probe == "" {
			probe = text
		}
	}
	return e, probe
}

// TestQueriesUseOnlyExportedMetrics parses every PromQL expression of the dashboard and the rules
// and checks every metric name against what the exporter's demo really emits, through each image
// API: the dashboard and the rules must work unchanged whichever API a cloud is read through.
func TestQueriesUseOnlyExportedMetrics(t *testing.T) {
	d, err := LoadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	dq, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	rq, records, err := RuleQueries(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(dq) < 20 || len(rq) < 10 {
		t.Errorf("found only %d dashboard and %d rule expressions: the extraction is broken", len(dq), len(rq))
	}
	for _, api := range demoAPIs {
		t.Run(api, func(t *testing.T) {
			exp, probe := exporterMetrics(t, api)
			k := knownMetrics{exporter: exp, records: records}

			// The demo reads through api: only Glance and IMS name the import Nova calls UNKNOWN.
			if got, want := strings.Contains(probe, `api_status="importing"`), api != "nova"; got != want {
				t.Errorf("--demo --images.api=%s: an image with api_status \"importing\" is %v, want %v: is the demo reading through %s?", api, got, want, api)
			}

			// The contract of issue 7: the exporter must emit these; if it stops, this test says so first.
			want := []string{
				"nova_up", "nova_scrape_duration_seconds", "nova_listing_age_seconds", "nova_listing_unreadable_fields",
				"nova_images", "nova_image_status", "nova_image_size_bytes", "nova_image_min_disk_bytes",
				"nova_image_min_ram_bytes", "nova_image_progress_ratio", "nova_image_created_timestamp_seconds",
				"nova_image_updated_timestamp_seconds", "nova_image_info", "nova_image_exporter_build_info",
				"nova_image_exporter_auth_failures_total", "nova_image_exporter_identity_errors_total", "nova_image_exporter_api_requests_total",
				"nova_image_exporter_api_request_duration_seconds_bucket", "nova_image_exporter_scrapes_rejected_total",
				"nova_image_exporter_config_last_reload_successful", "nova_images_size_bytes",
			}
			if api == "glance" { // issue 15: the virtual size, where the API gives it (IMS: "unavailable currently")
				want = append(want, "nova_image_virtual_size_bytes")
			}
			for _, n := range want {
				if k.exporter[n] == nil {
					t.Errorf("the exporter's demo (--images.api=%s) does not emit %s", api, n)
				}
			}
			// Issue 16: the quota families where the API has them. The dashboard and the rules serve
			// clouds of every API, so a family the API lacks is checked against the contract's labels
			// (the e2e test checks that the panels reading it are empty for such a cloud).
			for n, labels := range quotaFamilies {
				want := quotaFamilyOf(api, n)
				if got := k.exporter[n] != nil; got != want {
					t.Errorf("the exporter's demo (--images.api=%s) emits %s: %v, want %v", api, n, got, want)
				}
				if !want {
					k.exporter[n] = labels
				}
			}
			// Issue 23: the per-project families and the owner label where the API sends an owner;
			// nova_project_info where the demo's credential may read the names, else its contract.
			for n, labels := range projectFamilies {
				want := projectFamilyOf(api, n)
				if got := k.exporter[n] != nil; got != want {
					t.Errorf("the exporter's demo (--images.api=%s) emits %s: %v, want %v", api, n, got, want)
				}
				if !want {
					k.exporter[n] = labels
				}
			}
			for n, labels := range orphanFamilies {
				if k.exporter[n] == nil {
					k.exporter[n] = labels
				} else if !sameLabels(k.exporter[n], labels) {
					t.Errorf("the exporter's demo (--images.api=%s): %s has labels %v, want %v", api, n, k.exporter[n], labels)
				}
			}
			if k.exporter[projectInfo] == nil {
				k.exporter[projectInfo] = projectInfoLabels
			}
			if api == "nova" {
				k.exporter["nova_image_info"]["owner"] = true // always empty: Nova sends no owner
			} else if !k.exporter["nova_image_info"]["owner"] {
				t.Errorf("the exporter's demo (--images.api=%s): nova_image_info has no label owner", api)
			}
			for _, l := range []string{"api_status", "visibility", "server_id"} {
				if !k.exporter["nova_image_info"][l] {
					t.Errorf("the exporter's demo (--images.api=%s): nova_image_info has no label %s", api, l)
				}
			}

			used := map[string]bool{}
			check := func(q Query, expr string) {
				names, problems := checkExpr(expr, k)
				for _, n := range names {
					used[n] = true
				}
				for _, p := range problems {
					t.Errorf("%s: %s", q.Where, p)
				}
			}
			for _, q := range dq {
				expr, err := Substitute(q.Expr, d.Variables, nil)
				if err != nil {
					t.Errorf("%s: %v", q.Where, err)
					continue
				}
				check(q, expr)
			}
			for _, q := range rq {
				check(q, q.Expr)
			}
			t.Logf("%d dashboard and %d rule expressions checked; metrics used: %s", len(dq), len(rq), strings.Join(SortedKeys(used), " "))
		})
	}
}

// TestCheckerCatchesMistakes makes sure the check above can fail.
func TestCheckerCatchesMistakes(t *testing.T) {
	k := knownMetrics{
		exporter: exposed{"nova_up": {}, "nova_image_status": {"id": true, "name": true, "status": true}},
		records:  map[string]bool{"cloud:nova_image_size_bytes:sum": true},
	}
	for _, tt := range []struct{ expr, want string }{
		{`nova_image_sizes_bytes{job=~".*"}`, `metric "nova_image_sizes_bytes" is neither`},
		{`sum(rate(nova_missing_total[5m])) / sum(nova_up)`, `metric "nova_missing_total"`},
		{`{__name__=~"nova_up|nova_gone"}`, `metric "nova_gone"`},
		{`{__name__=~"foo.*"}`, `matches no known metric`},
		{`{job="x"}`, `names no metric`},
		{`nova_image_status{state="SAVING"}`, `has no label "state"`},
		{`sum(nova_up`, `does not parse`},
	} {
		_, problems := checkExpr(tt.expr, k)
		if !strings.Contains(strings.Join(problems, "\n"), tt.want) {
			t.Errorf("%s: problems %q, want one containing %q", tt.expr, problems, tt.want)
		}
	}
	for _, ok := range []string{
		`nova_up{job=~".*", instance=~".*", cloud=~".*"}`,
		`up == 0`,
		`ALERTS{alertname=~"NovaImage.*"}`,
		`sum(cloud:nova_image_size_bytes:sum)`,
		`{__name__=~"nova_up|nova_image_status", job=~".*"}`,
	} {
		if _, problems := checkExpr(ok, k); len(problems) > 0 {
			t.Errorf("%s: unexpected problems %q", ok, problems)
		}
	}
}

func TestVariableQueriesAndSubstitution(t *testing.T) {
	for _, tt := range []struct{ q, expr, label string }{
		{`label_values(nova_up{job=~"$job"}, cloud)`, `nova_up{job=~"$job"}`, "cloud"},
		{`label_values({__name__=~"a|b", job=~"$job"},instance)`, `{__name__=~"a|b", job=~"$job"}`, "instance"},
		{`label_values(job)`, "", ""},
		{`query_result(topk(5, sum by (cloud) (nova_image_size_bytes)))`, `topk(5, sum by (cloud) (nova_image_size_bytes))`, ""},
		{`metrics(nova_.*)`, "", ""},
		{`label_names()`, "", ""},
		{`up{job="x"}`, `up{job="x"}`, ""},
	} {
		expr, label, err := VariableQuery(tt.q)
		if err != nil || expr != tt.expr || label != tt.label {
			t.Errorf("VariableQuery(%q) = %q, %q, %v; want %q, %q", tt.q, expr, label, err, tt.expr, tt.label)
		}
	}
	vars := map[string]bool{"job": true, "cloud": true}
	got, err := Substitute(`rate(x{job=~"$job",cloud=~"${cloud}",i=~"[[job]]"}[$__rate_interval]) * ${__range_s} / $__range_s`, vars, nil)
	if want := `rate(x{job=~".*",cloud=~".*",i=~".*"}[1m]) * 3600 / 3600`; err != nil || got != want {
		t.Errorf("Substitute = %q, %v; want %q", got, err, want)
	}
	if _, err := Substitute(`x{a=~"$nosuch"}`, vars, nil); err == nil {
		t.Error("an unknown variable was accepted")
	}
}

// TestDashboardIsImportable checks what Grafana needs to import the dashboard as is, and what
// issue 7 asks of it.
func TestDashboardIsImportable(t *testing.T) {
	d, err := LoadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := d.Raw["schemaVersion"].(float64); v < 36 {
		t.Errorf("schemaVersion %v, want >= 36", v)
	}
	if !strings.Contains(strings.ToLower(d.Title), "image capacity") {
		t.Errorf("title %q does not say image capacity", d.Title)
	}
	if d.Raw["uid"] == nil || d.Raw["id"] != nil {
		t.Errorf("want a fixed uid and a null id, got uid %v id %v", d.Raw["uid"], d.Raw["id"])
	}
	for _, v := range []string{"datasource", "job", "instance", "cloud"} {
		if !d.Variables[v] {
			t.Errorf("no template variable %q", v)
		}
	}
	units := map[string]bool{}
	ids := map[float64]bool{}
	for _, p := range d.Panels() {
		title, _ := p["title"].(string)
		typ, _ := p["type"].(string)
		id, _ := p["id"].(float64)
		if ids[id] {
			t.Errorf("panel %q: duplicate id %v", title, id)
		}
		ids[id] = true
		if typ == "row" {
			continue
		}
		ds, _ := p["datasource"].(map[string]any)
		if ds["uid"] != "${datasource}" {
			t.Errorf("panel %q: datasource %v, want the ${datasource} variable", title, p["datasource"])
		}
		for _, tg := range maps(p["targets"]) {
			tds, _ := tg["datasource"].(map[string]any)
			if tds["uid"] != "${datasource}" {
				t.Errorf("panel %q: a target's datasource is %v", title, tg["datasource"])
			}
		}
		if _, ok := p["gridPos"].(map[string]any); !ok {
			t.Errorf("panel %q has no gridPos", title)
		}
		fc, _ := p["fieldConfig"].(map[string]any)
		defaults, _ := fc["defaults"].(map[string]any)
		if u, _ := defaults["unit"].(string); u != "" {
			units[u] = true
		} else if typ != "table" {
			t.Errorf("panel %q (%s) has no unit", title, typ)
		}
		for _, o := range maps(fc["overrides"]) {
			for _, prop := range maps(o["properties"]) {
				if prop["id"] == "unit" {
					units[fmt.Sprint(prop["value"])] = true
				}
			}
		}
	}
	for _, u := range []string{"bytes", "s", "percentunit"} {
		if !units[u] {
			t.Errorf("no panel or column uses unit %q", u)
		}
	}
}
