package dashboards

import (
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// The series of TestProjectPanelsNameProjects: two replicas (instances a and b) of one exporter
// list cloud c1, where projects p1 (100 bytes in 2 images) and p2 (30 bytes in 1) own images and
// the credential may read only p1's name (a member's: nova_project_info for its own project).
var projectPanelSeries = []promtoolSeries{
	{`nova_project_images_size_bytes{job="nova_images",instance="a",cloud="c1",project_id="p1",status="ACTIVE"}`, "100x5"},
	{`nova_project_images_size_bytes{job="nova_images",instance="b",cloud="c1",project_id="p1",status="ACTIVE"}`, "100x5"},
	{`nova_project_images_size_bytes{job="nova_images",instance="a",cloud="c1",project_id="p2",status="ACTIVE"}`, "30x5"},
	{`nova_project_images_size_bytes{job="nova_images",instance="b",cloud="c1",project_id="p2",status="ACTIVE"}`, "30x5"},
	{`nova_project_images{job="nova_images",instance="a",cloud="c1",project_id="p1",status="ACTIVE"}`, "2x5"},
	{`nova_project_images{job="nova_images",instance="b",cloud="c1",project_id="p1",status="ACTIVE"}`, "2x5"},
	{`nova_project_images{job="nova_images",instance="a",cloud="c1",project_id="p2",status="ACTIVE"}`, "1x5"},
	{`nova_project_images{job="nova_images",instance="b",cloud="c1",project_id="p2",status="ACTIVE"}`, "1x5"},
	{`nova_project_info{job="nova_images",instance="a",cloud="c1",project_id="p1",project_name="one",domain_id="default"}`, "1x5"},
	{`nova_project_info{job="nova_images",instance="b",cloud="c1",project_id="p1",project_name="one",domain_id="default"}`, "1x5"},
}

type promtoolSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

type promtoolSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

type promtoolExprTest struct {
	Expr       string           `yaml:"expr"`
	EvalTime   string           `yaml:"eval_time"`
	ExpSamples []promtoolSample `yaml:"exp_samples"`
}

// TestProjectPanelsNameProjects runs the "Capacity by project" queries that name projects, as
// the dashboard has them (variables at All), through promtool with the shipped rules: a project
// whose name nova_project_info gives is shown by it, one without by its id, each once although
// two replicas serve the cloud.
func TestProjectPanelsNameProjects(t *testing.T) {
	_, promtool := prometheusBinaries(t)
	d, err := LoadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	named := func(p1, p2 float64) []promtoolSample {
		return []promtoolSample{
			{`{cloud="c1",project_id="p1",project_name="one"}`, p1},
			{`{cloud="c1",project_id="p2",project_name="p2"}`, p2},
		}
	}
	want := map[string][]promtoolSample{
		`panel "Top projects by bytes", query A`:   named(100, 30),
		`panel "Image bytes per project", query A`: named(100, 30),
		`panel "Images per project", query A`:      named(2, 1),
		`panel "Projects", query A`:                named(2, 1),
		`panel "Projects", query B`:                named(100, 30),
	}
	tests := panelExprTests(t, d, queries, want)
	if out, code := promtoolExprTests(t, promtool, projectPanelSeries, tests); code != 0 {
		t.Errorf("promtool test rules on the project panels' queries: exit %d\n%s", code, out)
	}
}

// panelExprTests are the tests of the dashboard's queries named in want (as Query.Where), with
// the variables at All, each to give its samples at 2m; a query of want not in the dashboard
// fails.
func panelExprTests(t *testing.T, d *Dashboard, queries []Query, want map[string][]promtoolSample) []promtoolExprTest {
	t.Helper()
	var tests []promtoolExprTest
	for _, q := range queries {
		samples, ok := want[q.Where]
		if !ok {
			continue
		}
		delete(want, q.Where)
		expr, err := Substitute(q.Expr, d.Variables, nil)
		if err != nil {
			t.Fatal(err)
		}
		tests = append(tests, promtoolExprTest{Expr: expr, EvalTime: "2m", ExpSamples: samples})
	}
	for where := range want {
		t.Errorf("no %s in the dashboard", where)
	}
	return tests
}

// promtoolExprTests runs tests on series, evaluated every minute with the shipped rules,
// through promtool test rules; it returns promtool's output and exit code.
func promtoolExprTests(t *testing.T, promtool string, series []promtoolSeries, tests []promtoolExprTest) (string, int) {
	t.Helper()
	rules, err := filepath.Abs(rulesPath)
	if err != nil {
		t.Fatal(err)
	}
	file := map[string]any{
		"rule_files":          []string{rules},
		"evaluation_interval": "1m",
		"tests": []map[string]any{{
			"interval":         "1m",
			"input_series":     series,
			"promql_expr_test": tests,
		}},
	}
	b, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "panels.test.yml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return runTool(t, "", promtool, "test", "rules", path)
}
