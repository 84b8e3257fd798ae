// Package simulator is a faithful in-process fake of the three image listing APIs the
// exporter reads, all serving the same image set: OpenStack Nova's image proxy (GET
// /v2.1/{project_id}/images/detail, compute microversions up to 2.35), Glance v2 (GET
// {GlancePrefix}/v2/images, "/image" by default, as devstack) and Huawei IMS (GET
// /v2/cloudimages, and Glance's GET /v2/images as Huawei serves it on the IMS host), and the
// quotas of Glance (GET {GlancePrefix}/v2/info/usage) and IMS
// (GET /v1/cloudimages/quota); with the Keystone v3 token endpoint (POST /v3/auth/tokens,
// whose catalog names compute and image) and Huawei's API gateway that checks AK/SK
// signatures in front of Nova and IMS.
//
// Its responses follow those of a real Keystone + Glance + Nova (Zed) stack
// byte for byte where practical: field names and order, Python-style JSON
// separators with \uXXXX escapes, newest-first order, pagination with
// images_links (Nova) or next (Glance), fault bodies and response headers. IMS follows
// Huawei's documentation and SDK, which ims.go cites, and the vendors' example answers in
// testdata/vendor, whose shape the tests compare. A Simulator is an http.Handler; serve
// it with httptest.NewServer.
//
// One file per API: keystone.go (versions, tokens, catalog, application credentials),
// nova.go (images/detail: admission, filters, paging, the image view) and novaversion.go
// (its microversions), servers.go (Nova's and ECS's servers listing), glance.go (Glance's listing, image view and webob errors), ims.go
// (IMS's listing), quota.go (both quota APIs), gateway.go (the AK/SK verifier). Shared by
// them: listing.go, what the three listings share; requests.go, the request logs;
// images.go, the image set, and generated.go, one made on demand; faults.go and
// faultypage.go, the injected faults; pyjson.go, Python's JSON encoding. Every
// time-dependent part reads the one clock, Options.Now.
package simulator

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const defaultProjectID = "0123456789abcdef0123456789abcdef"

