package collector

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-kit/log"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/client/glance"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

const (
	ownProjectID   = "0123456789abcdef0123456789abcdef" // the simulator's user's
	otherProjectID = "c0ffee00c0ffee00c0ffee00c0ffee00"
	goneProjectID  = "deadbeefdeadbeefdeadbeefdeadbeef" // owns an image, unknown to Keystone
)

var projectMetricNames = []string{"nova_up", "nova_project_info"}

// projectCloud is a Glance cloud of the simulator, listed with a Keystone password
// credential (an admin's or a member's), whose project names are read beside its listings
// on clock; its requests are counted in metrics.
type projectCloud struct {
	sim     *simulator.Simulator
	auth    *cloud.Keystone
	shared  *Listings
	clock   *simtest.Clock
	logs    bytes.Buffer
	metrics *ExporterMetrics
	reg     *prometheus.Registry
	h       *Handler
}

func newProjectCloud(t *testing.T, admin bool) *projectCloud {
	t.Helper()
	c := &projectCloud{clock: simtest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)), reg: prometheus.NewRegistry()}
	images := simulator.DefaultImages(c.clock.Now())
	images[0].Owner, images[0].Visibility = otherProjectID, "public"
	images[1].Owner, images[1].Visibility = goneProjectID, "public"
	c.sim = simulator.New(simulator.Options{Admin: admin, Images: images, Now: c.clock.Now, TokenTTL: 48 * time.Hour,
		Projects: []simulator.Project{{ID: otherProjectID, Name: "web", DomainID: "default"}}})
	srv := httptest.NewServer(c.sim)
	t.Cleanup(srv.Close)
	c.metrics = NewExporterMetrics(c.reg)
	opts := client.Options{Now: c.clock.Now}
	opts.WrapTransport = c.metrics.InstrumentTransport("c1")
	opts.HTTPClient = opts.BuildHTTPClient(nil)
	auth := cloud.NewKeystone(gophercloud.AuthOptions{IdentityEndpoint: srv.URL + "/v3", Username: "demo", Password: "demo-secret",
		DomainName: "Default", Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"}},
		gophercloud.EndpointOpts{Region: "RegionOne"}, nil, opts.HTTPClient)
	c.auth = auth
	c.shared = NewListings(glance.New(auth, opts), 0).WithProjects(auth)
	c.shared.projects.now, c.shared.projects.refusals.now = c.clock.Now, c.clock.Now
	c.h = &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: c.shared}), Metrics: c.metrics,
		Timeouts: ScrapeTimeouts{Default: 5 * time.Second}, Logger: log.NewLogfmtLogger(&c.logs)}
	return c
}

// scrape scrapes the cloud and returns what it served and the lines logged.
func (c *projectCloud) scrape(t *testing.T) (prometheus.Gatherer, []string) {
	t.Helper()
	c.logs.Reset()
	served := scrapeText(t, c.h)
	var lines []string
	for line := range strings.Lines(c.logs.String()) {
		lines = append(lines, line)
	}
	return served, lines
}

const projectInfoHead = `
# HELP nova_project_info 1 for each project that owns listed images and whose name the cloud's credential may read from Keystone/IAM (every project for an admin, its own for a project-scoped member or reader; none for auth_type token or aksk); read at most once an hour; absent where project metrics are off for the cloud.
# TYPE nova_project_info gauge
`

const upOne = `
# HELP nova_up 1 if this scrape's listing of images (Nova's images/detail, Glance's /v2/images or IMS's /v2/cloudimages) succeeded, else 0.
# TYPE nova_up gauge
nova_up 1
`

