// Package dashboards holds nova_image_exporter's Grafana dashboard and the tests that check it and
// the alert rules against the exporter's real output and a real Prometheus. It is a module of its
// own so that the Prometheus server module it needs for the PromQL parser stays out of the
// exporter's go.mod.
package dashboards

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Query is one PromQL expression found in a dashboard or a rules file.
type Query struct {
	// Where names its place: the panel title and refId, the template variable, or the rule.
	Where string
	// Expr is the expression as written, Grafana variables included.
	Expr string
	// Instant is true for an instant query (a table, stat or a variable), false for a graph's
	// range query.
	Instant bool
	// Variable is the template variable's name when the query comes from one.
	Variable string
	// Label is the label a label_values() variable query reads.
	Label string
	// Row is the title of the dashboard row the panel is in; empty for variables.
	Row string
}

// Dashboard is the part of a Grafana dashboard the tests read.
type Dashboard struct {
	Raw       map[string]any
	Title     string
	Variables map[string]bool // names of the dashboard's template variables
}

// LoadDashboard reads a dashboard JSON file.
func LoadDashboard(path string) (*Dashboard, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d := &Dashboard{Raw: raw, Variables: map[string]bool{}}
	d.Title, _ = raw["title"].(string)
	for _, v := range d.TemplateVariables() {
		if name, _ := v["name"].(string); name != "" {
			d.Variables[name] = true
		}
	}
	return d, nil
}

// TemplateVariables returns templating.list.
func (d *Dashboard) TemplateVariables() []map[string]any {
	templating, _ := d.Raw["templating"].(map[string]any)
	return maps(templating["list"])
}

// Panels returns every panel, those nested in rows (collapsed rows keep theirs in "panels", old
// dashboards in "rows") included, in order.
func (d *Dashboard) Panels() []map[string]any {
	var out []map[string]any
	var walk func(list []map[string]any)
	walk = func(list []map[string]any) {
		for _, p := range list {
			out = append(out, p)
			walk(maps(p["panels"]))
		}
	}
	walk(maps(d.Raw["panels"]))
	for _, r := range maps(d.Raw["rows"]) {
		walk(maps(r["panels"]))
	}
	return out
}

// Queries returns every PromQL expression of the dashboard: each panel target's expr and each query
// variable's query (label_values(EXPR, LABEL) and query_result(EXPR) give EXPR; label_values(LABEL),
// label_names() and metrics(REGEX) hold none).
func (d *Dashboard) Queries() ([]Query, error) {
	var out []Query
	row := ""
	for _, p := range d.Panels() {
		title, _ := p["title"].(string)
		panelType, _ := p["type"].(string)
		if panelType == "row" {
			row = title
		}
		for _, t := range maps(p["targets"]) {
			expr, _ := t["expr"].(string)
			if strings.TrimSpace(expr) == "" {
				continue
			}
			ref, _ := t["refId"].(string)
			instant, _ := t["instant"].(bool)
			rng, hasRange := t["range"].(bool)
			if panelType == "table" || panelType == "stat" || panelType == "piechart" || panelType == "bargauge" {
				instant = instant || !hasRange || !rng
			}
			out = append(out, Query{Where: fmt.Sprintf("panel %q, query %s", title, ref), Expr: expr, Instant: instant, Row: row})
		}
	}
	for _, v := range d.TemplateVariables() {
		if typ, _ := v["type"].(string); typ != "query" {
			continue
		}
		name, _ := v["name"].(string)
		var q string
		switch query := v["query"].(type) {
		case string:
			q = query
		case map[string]any:
			q, _ = query["query"].(string)
			if q == "" { // the Prometheus variable editor's structured form
				if metric, _ := query["metric"].(string); metric != "" {
					label, _ := query["label"].(string)
					q = fmt.Sprintf("label_values(%s, %s)", metric, label)
				}
			}
		}
		expr, label, err := VariableQuery(q)
		if err != nil {
			return nil, fmt.Errorf("variable %q: %w", name, err)
		}
		if expr != "" {
			out = append(out, Query{Where: fmt.Sprintf("variable %q", name), Expr: expr, Instant: true, Variable: name, Label: label})
		}
	}
	return out, nil
}

var (
	labelValuesRe = regexp.MustCompile(`(?s)^label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)
	labelValues1  = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)
	queryResultRe = regexp.MustCompile(`(?s)^query_result\((.*)\)$`)
	noExprRe      = regexp.MustCompile(`^(label_names\(.*\)|metrics\(.*\))$`)
)

// VariableQuery splits a Grafana Prometheus variable query into its PromQL expression (empty when
// it has none) and, for label_values, the label read. Anything else is taken as a plain PromQL
// expression, as Grafana does ("classic query").
func VariableQuery(q string) (expr, label string, err error) {
	q = strings.TrimSpace(q)
	switch {
	case q == "":
		return "", "", fmt.Errorf("empty query")
	case labelValues1.MatchString(q), noExprRe.MatchString(q):
		return "", "", nil
	case labelValuesRe.MatchString(q):
		m := labelValuesRe.FindStringSubmatch(q)
		return strings.TrimSpace(m[1]), m[2], nil
	case queryResultRe.MatchString(q):
		return strings.TrimSpace(queryResultRe.FindStringSubmatch(q)[1]), "", nil
	case strings.HasPrefix(q, "label_values(") || strings.HasPrefix(q, "query_result("):
		return "", "", fmt.Errorf("cannot read Grafana query %q", q)
	}
	return q, "", nil
}

// Builtin Grafana variables and the placeholders that stand for them: durations where Grafana puts
// a duration, numbers where it puts a number.
var builtinVars = map[string]string{
	"__rate_interval": "1m",
	"__interval":      "1m",
	"__range":         "1h",
	"__interval_ms":   "60000",
	"__range_ms":      "3600000",
	"__range_s":       "3600",
	"__from":          "0",
	"__to":            "3600000",
	"__dashboard":     "dashboard",
	"__name":          "name",
}

var varRe = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-zA-Z]+)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)(?::[a-zA-Z]+)?\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// Substitute replaces the Grafana variables of expr: the builtin ones ($__rate_interval, $__range,
// ${__range_s}, ...) by the placeholders of builtinVars (or of overrides), and the dashboard's
// template variables (vars) by overrides[name], else ".*", the value of "All" in a regex matcher.
// A variable that is neither builtin nor the dashboard's is an error.
func Substitute(expr string, vars map[string]bool, overrides map[string]string) (string, error) {
	var unknown []string
	out := varRe.ReplaceAllStringFunc(expr, func(m string) string {
		sub := varRe.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := overrides[name]; ok {
			return v
		}
		if v, ok := builtinVars[name]; ok {
			return v
		}
		if vars[name] {
			return ".*"
		}
		unknown = append(unknown, m)
		return m
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown Grafana variable(s) %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// RuleFile is a Prometheus rules file as the tests read it.
type RuleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// RuleQueries returns every rule's expression and the names of the recording rules.
func RuleQueries(path string) ([]Query, map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var f RuleFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Query
	records := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			name := "alert " + r.Alert
			if r.Record != "" {
				name = "recording rule " + r.Record
				records[r.Record] = true
			}
			out = append(out, Query{Where: fmt.Sprintf("%s (group %s)", name, g.Name), Expr: r.Expr, Instant: true})
		}
	}
	return out, records, nil
}

func maps(v any) []map[string]any {
	list, _ := v.([]any)
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// SortedKeys returns the keys of m, sorted.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