// Options configures a Simulator. Zero values take the documented defaults.
type Options struct {
	// ProjectID is the id of the one project; default
	// "0123456789abcdef0123456789abcdef".
	ProjectID string
	// Username is the accepted Keystone user name; default "demo".
	Username string
	// Password is the accepted password; default "demo-secret".
	Password string
	// UserDomainName is the user's domain; default "Default" (id "default").
	UserDomainName string
	// ProjectName is the project name; default "demo".
	ProjectName string
	// ProjectDomainName is the project's domain; default "Default".
	ProjectDomainName string
	// Region is the catalog region; default "RegionOne".
	Region string
	// CatalogURLs are, by service type (compute, image), the URLs the token's catalog lists
	// instead of the simulator's own, as a vendor's catalog names its own hosts (Open
	// Telekom Cloud's image endpoint is its IMS host); nil lists the simulator's.
	CatalogURLs map[string]string
	// Images is the image set; nil means DefaultImages at the simulator's
	// current time (Now).
	Images []Image
	// Generated, when its N is above 0, is the image set instead of Images: images made on
	// demand from their index, none held (a million-image listing costs the simulator no
	// memory per image).
	Generated Generated
	// MaxLimit is Nova's [api]max_limit; default 1000.
	MaxLimit int
	// NovaForbiddenLimitAbove makes images/detail answer 403 to a limit above it, as
	// Huawei's Nova-compatible ECS API does above its largest page (ECS API reference,
	// "Querying Data in Pages": the maximum itself is undocumented); 0 never does.
	NovaForbiddenLimitAbove int
	// GlancePrefix is the path Glance is served under, which the catalog's image endpoint
	// ends in: Glance's listing is GET {GlancePrefix}/v2/images. "" means "/image", as
	// devstack serves it; "/" serves Glance at the root, as the realstack does.
	GlancePrefix string
	// GlanceMaxLimit is Glance's api_limit_max: a larger limit is cut to it; default 1000.
	GlanceMaxLimit int
	// IMSMaxLimit caps the limit of an IMS listing: a larger one is cut to it silently, so
	// that the page is shorter than asked although more images follow. Huawei documents
	// the default limit, 500, but no maximum; the default cap is 500.
	IMSMaxLimit int
	// GlanceQuotas are the limits Glance's GET {GlancePrefix}/v2/info/usage reports, by
	// resource (GlanceImageSizeTotal and GlanceImageStageTotal in MiB, GlanceImageCountTotal,
	// GlanceImageCountUploading); -1 is sent as is, as Glance does (Glance then allows none
	// of the resource, not an unlimited number), a resource left out has limit 0 (as
	// oslo.limit gives one with no limit registered in Keystone). nil means Glance does not
	// use Keystone's unified limits: the answer is {"usage": {}}. The usage is computed from
	// the image set (quota.go).
	GlanceQuotas map[string]int64
	// IMSQuotas are the resources IMS's GET /v1/cloudimages/quota reports, in order; nil
	// means DefaultIMSQuotas, an empty slice none.
	IMSQuotas []IMSQuota
	// TokenTTL is the lifetime of issued tokens; default 1h.
	TokenTTL time.Duration
	// InternalHost, when set, is the scheme+host (e.g.
	// "http://nova-internal:8774") used in next, self, bookmark and server
	// links instead of the request's Host: Nova's links may name an internal
	// host the client cannot reach.
	InternalHost string
	// ApplicationCredentials are the Keystone application credentials of
	// the simulator's user, accepted by POST /v3/auth/tokens.
	ApplicationCredentials []ApplicationCredential
	// AccessKeys are the Huawei AK/SK pairs the simulated API gateway accepts on Nova's
	// images/detail and IMS's cloudimages.
	AccessKeys []AccessKey
	// Admin gives the simulator's user the admin role in its project, as the realstack's
	// bootstrap admin has: GET /v3/projects lists every project to it, and answers 403 to
	// a member, as Keystone's default policy (identity:list_projects) does.
	Admin bool
	// Servers are the cloud's servers, newest first (servers.go); none by default.
	Servers []Server
	// Projects are the cloud's projects besides the user's own (ProjectID, ProjectName, in
	// ProjectDomainName), as GET /v3/projects lists them after it.
	Projects []Project
	// ExpiredTokens makes Keystone issue tokens that have already expired: expires_at is a
	// second before issued_at, and Nova refuses them.
	ExpiredTokens bool
	// ExpiresAtShift is added to the expires_at that Keystone reports, not to when Nova stops
	// accepting the token: as from a Keystone whose clock is off. -2*TokenTTL gives tokens
	// that look expired on arrival but work.
	ExpiresAtShift time.Duration
	// Now is the simulator's one clock, read by every part that needs the time: token issue
	// and expiry, X-Sdk-Date skew checks and access key lockouts, and the times of
	// DefaultImages when Images is nil; nil means time.Now. Tests move a fake one
	// (simtest.Clock) instead of sleeping. What the simulator waits for (Fault.Delay, the
	// settling of a truncated answer) runs on runtime timers, which testing/synctest fakes.
	Now func() time.Time
}

// Simulator is the fake Keystone + Nova + Glance + IMS server, with the AK/SK gateway in
// front of Nova and IMS.
// It implements http.Handler and is safe for concurrent use.
type Simulator struct {
	opts Options

	mu     sync.RWMutex
	images []Image // newest first
	index  map[string]int
	// generated, when not nil, is the image set instead of images and index.
	generated     *Generated
	tokens        map[string]tokenInfo
	requests      []RequestRecord
	tokenRequests int
	// quotaRequests is the log of quota requests, apart from the listings' (requests).
	quotaRequests []RequestRecord
	// akStates holds the AK/SK failure counters and lockouts by AK.
	akStates map[string]*akState
	// plan is the fault plan installed by SetFaults, nil when none.
	plan atomic.Pointer[faultPlan]
	// keystonePlan is the fault plan installed by SetKeystoneFaults, nil when none.
	keystonePlan atomic.Pointer[faultPlan]
	// quotaPlan is the fault plan installed by SetQuotaFaults, nil when none.
	quotaPlan atomic.Pointer[faultPlan]
	// servers are the cloud's servers, newest first (servers.go).
	servers []Server
	// serverRequests is the log of the servers requests, apart from the listings'.
	serverRequests []RequestRecord
	// serverPlan is the fault plan installed by SetServerFaults, nil when none.
	serverPlan atomic.Pointer[faultPlan]
	// projectRequests counts the GET /v3/projects answered.
	projectRequests atomic.Int64
	// imagesRequests counts the authorised listing requests of every API.
	imagesRequests atomic.Int64
}