// An admin reads every project: each owner Keystone knows is named, once an hour, in one
// counted request; an owner it does not know (a deleted project) is not.
func TestProjectInfoAdminNamesEveryOwner(t *testing.T) {
	c := newProjectCloud(t, true)
	want := projectInfoHead +
		`nova_project_info{domain_id="default",project_id="` + ownProjectID + `",project_name="demo"} 1
nova_project_info{domain_id="default",project_id="` + otherProjectID + `",project_name="web"} 1
` + upOne
	for range 2 {
		served, lines := c.scrape(t)
		if err := testutil.GatherAndCompare(served, strings.NewReader(want), projectMetricNames...); err != nil {
			t.Error(err)
		}
		if len(lines) != 0 {
			t.Errorf("log lines %q, want none", lines)
		}
	}
	if n := c.sim.ProjectRequests(); n != 1 {
		t.Errorf("%d project requests for two listings within the hour, want 1", n)
	}
	c.clock.Advance(projectPeriod)
	c.scrape(t)
	if n := c.sim.ProjectRequests(); n != 2 {
		t.Errorf("%d project requests once the hour passed, want 2", n)
	}
	if got := testutil.ToFloat64(c.metrics.apiRequests.WithLabelValues("c1", "200")); got != float64(3*2+2) {
		t.Errorf("api_requests_total{code=200} %v, want 3 listings of 2 requests and 2 project requests", got)
	}
}

// A member may not list every project (403): its own project is named from its token, the
// refusal is one log line per period, never a failure of the listing, and quotes no secret.
func TestProjectInfoMemberNamesOwn(t *testing.T) {
	c := newProjectCloud(t, false)
	want := projectInfoHead +
		`nova_project_info{domain_id="default",project_id="` + ownProjectID + `",project_name="demo"} 1
` + upOne
	served, lines := c.scrape(t)
	if err := testutil.GatherAndCompare(served, strings.NewReader(want), projectMetricNames...); err != nil {
		t.Error(err)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "level=warn") || !strings.Contains(lines[0], "HTTP 403") ||
		!strings.Contains(lines[0], "identity:list_projects") {
		t.Errorf("log lines %q, want one warning naming Keystone's refusal", lines)
	}
	for _, secret := range c.auth.Secrets() {
		if secret != "" && strings.Contains(c.logs.String(), secret) {
			t.Errorf("a secret in the log: %s", c.logs.String())
		}
	}
	c.clock.Advance(projectPeriod - time.Second)
	served, lines = c.scrape(t)
	if err := testutil.GatherAndCompare(served, strings.NewReader(want), projectMetricNames...); err != nil {
		t.Error(err)
	}
	if len(lines) != 0 || c.sim.ProjectRequests() != 1 {
		t.Errorf("within the period: log lines %q and %d project requests, want none and 1", lines, c.sim.ProjectRequests())
	}
	c.clock.Advance(time.Second)
	if _, lines = c.scrape(t); len(lines) != 1 || c.sim.ProjectRequests() != 2 {
		t.Errorf("the next period: log lines %q and %d project requests, want 1 and 2", lines, c.sim.ProjectRequests())
	}
	if got := testutil.ToFloat64(c.metrics.apiRequests.WithLabelValues("c1", "403")); got != 2 {
		t.Errorf("api_requests_total{code=403} %v, want the 2 project requests", got)
	}
}

// fakeProjects answers names, or err, and counts the requests.
type fakeProjects struct {
	names client.ProjectNames
	err   error
	calls int
}

func (f *fakeProjects) Projects(context.Context) (client.ProjectNames, error) {
	f.calls++
	return f.names, f.err
}

// ownedImages are testImages owned by two projects.
func ownedImages() []client.Image {
	images := append([]client.Image(nil), testImages...)
	for i := range images {
		images[i].Owner = ownProjectID
	}
	images[0].Owner = otherProjectID
	return images
}

