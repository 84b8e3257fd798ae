// Package simulator is a faithful in-process fake of OpenStack Nova's
// image-proxy API (GET /v2.1/{project_id}/images/detail, compute
// microversions up to 2.35) together with the Keystone v3 token endpoint
// (POST /v3/auth/tokens) it needs for authentication.
//
// Its responses follow those of a real Keystone + Glance + Nova (Zed) stack
// byte for byte where practical: field names and order, Python-style JSON
// separators with \uXXXX escapes, newest-first order, pagination with
// images_links, fault bodies and response headers. A Simulator is an
// http.Handler; serve it with httptest.NewServer.
package simulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	defaultProjectID = "0123456789abcdef0123456789abcdef"
	// MaxMicroversion is the highest compute microversion the simulated Nova
	// (Zed) knows.
	MaxMicroversion = "2.93"
	// GlanceURL is the Glance base URL used in the images' alternate links.
	GlanceURL = "http://glance.internal:9292"

	userID = "9a1e7c4f0b2d4e6f8a3c5b7d9e1f2a4c"
	roleID = "4c3b2a19f8e7d6c5b4a39281706f5e4d"

	keystoneUnauthorized = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	novaNotFound         = `{"itemNotFound": {"code": 404, "message": "The resource could not be found."}}`
)

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
	// Images is the image set; nil means DefaultImages at the simulator's
	// current time (Now).
	Images []Image
	// MaxLimit is Nova's [api]max_limit; default 1000.
	MaxLimit int
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
	// AccessKeys are the Huawei AK/SK pairs the simulated API gateway accepts on images/detail.
	AccessKeys []AccessKey
	// ExpiredTokens makes Keystone issue tokens that have already expired: expires_at is a
	// second before issued_at, and Nova refuses them.
	ExpiredTokens bool
	// ExpiresAtShift is added to the expires_at that Keystone reports, not to when Nova stops
	// accepting the token: as from a Keystone whose clock is off. -2*TokenTTL gives tokens
	// that look expired on arrival but work.
	ExpiresAtShift time.Duration
	// Now is the simulator's clock (for X-Sdk-Date skew checks and token expiry); nil means time.Now.
	Now func() time.Time
}

// ApplicationCredential is a Keystone application credential of the simulator's user, scoped to its project.
type ApplicationCredential struct {
	// ID is the credential's id.
	ID string
	// Name is the credential's name, unique for the user.
	Name string
	// Secret is the credential's secret.
	Secret string
}

// maxRequestRecords bounds the log that Requests returns.
const maxRequestRecords = 10000

// RequestRecord is one images/detail request as the simulator received it.
type RequestRecord struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path.
	Path string
	// RawQuery is the undecoded query string.
	RawQuery string
	// Header is a clone of the request headers.
	Header http.Header
}

type tokenInfo struct {
	projectID string
	issued    time.Time
	expires   time.Time
	// appCred is the application credential the token was issued for, if any.
	appCred *ApplicationCredential
}

// Simulator is the fake Keystone + Nova server. It implements http.Handler
// and is safe for concurrent use.
type Simulator struct {
	opts Options

	mu            sync.RWMutex
	images        []Image // newest first
	index         map[string]int
	tokens        map[string]tokenInfo
	fault         func(w http.ResponseWriter, r *http.Request) bool
	requests      []RequestRecord
	tokenRequests int
	// akStates holds the AK/SK failure counters and lockouts by AK.
	akStates map[string]*akState
	// plan is the fault plan installed by SetFaults, nil when none.
	plan atomic.Pointer[faultPlan]
	// keystonePlan is the fault plan installed by SetKeystoneFaults, nil when none.
	keystonePlan atomic.Pointer[faultPlan]
	// imagesRequests counts the authorised images/detail requests.
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
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.ApplicationCredentials = slices.Clone(opts.ApplicationCredentials)
	opts.AccessKeys = slices.Clone(opts.AccessKeys)
	s := &Simulator{opts: opts, tokens: map[string]tokenInfo{}, akStates: map[string]*akState{}}
	imgs := opts.Images
	if imgs == nil {
		imgs = DefaultImages(opts.Now())
	}
	s.opts.Images = nil
	s.SetImages(imgs)
	return s
}

