package dashboards

import (
	"strings"
	"testing"
)

// TestNetChangeIsNotCalledAdded: delta of the total bytes is what was added less what was
// deleted, and goes negative; a panel showing it must not say "added".
func TestNetChangeIsNotCalledAdded(t *testing.T) {
	d, err := LoadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range d.Panels() {
		title, _ := p["title"].(string)
		description, _ := p["description"].(string)
		for _, target := range maps(p["targets"]) {
			expr, _ := target["expr"].(string)
			legend, _ := target["legendFormat"].(string)
			if !strings.Contains(expr, "delta(") {
				continue
			}
			found = true
			name := strings.ToLower(title + " " + legend)
			if strings.Contains(name, "added") || !strings.Contains(name, "net change") {
				t.Errorf("panel %q, query %v (legend %q): a delta not named a net change", title, target["refId"], legend)
			}
			if !strings.Contains(description, "negative") {
				t.Errorf("panel %q: the description does not say the net change can be negative: %q", title, description)
			}
		}
	}
	if !found {
		t.Fatal("no panel shows a delta")
	}
}