// A failed read costs only the names: nova_up stays 1, the failure is one log line and one
// identity error counted, the names read before are kept, and it is tried again after
// projectRetry, not before.
func TestFailedProjectReadLeavesTheListing(t *testing.T) {
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	metrics := NewExporterMetrics(reg)
	projects := &fakeProjects{names: client.ProjectNames{Projects: []client.Project{{ID: otherProjectID, Name: "web", DomainID: "d1"}}}}
	shared := NewListings(&fakeLister{images: ownedImages()}, 0).WithProjects(projects)
	clock := simtest.NewClock(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC))
	shared.projects.now, shared.projects.refusals.now = clock.Now, clock.Now
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}), Metrics: metrics,
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewLogfmtLogger(&logs)}
	want := projectInfoHead + `nova_project_info{domain_id="d1",project_id="` + otherProjectID + `",project_name="web"} 1
` + upOne
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(want), projectMetricNames...); err != nil {
		t.Error(err)
	}
	clock.Advance(projectPeriod)
	projects.err = &client.IdentityError{Err: errors.New("GET http://keystone/v3/projects: HTTP 503")}
	logs.Reset()
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(want), projectMetricNames...); err != nil {
		t.Error(err)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "HTTP 503") || !strings.Contains(lines[0], "kept 1 read before") {
		t.Errorf("log lines %q, want one naming the failure", lines)
	}
	if got := testutil.ToFloat64(metrics.identityErrors.WithLabelValues("c1")); got != 1 {
		t.Errorf("identity_errors_total %v, want 1", got)
	}
	clock.Advance(projectRetry - time.Second)
	scrapeText(t, h)
	if projects.calls != 2 {
		t.Errorf("%d reads before the retry, want 2", projects.calls)
	}
	clock.Advance(time.Second)
	scrapeText(t, h)
	if projects.calls != 3 {
		t.Errorf("%d reads once the retry is due, want 3", projects.calls)
	}
}

// The names kept are charged to the Memory of the listings: names that do not fit are not
// kept, which costs only nova_project_info, and what was charged is given back.
func TestProjectNamesAreBoundedByMemory(t *testing.T) {
	var logs bytes.Buffer
	images := ownedImages()
	var imageBytes int64
	for _, img := range images {
		imageBytes += client.ImageBytes(img)
	}
	many := make([]client.Project, 1000)
	for i := range many {
		many[i] = client.Project{ID: strings.Repeat("x", 32) + string(rune('a'+i%26)) + strings.Repeat("y", i%7), Name: "p", DomainID: "d"}
	}
	many = append(many, client.Project{ID: otherProjectID, Name: "web", DomainID: "d1"})
	memory := NewMemory(imageBytes+4096, 0)
	shared := NewListings(&fakeLister{images: images}, 0).WithMemory(memory).
		WithProjects(&fakeProjects{names: client.ProjectNames{Projects: many}})
	reg := prometheus.NewRegistry()
	metrics := NewExporterMetrics(reg)
	metrics.InitCloud("c1")
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}), Metrics: metrics,
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewLogfmtLogger(&logs)}
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(upOne), projectMetricNames...); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), "--listings.max-bytes") || strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log %q, want one line naming the memory bound", logs.String())
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(projectNamesMemoryFailure), "nova_image_exporter_project_names_failures_total"); err != nil {
		t.Errorf("the names that did not fit, counted: %v", err)
	}
	if held := memory.heldBytes(); held != 0 {
		t.Errorf("%d bytes held once the scrape was answered, want 0", held)
	}
}

func TestOwnersAreDistinctAndSorted(t *testing.T) {
	inventory := Inventory{tally: exposition.NewTally(true)}
	for i, owner := range []string{"b", "", "a", "b", "c", "a"} {
		if err := inventory.add(client.Image{ID: strconv.Itoa(i), Owner: owner}, exposition.DefaultImageExports()); err != nil {
			t.Fatal(err)
		}
	}
	if got := inventory.Owners(); strings.Join(got, ",") != "a,b,c" {
		t.Errorf("owners %q, want a, b, c", got)
	}
}

// Names read are dropped, with their charge, projectKeep after the read unless a later read
// replaced them: a cloud's Listings that a reload replaced gives its names' memory back.
func TestProjectNamesExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		memory := NewMemory(0, 0)
		names := newProjectNames(&fakeProjects{})
		project := client.Project{ID: otherProjectID, Name: "web", DomainID: "d1"}
		if err := names.store(memory, client.ProjectNames{Projects: []client.Project{project}}, nil); err != nil {
			t.Fatal(err)
		}
		if memory.heldBytes() == 0 || len(names.named([]string{otherProjectID})) != 1 {
			t.Fatalf("names not kept: %d bytes held", memory.heldBytes())
		}
		time.Sleep(projectKeep - time.Second)
		if len(names.named([]string{otherProjectID})) != 1 {
			t.Error("names dropped before projectKeep")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if memory.heldBytes() != 0 || len(names.named([]string{otherProjectID})) != 0 {
			t.Errorf("after projectKeep: %d bytes held, names %v", memory.heldBytes(), names.named([]string{otherProjectID}))
		}
	})
}