// SetImages replaces the image set (the slice is copied; the images' maps
// and pointers are shared and must not be modified afterwards).
func (s *Simulator) SetImages(images []Image) {
	imgs := slices.Clone(images)
	sort.SliceStable(imgs, func(i, j int) bool {
		ci, cj := imgs[i].Created, imgs[j].Created
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return imgs[i].ID > imgs[j].ID
	})
	index := make(map[string]int, len(imgs))
	for i := range imgs {
		index[imgs[i].ID] = i
	}
	s.mu.Lock()
	s.images = imgs
	s.index = index
	s.mu.Unlock()
}

// IssueToken returns a valid token scoped to the project without going
// through Keystone authentication (for auth_type: token tests). It does
// not count in TokenRequests.
func (s *Simulator) IssueToken() string {
	tok, _ := s.newToken(s.opts.ProjectID, nil)
	return tok
}

// RevokeTokens invalidates every token issued so far; their next use gets
// 401.
func (s *Simulator) RevokeTokens() {
	s.mu.Lock()
	s.tokens = map[string]tokenInfo{}
	s.mu.Unlock()
}

// SetFault installs a fault injector. If f is non-nil and returns true it
// has answered the request itself. It is called only for images/detail
// requests, after authentication succeeded. SetFault(nil) removes it.
func (s *Simulator) SetFault(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Requests returns a copy of the log of images/detail requests (including
// rejected ones), oldest first; past 10 000 requests the older half is dropped.
func (s *Simulator) Requests() []RequestRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]RequestRecord, len(s.requests))
	for i, r := range s.requests {
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// TokenRequests returns the number of successful POST /v3/auth/tokens.
func (s *Simulator) TokenRequests() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tokenRequests
}

// now is the simulator's clock.
func (s *Simulator) now() time.Time { return s.opts.Now() }

func (s *Simulator) newToken(projectID string, appCred *ApplicationCredential) (string, tokenInfo) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := "gAAAAA" + hex.EncodeToString(b[:])
	now := s.now().UTC()
	info := tokenInfo{projectID: projectID, issued: now, expires: now.Add(s.opts.TokenTTL), appCred: appCred}
	if s.opts.ExpiredTokens {
		info.expires = now.Add(-time.Second)
	}
	s.mu.Lock()
	s.tokens[tok] = info
	s.mu.Unlock()
	return tok, info
}

// lookupToken returns the token's info if it is known and not expired.
func (s *Simulator) lookupToken(tok string) (tokenInfo, bool) {
	if tok == "" {
		return tokenInfo{}, false
	}
	s.mu.RLock()
	info, ok := s.tokens[tok]
	s.mu.RUnlock()
	if !ok || !s.now().Before(info.expires) {
		return tokenInfo{}, false
	}
	return info, true
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("req-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func requestHost(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// linkHost is the prefix of Nova's own links.
func (s *Simulator) linkHost(r *http.Request) string {
	if s.opts.InternalHost != "" {
		return s.opts.InternalHost
	}
	return requestHost(r)
}

// ServeHTTP answers Keystone and Nova requests.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch p {
	case "", "/":
		s.serveKeystone(w, r, s.serveRootVersions)
	case "/v3", "/v3/":
		s.serveKeystone(w, r, s.serveV3Version)
	case "/v3/auth/tokens":
		s.serveKeystone(w, r, s.serveTokens)
	default:
		if project, ok := imagesDetailPath(p); ok {
			s.serveImages(w, r, project)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(novaNotFound))
	}
}

// imagesDetailPath reports whether p is /v2.1/images/detail or
// /v2.1/{project}/images/detail, and the project ("" when absent).
func imagesDetailPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v2.1/")
	if !ok {
		return "", false
	}
	if rest == "images/detail" {
		return "", true
	}
	project, tail, ok := strings.Cut(rest, "/")
	if ok && project != "" && tail == "images/detail" {
		return project, true
	}
	return "", false
}

