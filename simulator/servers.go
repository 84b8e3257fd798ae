package simulator

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Nova's servers listing, GET /v2.1/{project_id}/servers (ids, names and links), as the
// realstack's Nova (Zed) answers it (testdata/realnova, recorded byte for byte), and as
// Huawei ECS's Nova-compatible API on the same path answers a signed request:
//   - the own project's servers, newest first, paged by limit (at most MaxLimit) and marker
//     with a servers_links next link on a full page; a marker that names no server listed is
//     a 400;
//   - all_tenants=1 every project's, to an Admin; 403 to a member, Nova's policy
//     os_compute_api:servers:index:get_all_tenants;
//   - SOFT_DELETED servers left out, as Nova's database query leaves them out whenever it
//     filters out deleted servers: unless changes-since is given (then deleted ones come
//     too); status filters by the server's status.

// The statuses of a Server, as Nova names them.
const (
	ServerActive           = "ACTIVE"
	ServerBuild            = "BUILD"
	ServerError            = "ERROR"
	ServerShelvedOffloaded = "SHELVED_OFFLOADED"
	ServerSoftDeleted      = "SOFT_DELETED"
	// ServerDeleted is a server deleted: Nova keeps its row, and lists it only to a
	// listing with changes-since.
	ServerDeleted = "DELETED"
)

// APIServers is Nova's (or ECS's) GET /v2.1/{project_id}/servers, in ServerRequests.
const APIServers = "servers"

// Server is a server of the simulated cloud.
type Server struct {
	ID, Name string
	// ProjectID is the project that owns it; "" means Options.ProjectID.
	ProjectID string
	// Status is one of the Server statuses; "" means ACTIVE.
	Status string
}

// serversPath reports whether p is the servers listing, and the project in its path
// ("" for /v2.1/servers).
func serversPath(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v2.1/")
	if !ok {
		return "", false
	}
	if rest == "servers" {
		return "", true
	}
	project, tail, ok := strings.Cut(rest, "/")
	return project, ok && project != "" && tail == "servers"
}

// ServerRequests returns a copy of the log of the servers requests (including rejected
// ones), oldest first. Requests and ImagesRequests do not count them.
func (s *Simulator) ServerRequests() []RequestRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneRecords(s.serverRequests)
}

// SetServerFaults installs a fault plan for the servers requests: the n-th of them (n
// counts from 0 since SetServerFaults, authorised requests only) gets plan(n, r). nil
// removes the plan. It is apart from the image listings' plan (SetFaults). Of a Fault, the
// servers requests honour what the quota requests do (SetQuotaFaults).
func (s *Simulator) SetServerFaults(plan func(n int, r *http.Request) Fault) {
	installPlan(&s.serverPlan, plan)
}

// SetServers replaces the cloud's servers, newest first.
func (s *Simulator) SetServers(servers []Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.servers = slices.Clone(servers)
	for i := range s.servers {
		if s.servers[i].ProjectID == "" {
			s.servers[i].ProjectID = s.opts.ProjectID
		}
		if s.servers[i].Status == "" {
			s.servers[i].Status = ServerActive
		}
	}
}

// serveServers answers GET /v2.1/{project_id}/servers: the gateway's check of a signed
// request, keystonemiddleware's of a token, the project check, the fault plan, then the
// listing.
func (s *Simulator) serveServers(w http.ResponseWriter, r *http.Request, pathProject string) {
	s.mu.Lock()
	s.serverRequests = appendRecord(s.serverRequests, r, APIServers)
	s.mu.Unlock()
	aksk := isAKSKRequest(r)
	if aksk {
		if reason := s.verifyAKSK(r, pathProject); reason != "" {
			apigwUnauthorized(w, reason)
			return
		}
	}
	reqID := requestID()
	h := w.Header()
	h.Set("x-openstack-request-id", reqID)
	h.Set("x-compute-request-id", reqID)
	info := tokenInfo{projectID: s.opts.ProjectID}
	if !aksk {
		var ok bool
		if info, ok = s.lookupToken(r.Header.Get("X-Auth-Token")); !ok {
			h.Set("WWW-Authenticate", `Keystone uri="`+requestHost(r)+`"`)
			writeRaw(w, http.StatusUnauthorized, "application/json", []byte(keystoneUnauthorized))
			return
		}
	}
	h.Set("OpenStack-API-Version", "compute 2.1")
	h.Set("X-OpenStack-Nova-API-Version", "2.1")
	h.Add("Vary", "OpenStack-API-Version")
	h.Add("Vary", "X-OpenStack-Nova-API-Version")
	if r.Method != http.MethodGet {
		h.Set("Allow", "GET")
		novaFault(w, http.StatusMethodNotAllowed, "badMethod", "The method specified is not allowed for this resource.")
		return
	}
	if pathProject != "" && pathProject != info.projectID {
		novaFault(w, http.StatusBadRequest, "badRequest",
			"Malformed request URL: URL's project_id '"+pathProject+"' doesn't match Context's project_id '"+info.projectID+"'")
		return
	}
	ft := nextPlanned(&s.serverPlan, r)
	if answerFault(w, r, &ft, APINova) {
		return
	}
	s.listServers(w, r, pathProject, info.projectID, aksk)
}