// Naming a listing's owners is charged to the listing too: when the names kept fit the
// memory bound but the listing's own copy of them does not, only nova_project_info goes,
// in one log line, and the listing is served (nova_up 1) with nothing left charged.
func TestNamingOwnersThatDoNotFitLeavesTheListing(t *testing.T) {
	var logs bytes.Buffer
	images := ownedImages()
	listed := Inventory{tally: exposition.NewTally(true), charge: NewMemory(0, 0).newCharge()}
	for _, img := range images {
		if err := listed.add(img, defaultExports); err != nil && !errors.Is(err, client.ErrDropped) {
			t.Fatal(err)
		}
	}
	names := []client.Project{{ID: ownProjectID, Name: "demo", DomainID: "d1"}, {ID: otherProjectID, Name: "web", DomainID: "d1"}}
	var namesBytes int64
	for _, project := range names {
		namesBytes += projectBytes + int64(len(project.ID)+len(project.Name)+len(project.DomainID))
	}
	memory := NewMemory(listed.charge.bytes.Load()+2*namesBytes-1, 0)
	shared := NewListings(&fakeLister{images: images}, 0).WithMemory(memory).
		WithProjects(&fakeProjects{names: client.ProjectNames{Projects: names}})
	reg := prometheus.NewRegistry()
	metrics := NewExporterMetrics(reg)
	metrics.InitCloud("c1")
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}), Metrics: metrics,
		Timeouts: ScrapeTimeouts{Default: time.Second}, Logger: log.NewLogfmtLogger(&logs)}
	if err := testutil.GatherAndCompare(scrapeText(t, h), strings.NewReader(upOne), projectMetricNames...); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), "nova_project_info") || !strings.Contains(logs.String(), "--listings.max-bytes") ||
		strings.Count(logs.String(), "\n") != 1 {
		t.Errorf("log %q, want one line naming nova_project_info and the memory bound", logs.String())
	}
	// Before, its one log line had no metric (found by a hostile review).
	if err := testutil.GatherAndCompare(reg, strings.NewReader(projectNamesMemoryFailure), "nova_image_exporter_project_names_failures_total"); err != nil {
		t.Errorf("the listing's copy of the names that did not fit, counted: %v", err)
	}
	if held := memory.heldBytes(); held != namesBytes {
		t.Errorf("%d bytes held once the scrape was answered, want the %d of the names kept", held, namesBytes)
	}
}

// projectNamesMemoryFailure is nova_image_exporter_project_names_failures_total once names
// of cloud c1 did not fit the memory bound.
const projectNamesMemoryFailure = `# HELP nova_image_exporter_project_names_failures_total ` + projectNamesFailuresHelp + `
# TYPE nova_image_exporter_project_names_failures_total counter
nova_image_exporter_project_names_failures_total{cloud="c1",reason="memory"} 1
`

// Close (a reload that changed or removed the cloud) gives back the names kept at once:
// before, each reload of a changed cloud kept another copy charged for projectKeep.
func TestClosedListingsDropTheirProjectNames(t *testing.T) {
	memory := NewMemory(0, 0)
	projects := &fakeProjects{names: client.ProjectNames{Projects: []client.Project{{ID: otherProjectID, Name: "web", DomainID: "d1"}}}}
	shared := NewListings(&fakeLister{images: ownedImages()}, 0).WithMemory(memory).WithProjects(projects)
	h := &Handler{Resolve: StaticTarget(Target{Cloud: "c1", Listings: shared}), Timeouts: ScrapeTimeouts{Default: time.Second}}
	scrapeText(t, h)
	if memory.heldBytes() == 0 {
		t.Fatal("no names kept after the scrape")
	}
	shared.Close()
	if held := memory.heldBytes(); held != 0 {
		t.Errorf("%d bytes held once closed, want none", held)
	}
	_ = shared.projects.store(memory, projects.names, nil)
	if held := memory.heldBytes(); held != 0 {
		t.Errorf("a read that ends once closed: %d bytes held, want none", held)
	}
}