// ---------------------------------------------------------------- Keystone

func (s *Simulator) serveKeystone(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request)) {
	w.Header().Set("x-openstack-request-id", requestID())
	h(w, r)
}

func writeRaw(w http.ResponseWriter, code int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body)
}

func keystoneError(w http.ResponseWriter, code int, title, message string) {
	b := []byte(`{"error": {"code": `)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `, "title": `...)
	b = appendPyString(b, title)
	b = append(b, `, "message": `...)
	b = appendPyString(b, message)
	b = append(b, "}}"...)
	writeRaw(w, code, "application/json", b)
}

func keystoneMethodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	keystoneError(w, http.StatusMethodNotAllowed, "Method Not Allowed", "The method is not allowed for the requested URL.")
}

func (s *Simulator) versionValue(r *http.Request) map[string]any {
	return map[string]any{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []any{map[string]any{"rel": "self", "href": requestHost(r) + "/v3/"}},
		"media-types": []any{map[string]any{
			"base": "application/json", "type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

func (s *Simulator) serveV3Version(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		keystoneMethodNotAllowed(w, "GET, HEAD")
		return
	}
	body := appendPyJSON(nil, map[string]any{"version": s.versionValue(r)})
	writeRaw(w, http.StatusOK, "application/json", body)
}

func (s *Simulator) serveRootVersions(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		keystoneMethodNotAllowed(w, "GET, HEAD")
		return
	}
	body := appendPyJSON(nil, map[string]any{"versions": map[string]any{"values": []any{s.versionValue(r)}}})
	// Real Keystone answers the version list with 300 Multiple Choices.
	writeRaw(w, http.StatusMultipleChoices, "application/json", body)
}

type authRequest struct {
	Auth *struct {
		Identity *struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User *struct {
					ID       string     `json:"id"`
					Name     string     `json:"name"`
					Domain   *domainRef `json:"domain"`
					Password *string    `json:"password"`
				} `json:"user"`
			} `json:"password"`
			Token *struct {
				ID string `json:"id"`
			} `json:"token"`
			ApplicationCredential *struct {
				ID     string  `json:"id"`
				Name   string  `json:"name"`
				Secret *string `json:"secret"`
				User   *struct {
					ID     string     `json:"id"`
					Name   string     `json:"name"`
					Domain *domainRef `json:"domain"`
				} `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type domainRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type scopeRequest struct {
	Project *struct {
		ID     string     `json:"id"`
		Name   string     `json:"name"`
		Domain *domainRef `json:"domain"`
	} `json:"project"`
}

func domainID(name string) string {
	if name == "Default" {
		return "default"
	}
	return strings.ToLower(name)
}

func domainMatches(d *domainRef, name string) bool {
	if d == nil {
		return false
	}
	if d.ID != "" {
		return d.ID == domainID(name)
	}
	return d.Name == name
}

func (s *Simulator) serveTokens(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		if s.answerKeystoneFault(w, r) {
			return
		}
		s.createToken(w, r)
	case http.MethodGet, http.MethodHead:
		// Token validation, as used by gophercloud with a pre-existing token.
		caller := r.Header.Get("X-Auth-Token")
		subject := r.Header.Get("X-Subject-Token")
		if _, ok := s.lookupToken(caller); !ok {
			keystoneError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
			return
		}
		info, ok := s.lookupToken(subject)
		if !ok {
			keystoneError(w, http.StatusNotFound, "Not Found", "Could not find token: "+subject+".")
			return
		}
		w.Header().Set("X-Subject-Token", subject)
		w.Header().Set("Vary", "X-Auth-Token")
		writeRaw(w, http.StatusOK, "application/json", s.tokenBody(r, []string{"token"}, info))
	default:
		keystoneMethodNotAllowed(w, "GET, HEAD, POST")
	}
}

func (s *Simulator) createToken(w http.ResponseWriter, r *http.Request) {
	var req authRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	if err := dec.Decode(&req); err != nil {
		keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid JSON in request body: "+err.Error())
		return
	}
	if req.Auth == nil || req.Auth.Identity == nil {
		keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'identity': 'identity' is a required property")
		return
	}
	id := req.Auth.Identity
	if len(id.Methods) == 0 {
		keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'identity/methods': [] is too short")
		return
	}
	var methods []string
	authenticated := false
	var appCred *ApplicationCredential
	switch id.Methods[0] {
	case "password":
		methods = []string{"password"}
		if id.Password == nil || id.Password.User == nil || id.Password.User.Password == nil {
			keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'identity/password/user': 'password' is a required property")
			return
		}
		u := id.Password.User
		userOK := (u.ID != "" && u.ID == userID) ||
			(u.ID == "" && u.Name == s.opts.Username && domainMatches(u.Domain, s.opts.UserDomainName))
		authenticated = userOK && *u.Password == s.opts.Password
	case "token":
		methods = []string{"token"}
		if id.Token == nil {
			keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'identity/token': 'id' is a required property")
			return
		}
		_, authenticated = s.lookupToken(id.Token.ID)
	case "application_credential":
		methods = []string{"application_credential"}
		if hasScope(req.Auth.Scope) {
			// keystone.auth.core.AuthInfo refuses this before authenticating.
			keystoneError(w, http.StatusUnauthorized, "Unauthorized",
				"Error authenticating with application credential: Application credentials cannot request a scope.")
			return
		}
		ac := id.ApplicationCredential
		if ac == nil || ac.Secret == nil {
			keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'identity/application_credential': 'secret' is a required property")
			return
		}
		if ac.ID == "" && ac.Name == "" {
			keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'identity/application_credential': 'id' or 'name' is required")
			return
		}
		if ac.ID == "" && ac.User == nil {
			// Keystone needs the owner to look a credential up by name.
			keystoneError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
			return
		}
		appCred = s.findApplicationCredential(ac.ID, ac.Name)
		if appCred != nil && ac.ID == "" {
			// Looked up by name: the credential must belong to the named user.
			u := ac.User
			userOK := (u.ID != "" && u.ID == userID) ||
				(u.ID == "" && u.Name == s.opts.Username && domainMatches(u.Domain, s.opts.UserDomainName))
			if !userOK {
				appCred = nil
			}
		}
		authenticated = appCred != nil && subtle.ConstantTimeCompare([]byte(*ac.Secret), []byte(appCred.Secret)) == 1
	default:
		keystoneError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	if !authenticated {
		keystoneError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	if appCred != nil {
		// Application credentials carry their own project scope.
		s.issueToken(w, r, methods, appCred)
		return
	}
	var scope scopeRequest
	if hasScope(req.Auth.Scope) {
		if err := json.Unmarshal(req.Auth.Scope, &scope); err != nil {
			keystoneError(w, http.StatusBadRequest, "Bad Request", "Invalid input for field 'scope': "+err.Error())
			return
		}
	}
	if scope.Project == nil {
		// Unscoped tokens carry no catalog and cannot call Nova; the
		// simulator only hands out project-scoped tokens.
		keystoneError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	p := scope.Project
	projectOK := (p.ID != "" && p.ID == s.opts.ProjectID) ||
		(p.ID == "" && p.Name == s.opts.ProjectName && domainMatches(p.Domain, s.opts.ProjectDomainName))
	if !projectOK {
		keystoneError(w, http.StatusUnauthorized, "Unauthorized", "The request you have made requires authentication.")
		return
	}
	s.issueToken(w, r, methods, nil)
}

// hasScope reports whether an auth request's scope is present and not null.
func hasScope(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// findApplicationCredential returns the configured application credential
// with the given id (when id is set) or name, or nil.
func (s *Simulator) findApplicationCredential(id, name string) *ApplicationCredential {
	for i := range s.opts.ApplicationCredentials {
		ac := &s.opts.ApplicationCredentials[i]
		if (id != "" && ac.ID == id) || (id == "" && ac.Name == name) {
			return ac
		}
	}
	return nil
}

// issueToken answers a successful POST /v3/auth/tokens with a new
// project-scoped token.
func (s *Simulator) issueToken(w http.ResponseWriter, r *http.Request, methods []string, appCred *ApplicationCredential) {
	tok, info := s.newToken(s.opts.ProjectID, appCred)
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	w.Header().Set("X-Subject-Token", tok)
	w.Header().Set("Vary", "X-Auth-Token")
	writeRaw(w, http.StatusCreated, "application/json", s.tokenBody(r, methods, info))
}

func keystoneTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000000Z")
}

func (s *Simulator) tokenBody(r *http.Request, methods []string, info tokenInfo) []byte {
	host := requestHost(r)
	userDomain := map[string]any{"id": domainID(s.opts.UserDomainName), "name": s.opts.UserDomainName}
	projDomain := map[string]any{"id": domainID(s.opts.ProjectDomainName), "name": s.opts.ProjectDomainName}
	endpoints := func(service, url string) []any {
		var out []any
		for i, iface := range []string{"public", "internal", "admin"} {
			out = append(out, map[string]any{
				"id":        fmt.Sprintf("%s%02d%s", service[:4], i, strings.Repeat("0", 26)),
				"interface": iface,
				"region":    s.opts.Region,
				"region_id": s.opts.Region,
				"url":       url,
			})
		}
		return out
	}
	ms := make([]any, len(methods))
	for i, m := range methods {
		ms[i] = m
	}
	tok := map[string]any{
		"methods":    ms,
		"user":       map[string]any{"domain": userDomain, "id": userID, "name": s.opts.Username, "password_expires_at": nil},
		"audit_ids":  []any{"simulatedAuditId0001"},
		"expires_at": keystoneTime(info.expires.Add(s.opts.ExpiresAtShift)),
		"issued_at":  keystoneTime(info.issued),
		"project":    map[string]any{"domain": projDomain, "id": s.opts.ProjectID, "name": s.opts.ProjectName},
		"is_domain":  false,
		"roles": []any{
			map[string]any{"id": roleID, "name": "member"},
			map[string]any{"id": "5d4c3b2a1f0e9d8c7b6a59483726150f", "name": "reader"},
		},
		"catalog": []any{
			map[string]any{
				"endpoints": endpoints("comp", host+"/v2.1/"+s.opts.ProjectID),
				"id":        "c0a1b2c3d4e5f60718293a4b5c6d7e8f",
				"type":      "compute",
				"name":      "nova",
			},
			map[string]any{
				"endpoints": endpoints("iden", host+"/v3"),
				"id":        "d1b2c3d4e5f60718293a4b5c6d7e8f90",
				"type":      "identity",
				"name":      "keystone",
			},
		},
	}
	if ac := info.appCred; ac != nil {
		tok["application_credential"] = map[string]any{"id": ac.ID, "name": ac.Name, "restricted": true}
	}
	return appendPyJSON(nil, map[string]any{"token": tok})
}

// ---------------------------------------------------------------- Nova

func novaFault(w http.ResponseWriter, code int, name, message string) {
	b := []byte(`{"`)
	b = append(b, name...)
	b = append(b, `": {"code": `...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `, "message": `...)
	b = appendPyString(b, message)
	b = append(b, "}}"...)
	writeRaw(w, code, "application/json; charset=UTF-8", b)
}

// microversion is a parsed compute API version.
type microversion struct{ major, minor int }

func (v microversion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v microversion) less(o microversion) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

var (
	minVersion = microversion{2, 1}
	maxVersion = microversion{2, 93}
	// lastImagesVersion is the last microversion that has the image proxy.
	lastImagesVersion = microversion{2, 35}
)

// requestedVersion extracts the requested compute microversion string, as
// microversion_parse does: OpenStack-API-Version ("compute X") first, then
// X-OpenStack-Nova-API-Version. It returns "" when none was requested.
func requestedVersion(h http.Header) string {
	for _, v := range h.Values("OpenStack-API-Version") {
		for _, part := range strings.Split(v, ",") {
			f := strings.Fields(part)
			if len(f) == 2 && strings.EqualFold(f[0], "compute") {
				return f[1]
			}
		}
	}
	if vs := h.Values("X-OpenStack-Nova-API-Version"); len(vs) > 0 {
		return strings.TrimSpace(strings.Join(vs, ","))
	}
	return ""
}

func parseVersion(s string) (microversion, bool) {
	maj, min, ok := strings.Cut(s, ".")
	if !ok {
		return microversion{}, false
	}
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if err1 != nil || err2 != nil || a < 0 || b < 0 || strings.HasPrefix(min, "+") || strings.HasPrefix(maj, "+") {
		return microversion{}, false
	}
	return microversion{a, b}, true
}

func (s *Simulator) serveImages(w http.ResponseWriter, r *http.Request, pathProject string) {
	s.mu.Lock()
	if len(s.requests) == maxRequestRecords {
		// A long-running --demo must not grow without bound: keep the newest half.
		s.requests = append(s.requests[:0], s.requests[maxRequestRecords/2:]...)
	}
	s.requests = append(s.requests, RequestRecord{
		Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(),
	})
	fault := s.fault
	s.mu.Unlock()

	aksk := isAKSKRequest(r)
	if aksk {
		// Huawei's API gateway checks the signature before the request
		// reaches Nova; a valid one stands for a project-scoped token.
		if reason := s.verifyAKSK(r, pathProject); reason != "" {
			apigwUnauthorized(w, reason)
			return
		}
	}

	reqID := requestID()
	h := w.Header()
	h.Set("x-openstack-request-id", reqID)
	h.Set("x-compute-request-id", reqID)

	// keystonemiddleware runs first.
	info := tokenInfo{projectID: s.opts.ProjectID}
	if !aksk {
		var ok bool
		info, ok = s.lookupToken(r.Header.Get("X-Auth-Token"))
		if !ok {
			h.Set("WWW-Authenticate", `Keystone uri="`+requestHost(r)+`"`)
			writeRaw(w, http.StatusUnauthorized, "application/json", []byte(keystoneUnauthorized))
			return
		}
	}
	s.imagesRequests.Add(1)

	// Microversion negotiation.
	ver := minVersion
	if raw := requestedVersion(r.Header); raw != "" {
		if strings.EqualFold(raw, "latest") {
			ver = maxVersion
		} else {
			v, ok := parseVersion(raw)
			if !ok {
				novaFault(w, http.StatusBadRequest, "badRequest",
					"API Version String "+raw+" is of invalid format. Must be of format MajorNum.MinorNum.")
				return
			}
			if v.less(minVersion) || maxVersion.less(v) {
				novaFault(w, http.StatusNotAcceptable, "computeFault",
					"Version "+v.String()+" is not supported by the API. Minimum is "+minVersion.String()+" and maximum is "+maxVersion.String()+".")
				return
			}
			ver = v
		}
	}
	h.Set("OpenStack-API-Version", "compute "+ver.String())
	h.Set("X-OpenStack-Nova-API-Version", ver.String())
	h.Add("Vary", "OpenStack-API-Version")
	h.Add("Vary", "X-OpenStack-Nova-API-Version")
	if lastImagesVersion.less(ver) {
		novaFault(w, http.StatusNotFound, "itemNotFound", "The resource could not be found.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET")
		novaFault(w, http.StatusMethodNotAllowed, "badMethod", "The method specified is not allowed for this resource.")
		return
	}
	if pathProject != "" && pathProject != info.projectID {
		// Nova's wsgi layer answers a mismatch with 400, not 403.
		novaFault(w, http.StatusBadRequest, "badRequest",
			"Malformed request URL: URL's project_id '"+pathProject+"' doesn't match Context's project_id '"+info.projectID+"'")
		return
	}
	// The SetFaults plan comes first, then the SetFault hook.
	var ft Fault
	if p := s.plan.Load(); p != nil {
		ft = p.plan(int(p.n.Add(1)-1), r)
	}
	if answerFault(w, r, &ft) {
		return
	}
	if fault != nil && fault(w, r) {
		return
	}
	s.listImages(w, r, pathProject, &ft)
}

// filters is the parsed query of an images/detail request.
type filters struct {
	name, status, server, imageType *string
	changesSince                    *time.Time
	minRAM, minDisk                 *int64
	properties                      map[string]string
}

var changesSinceLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

func parseChangesSince(v string) (time.Time, bool) {
	try := func(v string) (time.Time, bool) {
		for _, l := range changesSinceLayouts {
			if t, err := time.Parse(l, v); err == nil {
				return t, true
			}
		}
		return time.Time{}, false
	}
	if t, ok := try(v); ok {
		return t, true
	}
	// An unescaped "+01:00" offset arrives as " 01:00".
	if i := strings.LastIndexByte(v, ' '); i > 0 {
		return try(v[:i] + "+" + v[i+1:])
	}
	return time.Time{}, false
}

func last(q url.Values, key string) (string, bool) {
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

func parseFilters(q url.Values) (filters, string) {
	var f filters
	if v, ok := last(q, "name"); ok {
		f.name = &v
	}
	if v, ok := last(q, "status"); ok {
		v = strings.ToLower(v)
		f.status = &v
	}
	if v, ok := last(q, "server"); ok {
		if i := strings.LastIndexByte(v, '/'); i >= 0 {
			v = v[i+1:]
		}
		f.server = &v
	}
	if v, ok := last(q, "type"); ok {
		f.imageType = &v
	}
	if v, ok := last(q, "changes-since"); ok {
		t, ok := parseChangesSince(v)
		if !ok {
			return f, "Invalid changes-since value"
		}
		f.changesSince = &t
	}
	for _, k := range []string{"minRam", "minDisk"} {
		v, ok := last(q, k)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return f, "Invalid " + k + " value " + strconv.Quote(v) + ": must be an integer"
		}
		if k == "minRam" {
			f.minRAM = &n
		} else {
			f.minDisk = &n
		}
	}
	for k, vs := range q {
		if p, ok := strings.CutPrefix(k, "property-"); ok && p != "" && len(vs) > 0 {
			if f.properties == nil {
				f.properties = map[string]string{}
			}
			f.properties[p] = vs[len(vs)-1]
		}
	}
	return f, ""
}

// serverID is the instance a snapshot was made from: ServerID, else a
// string metadata instance_uuid (what real Nova uses).
func serverID(img *Image) string {
	if img.ServerID != "" {
		return img.ServerID
	}
	if v, ok := img.Metadata["instance_uuid"].(string); ok {
		return v
	}
	return ""
}

func metaString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case nil:
		return "", false
	default:
		b := appendPyJSON(nil, x)
		return string(b), true
	}
}

func (f *filters) match(img *Image) bool {
	if f.name != nil && (img.Name == nil || *img.Name != *f.name) {
		return false
	}
	if f.status != nil && strings.ToLower(img.Status) != *f.status {
		return false
	}
	if f.server != nil && serverID(img) != *f.server {
		return false
	}
	if f.imageType != nil {
		if t, ok := img.Metadata["image_type"].(string); !ok || t != *f.imageType {
			return false
		}
	}
	if f.changesSince != nil {
		t := img.Created
		if img.Updated != nil {
			t = *img.Updated
		}
		if t.Before(*f.changesSince) {
			return false
		}
	}
	// Nova hands minRam and minDisk to Glance as min_ram and min_disk, which Glance v2
	// compares for equality like any other column: the real API matches them exactly,
	// although Nova's own documentation calls them minimums.
	if f.minRAM != nil && img.MinRAM != *f.minRAM {
		return false
	}
	if f.minDisk != nil && img.MinDisk != *f.minDisk {
		return false
	}
	for k, want := range f.properties {
		got, ok := metaString(img.Metadata[k])
		if !ok || got != want {
			return false
		}
	}
	return true
}

// listImages answers an images/detail request with a page, shaped by the
// page and delivery parts of ft (the zero Fault gives the normal page).
func (s *Simulator) listImages(w http.ResponseWriter, r *http.Request, pathProject string, ft *Fault) {
	q := r.URL.Query()

	// Pagination parameters, as nova.api.openstack.common.get_pagination_params.
	limitGiven := false
	limit := 0
	if v, ok := last(q, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			novaFault(w, http.StatusBadRequest, "badRequest", "limit param must be an integer")
			return
		}
		if n < 0 {
			novaFault(w, http.StatusBadRequest, "badRequest", "limit param must be positive")
			return
		}
		limit, limitGiven = n, true
	}
	marker, hasMarker := last(q, "marker")

	f, msg := parseFilters(q)
	if msg != "" {
		novaFault(w, http.StatusBadRequest, "badRequest", msg)
		return
	}

	fetch := s.opts.MaxLimit
	if limit > 0 && limit < fetch {
		fetch = limit
	}
	// Nova adds a next link when the page holds exactly
	// min(limit or max_limit, max_limit) items.
	linkLimit := s.opts.MaxLimit
	if limitGiven && limit < linkLimit {
		linkLimit = limit
	}

	host := s.linkHost(r)
	var b []byte
	s.mu.RLock()
	start := 0
	markerIdx := -1
	if hasMarker {
		i, ok := s.index[marker]
		if !ok {
			s.mu.RUnlock()
			novaFault(w, http.StatusBadRequest, "badRequest", "HTTP 400 Bad Request: No image found with ID "+marker)
			return
		}
		start = i + 1
		markerIdx = i
	}
	if ft.shapesPage() {
		b = s.appendFaultyPage(b, ft, &pageRequest{
			q: q, f: &f, host: host, project: pathProject,
			marker: marker, markerIdx: markerIdx, fetch: fetch, linkLimit: linkLimit,
		})
		s.mu.RUnlock()
		deliverPage(w, r, append(b, '}'), ft)
		return
	}
	est := min(fetch, len(s.images)-start)
	b = make([]byte, 0, 64+max(est, 0)*1536)
	b = append(b, `{"images": [`...)
	n := 0
	lastID := ""
	for i := start; i < len(s.images) && n < fetch; i++ {
		img := &s.images[i]
		if !f.match(img) {
			continue
		}
		if n > 0 {
			b = append(b, ", "...)
		}
		b = appendImage(b, img, host, pathProject)
		lastID = img.ID
		n++
	}
	s.mu.RUnlock()
	b = append(b, ']')
	if linkLimit > 0 && n == linkLimit {
		b = append(b, `, "images_links": [{"rel": "next", "href": `...)
		b = appendPyString(b, nextLink(host, pathProject, q, lastID))
		b = append(b, "}]"...)
	}
	b = append(b, '}')
	if ft.shapesDelivery() {
		deliverPage(w, r, b, ft)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", b)
}

// nextLink builds Nova's next href: the request's parameters sorted by key
// (last value of each), with marker set to the last id.
func nextLink(host, project string, q url.Values, lastID string) string {
	return pageLink(host, project, q, lastID, true)
}

// pageLink builds an images/detail href with the request's parameters
// sorted by key (last value of each); with setMarker, marker is set to
// marker, otherwise the parameters are kept as they are.
func pageLink(host, project string, q url.Values, marker string, setMarker bool) string {
	keys := make([]string, 0, len(q)+1)
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, ok := q["marker"]; !ok && setMarker {
		keys = append(keys, "marker")
	}
	var sb strings.Builder
	sb.WriteString(joinURL(host, "v2.1", project, "images/detail"))
	if len(keys) > 0 {
		sb.WriteByte('?')
	}
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte('&')
		}
		v := marker
		if k != "marker" || !setMarker {
			vs := q[k]
			v = vs[len(vs)-1]
		}
		sb.WriteString(url.QueryEscape(k))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(v))
	}
	return sb.String()
}

// joinURL joins non-empty parts with single slashes, like nova's url_join.
func joinURL(parts ...string) string {
	var sb strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('/')
			p = strings.TrimLeft(p, "/")
		}
		sb.WriteString(strings.TrimRight(p, "/"))
	}
	return sb.String()
}
