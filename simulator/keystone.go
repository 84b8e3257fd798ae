package simulator

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	userID = "9a1e7c4f0b2d4e6f8a3c5b7d9e1f2a4c"
	roleID = "4c3b2a19f8e7d6c5b4a39281706f5e4d"
	// adminRoleID is the admin role's id, in the tokens of an Admin user.
	adminRoleID = "6e5d4c3b2a1f0e9d8c7b6a5948372615"

	keystoneUnauthorized = `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
)

// ApplicationCredential is a Keystone application credential of the simulator's user, scoped to its project.
type ApplicationCredential struct {
	// ID is the credential's id.
	ID string
	// Name is the credential's name, unique for the user.
	Name string
	// Secret is the credential's secret.
	Secret string
}

type tokenInfo struct {
	projectID string
	issued    time.Time
	expires   time.Time
	// appCred is the application credential the token was issued for, if any.
	appCred *ApplicationCredential
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

// TokenRequests returns the number of successful POST /v3/auth/tokens.
func (s *Simulator) TokenRequests() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.tokenRequests
}

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

func (s *Simulator) serveKeystone(w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request)) {
	w.Header().Set("x-openstack-request-id", requestID())
	h(w, r)
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
		"roles":      s.roles(),
		"catalog": []any{
			map[string]any{
				"endpoints": endpoints("comp", cmp.Or(s.opts.CatalogURLs["compute"], host+"/v2.1/"+s.opts.ProjectID)),
				"id":        "c0a1b2c3d4e5f60718293a4b5c6d7e8f",
				"type":      "compute",
				"name":      "nova",
			},
			map[string]any{
				// Glance under its path prefix, as devstack's catalog has it.
				"endpoints": endpoints("imag", cmp.Or(s.opts.CatalogURLs["image"], host+s.glancePrefix())),
				"id":        "e2c3d4e5f60718293a4b5c6d7e8f9001",
				"type":      "image",
				"name":      "glance",
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

// roles are the roles of the simulator's user in its project, as its tokens list them.
func (s *Simulator) roles() []any {
	roles := []any{
		map[string]any{"id": roleID, "name": "member"},
		map[string]any{"id": "5d4c3b2a1f0e9d8c7b6a59483726150f", "name": "reader"},
	}
	if s.opts.Admin {
		roles = append(roles, map[string]any{"id": adminRoleID, "name": "admin"})
	}
	return roles
}

// Project is a project of the simulated cloud.
type Project struct {
	ID, Name, DomainID string
	// Description is the project's description; "" is sent as "".
	Description string
}

// ProjectRequests counts the GET /v3/projects answered, whatever their status.
func (s *Simulator) ProjectRequests() int64 { return s.projectRequests.Load() }

// serveProjects answers GET /v3/projects as Keystone Zed does with its default policy: every
// project, unpaged, to a token with the admin role; 403 to a member (real answers in
// testdata/realkeystone). Every answer ends in a newline, as Keystone's do.
func (s *Simulator) serveProjects(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		keystoneMethodNotAllowed(w, "GET, HEAD")
		return
	}
	s.projectRequests.Add(1)
	w.Header().Set("Vary", "X-Auth-Token")
	if _, ok := s.lookupToken(r.Header.Get("X-Auth-Token")); !ok {
		w.Header().Set("WWW-Authenticate", `Keystone uri="`+requestHost(r)+`/v3"`)
		writeRaw(w, http.StatusUnauthorized, "application/json",
			[]byte(`{"error":{"code":401,"message":"The request you have made requires authentication.","title":"Unauthorized"}}`+"\n"))
		return
	}
	if !s.opts.Admin {
		writeRaw(w, http.StatusForbidden, "application/json",
			[]byte(`{"error":{"code":403,"message":"You are not authorized to perform the requested action: identity:list_projects.","title":"Forbidden"}}`+"\n"))
		return
	}
	own := Project{ID: s.opts.ProjectID, Name: s.opts.ProjectName, DomainID: domainID(s.opts.ProjectDomainName)}
	host := requestHost(r)
	b := []byte(`{"projects": [`)
	for i, p := range append([]Project{own}, s.opts.Projects...) {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendProject(b, p, host)
	}
	b = append(b, `], "links": {"next": null, "self": `...)
	b = appendPyString(b, host+"/v3/projects")
	b = append(b, `, "previous": null}}`+"\n"...)
	writeRaw(w, http.StatusOK, "application/json", b)
}

// appendProject appends p as Keystone lists a project, its keys in Keystone's order.
func appendProject(b []byte, p Project, host string) []byte {
	b = append(b, `{"id": `...)
	b = appendPyString(b, p.ID)
	b = append(b, `, "name": `...)
	b = appendPyString(b, p.Name)
	b = append(b, `, "domain_id": `...)
	b = appendPyString(b, p.DomainID)
	b = append(b, `, "description": `...)
	b = appendPyString(b, p.Description)
	b = append(b, `, "enabled": true, "parent_id": `...)
	b = appendPyString(b, p.DomainID)
	b = append(b, `, "is_domain": false, "tags": [], "options": {}, "links": {"self": `...)
	b = appendPyString(b, host+"/v3/projects/"+p.ID)
	return append(b, "}}"...)
}