// listServers answers the listing of project's servers, or every project's.
func (s *Simulator) listServers(w http.ResponseWriter, r *http.Request, pathProject, project string, aksk bool) {
	q := r.URL.Query()
	allTenants := isAllTenants(q)
	if allTenants && (!s.opts.Admin || aksk) {
		novaFault(w, http.StatusForbidden, "forbidden", "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to be performed.")
		return
	}
	if v := q.Get("changes-since"); q.Has("changes-since") {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			novaFault(w, http.StatusBadRequest, "badRequest", "Invalid filter field: changes-since.")
			return
		}
	}
	limit := s.opts.MaxLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			novaFault(w, http.StatusBadRequest, "badRequest", "limit param must be an integer")
			return
		}
		limit = min(n, limit)
	}
	listed := s.visibleServers(q, project, allTenants)
	start := 0
	if marker := q.Get("marker"); q.Has("marker") {
		i := slices.IndexFunc(listed, func(sv Server) bool { return sv.ID == marker })
		if i < 0 {
			novaFault(w, http.StatusBadRequest, "badRequest", "marker ["+marker+"] not found")
			return
		}
		start = i + 1
	}
	page := listed[start:min(start+limit, len(listed))]
	host := s.linkHost(r)
	b := []byte(`{"servers": [`)
	for i, sv := range page {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendServer(b, sv, host, pathProject)
	}
	b = append(b, ']')
	if limit > 0 && len(page) == limit {
		b = append(b, `, "servers_links": [{"rel": "next", "href": `...)
		b = appendPyString(b, collectionLink(host, pathProject, "servers", q, page[len(page)-1].ID, true))
		b = append(b, "}]"...)
	}
	writeRaw(w, http.StatusOK, "application/json", append(b, '}'))
}

// visibleServers are the servers a listing with q sees, newest first.
func (s *Simulator) visibleServers(q url.Values, project string, allTenants bool) []Server {
	withDeleted := q.Has("changes-since")
	s.mu.RLock()
	defer s.mu.RUnlock()
	var listed []Server
	for _, sv := range s.servers {
		switch {
		case !allTenants && sv.ProjectID != project:
		case !withDeleted && (sv.Status == ServerDeleted || sv.Status == ServerSoftDeleted):
		case q.Has("status") && !strings.EqualFold(q.Get("status"), sv.Status):
		default:
			listed = append(listed, sv)
		}
	}
	return listed
}

// isAllTenants is Nova's common.is_all_tenants: all_tenants given, and not a false value.
func isAllTenants(q url.Values) bool {
	if !q.Has("all_tenants") {
		return false
	}
	switch strings.ToLower(q.Get("all_tenants")) {
	case "0", "f", "false", "n", "no", "off":
		return false
	}
	return true
}

// appendServer appends one server of the listing, as Nova's view builder's index shows it.
func appendServer(b []byte, sv Server, host, project string) []byte {
	b = append(b, `{"id": `...)
	b = appendPyString(b, sv.ID)
	b = append(b, `, "name": `...)
	b = appendPyString(b, sv.Name)
	b = append(b, `, "links": [{"rel": "self", "href": `...)
	b = appendPyString(b, joinURL(host, "v2.1", project, "servers", sv.ID))
	b = append(b, `}, {"rel": "bookmark", "href": `...)
	b = appendPyString(b, joinURL(host, project, "servers", sv.ID))
	return append(b, "}]}"...)
}