// New returns a Simulator configured by opts.
func New(opts Options) *Simulator {
	if opts.ProjectID == "" {
		opts.ProjectID = defaultProjectID
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&opts.Username, "demo")
	def(&opts.Password, "demo-secret")
	def(&opts.UserDomainName, "Default")
	def(&opts.ProjectName, "demo")
	def(&opts.ProjectDomainName, "Default")
	def(&opts.Region, "RegionOne")
	opts.InternalHost = strings.TrimRight(opts.InternalHost, "/")
	if opts.MaxLimit <= 0 {
		opts.MaxLimit = 1000
	}
	if opts.GlanceMaxLimit <= 0 {
		opts.GlanceMaxLimit = 1000
	}
	if opts.IMSMaxLimit <= 0 {
		opts.IMSMaxLimit = imsDefaultLimit
	}
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.ApplicationCredentials = slices.Clone(opts.ApplicationCredentials)
	opts.AccessKeys = slices.Clone(opts.AccessKeys)
	opts.GlanceQuotas = maps.Clone(opts.GlanceQuotas)
	opts.CatalogURLs = maps.Clone(opts.CatalogURLs)
	opts.IMSQuotas = slices.Clone(opts.IMSQuotas)
	s := &Simulator{opts: opts, tokens: map[string]tokenInfo{}, akStates: map[string]*akState{}}
	s.SetServers(opts.Servers)
	s.opts.Servers = nil
	imgs := opts.Images
	if imgs == nil && opts.Generated.N <= 0 {
		imgs = DefaultImages(opts.Now())
	}
	s.opts.Images = nil
	if opts.Generated.N > 0 {
		g := opts.Generated.normalized(s.now())
		s.generated = &g
		return s
	}
	s.SetImages(imgs)
	return s
}

// now is the simulator's clock.
func (s *Simulator) now() time.Time { return s.opts.Now() }

// ServeHTTP routes a request to Keystone, Nova, Glance or IMS (Nova and IMS through the
// gateway's check of a signed request); any other path gets Nova's 404.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch p {
	case "", "/":
		s.serveKeystone(w, r, s.serveRootVersions)
	case "/v3", "/v3/":
		s.serveKeystone(w, r, s.serveV3Version)
	case "/v3/auth/tokens":
		s.serveKeystone(w, r, s.serveTokens)
	case "/v3/projects":
		s.serveKeystone(w, r, s.serveProjects)
	default:
		if project, ok := imagesDetailPath(p); ok {
			s.serveImages(w, r, project)
			return
		}
		if project, ok := serversPath(p); ok {
			s.serveServers(w, r, project)
			return
		}
		switch p {
		case s.glancePrefix() + "/v2/images":
			s.serveGlance(w, r)
			return
		case imsListingPath:
			s.serveIMS(w, r)
			return
		case imsGlancePath:
			if s.glancePrefix() != "" {
				s.serveIMSGlance(w, r)
				return
			}
		case s.glancePrefix() + glanceUsagePath:
			s.serveGlanceUsage(w, r)
			return
		case imsQuotaPath:
			s.serveIMSQuota(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(novaNotFound))
	}
}

// requestID is a new OpenStack request id, "req-" and a random UUID.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("req-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// requestHost is the scheme and host the client reached the simulator at.
func requestHost(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// writeRaw answers with code and body, with its Content-Type and Content-Length.
func writeRaw(w http.ResponseWriter, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
