package dashboards

import "testing"

// The series of TestOrphanPanels: two replicas (instances a and b) of one exporter list cloud
// c1 with orphaned snapshots on. Project p1 (named "one") has 500 orphaned bytes, p2 none (its
// snapshots' servers exist), and 70 bytes have no owner (Nova's proxy, an admin's listing).
// Image i1 is orphaned, i2 a snapshot whose server exists, i3 no snapshot.
var orphanPanelSeries = func() []promtoolSeries {
	var series []promtoolSeries
	for _, instance := range []string{"a", "b"} {
		target := `job="nova_images",instance="` + instance + `",cloud="c1"`
		series = append(series,
			promtoolSeries{`nova_orphaned_snapshots_size_bytes{` + target + `,project_id="p1"}`, "500x5"},
			promtoolSeries{`nova_orphaned_snapshots_size_bytes{` + target + `,project_id="p2"}`, "0x5"},
			promtoolSeries{`nova_orphaned_snapshots_size_bytes{` + target + `,project_id=""}`, "70x5"},
			promtoolSeries{`nova_project_info{` + target + `,project_id="p1",project_name="one",domain_id="default"}`, "1x5"},
			promtoolSeries{`nova_image_servers_up{` + target + `}`, "1x5"},
			promtoolSeries{`nova_image_orphaned{` + target + `,id="i1",name="one-snap"}`, "1x5"},
			promtoolSeries{`nova_image_orphaned{` + target + `,id="i2",name="live-snap"}`, "0x5"},
			promtoolSeries{`nova_image_info{` + target + `,id="i1",name="one-snap",server_id="s1",owner="p1",api_status="active",visibility="private",metadata_image_type="snapshot"}`, "1x5"},
			promtoolSeries{`nova_image_info{` + target + `,id="i2",name="live-snap",server_id="s2",owner="p1",api_status="active",visibility="private",metadata_image_type="snapshot"}`, "1x5"},
			promtoolSeries{`nova_image_info{` + target + `,id="i3",name="base",server_id="",owner="p1",api_status="active",visibility="private",metadata_image_type=""}`, "1x5"},
			promtoolSeries{`nova_image_size_bytes{` + target + `,id="i1",name="one-snap"}`, "300x5"},
			promtoolSeries{`nova_image_size_bytes{` + target + `,id="i2",name="live-snap"}`, "999x5"},
			promtoolSeries{`nova_image_size_bytes{` + target + `,id="i3",name="base"}`, "5000x5"},
			promtoolSeries{`nova_image_created_timestamp_seconds{` + target + `,id="i1",name="one-snap"}`, "20x5"},
			promtoolSeries{`nova_image_created_timestamp_seconds{` + target + `,id="i2",name="live-snap"}`, "20x5"},
			promtoolSeries{`nova_image_created_timestamp_seconds{` + target + `,id="i3",name="base"}`, "20x5"},
		)
	}
	return series
}()

// TestOrphanPanels runs the "Orphaned snapshots" queries, as the dashboard has them (variables
// at All), through promtool: projects by name where nova_project_info has it, else by id, the
// snapshots without an owner as "no owner", each once although two replicas serve the cloud;
// the table lists the orphaned snapshots only, with their server, owner, size and age.
func TestOrphanPanels(t *testing.T) {
	_, promtool := prometheusBinaries(t)
	d, err := LoadDashboard(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	queries, err := d.Queries()
	if err != nil {
		t.Fatal(err)
	}
	byProject := []promtoolSample{
		{`{cloud="c1",project_id="p1",project_name="one"}`, 500},
		{`{cloud="c1",project_name="no owner"}`, 70},
		{`{cloud="c1",project_id="p2",project_name="p2"}`, 0},
	}
	snapshot := `{cloud="c1",id="i1",job="nova_images",name="one-snap",owner="p1",server_id="s1"}`
	tests := panelExprTests(t, d, queries, map[string][]promtoolSample{
		`panel "Orphaned snapshot bytes per project", query A`: byProject,
		`panel "Orphaned snapshot bytes over time", query A`:   byProject,
		`panel "Server listings up", query A`:                  {{`{}`, 1}},
		`panel "Largest orphaned snapshots", query A`:          {{snapshot, 300}},
		`panel "Largest orphaned snapshots", query B`:          {{snapshot, 100}},
	})
	if out, code := promtoolExprTests(t, promtool, orphanPanelSeries, tests); code != 0 {
		t.Errorf("promtool test rules on the orphan panels' queries: exit %d\n%s", code, out)
	}
}
