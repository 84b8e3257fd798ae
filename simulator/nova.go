package simulator

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	// GlanceURL is the Glance base URL used in the images' alternate links.
	GlanceURL = "http://glance.internal:9292"

	// novaNotFound is Nova's 404 body, the answer to a path the simulator does not serve.
	novaNotFound = `{"itemNotFound": {"code": 404, "message": "The resource could not be found."}}`
)

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

// linkHost is the prefix of Nova's own links.
func (s *Simulator) linkHost(r *http.Request) string {
	if s.opts.InternalHost != "" {
		return s.opts.InternalHost
	}
	return requestHost(r)
}

// novaFault answers with Nova's fault body, {name: {"code": code, "message": message}}.
func novaFault(w http.ResponseWriter, code int, name, message string) {
	writeRaw(w, code, "application/json; charset=UTF-8", append(appendNovaFault(nil, code, name, message), "}}"...))
}

// appendNovaFault appends Nova's fault body without its two closing braces, for the caller
// to add a field of its own.
func appendNovaFault(b []byte, code int, name, message string) []byte {
	b = append(b, `{"`...)
	b = append(b, name...)
	b = append(b, `": {"code": `...)
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, `, "message": `...)
	return appendPyString(b, message)
}

// serveImages answers an images/detail request: the gateway's check of a signed request,
// keystonemiddleware's of a token, microversion negotiation, method and project checks, the
// fault plan, then the page.
func (s *Simulator) serveImages(w http.ResponseWriter, r *http.Request, pathProject string) {
	s.recordRequest(r, APINova)
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
	// Nova counts a request keystonemiddleware lets through (Glance and IMS count theirs in
	// nextFault, after their own checks).
	s.imagesRequests.Add(1)

	ver, ok := negotiateVersion(w, r)
	if !ok {
		return
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
	ft := nextPlanned(&s.plan, r)
	if answerFault(w, r, &ft, APINova) {
		return
	}
	s.listImages(w, r, pathProject, &ft)
}

// novaFilters is the parsed query of an images/detail request.
type novaFilters struct {
	name, status, server, imageType *string
	changesSince                    *time.Time
	minRAM, minDisk                 *int64
	properties                      map[string]string
}

// last is the last value of key in q, as webob's GET dictionary gives it.
func last(q url.Values, key string) (string, bool) {
	vs, ok := q[key]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[len(vs)-1], true
}

// parseNovaFilters reads the filters of an images/detail query. It returns the explanation of
// a 400 for a bad value ("" when valid).
func parseNovaFilters(q url.Values) (novaFilters, string) {
	var f novaFilters
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
		t, ok := parseISOTime(v)
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

// match reports whether the listing shows img.
func (f *novaFilters) match(img *Image) bool {
	if img.Hidden {
		return false // Nova lists through Glance's default listing, which leaves hidden images out
	}
	if f.name != nil && (img.Name == nil || *img.Name != *f.name) {
		return false
	}
	if f.status != nil && strings.ToLower(img.Status) != *f.status {
		return false
	}
	if f.server != nil && img.serverID() != *f.server {
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

// novaPaging is the paging of an images/detail request.
type novaPaging struct {
	// size is the most images the page holds.
	size int
	// linkSize is how many images a page holds when it gets a next link (0: never).
	linkSize int
	// marker is the id of the image the page follows, nil for the first page.
	marker *string
}

// parseNovaPaging reads the paging of q as nova.api.openstack.common's get_pagination_params
// does. It answers a bad limit, or one NovaForbiddenLimitAbove refuses, itself and reports
// false.
func (s *Simulator) parseNovaPaging(w http.ResponseWriter, q url.Values) (novaPaging, bool) {
	limitGiven := false
	limit := 0
	if v, ok := last(q, "limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			novaFault(w, http.StatusBadRequest, "badRequest", "limit param must be an integer")
			return novaPaging{}, false
		}
		if n < 0 {
			novaFault(w, http.StatusBadRequest, "badRequest", "limit param must be positive")
			return novaPaging{}, false
		}
		limit, limitGiven = n, true
	}
	if above := s.opts.NovaForbiddenLimitAbove; above > 0 && limit > above {
		// The fault's message is the simulator's own: Huawei documents only the status.
		novaFault(w, http.StatusForbidden, "forbidden", fmt.Sprintf("limit %d exceeds the maximum page size %d", limit, above))
		return novaPaging{}, false
	}
	p := novaPaging{size: s.opts.MaxLimit, linkSize: s.opts.MaxLimit}
	if limit > 0 && limit < p.size {
		p.size = limit
	}
	// Nova adds a next link when the page holds exactly
	// min(limit or max_limit, max_limit) items.
	if limitGiven && limit < p.linkSize {
		p.linkSize = limit
	}
	if v, ok := last(q, "marker"); ok {
		p.marker = &v
	}
	return p, true
}

// listImages answers an images/detail request with a page, as ft shapes and delivers it
// (the zero Fault gives the normal page), through the listing code Glance and IMS share.
func (s *Simulator) listImages(w http.ResponseWriter, r *http.Request, pathProject string, ft *Fault) {
	q := r.URL.Query()
	pg, ok := s.parseNovaPaging(w, q)
	if !ok {
		return
	}
	f, msg := parseNovaFilters(q)
	if msg != "" {
		novaFault(w, http.StatusBadRequest, "badRequest", msg)
		return
	}
	host := s.linkHost(r)
	b, n, lastID, ok := s.appendPage(nil, ft, f.match, pg.marker, pg.size,
		func(b []byte, img *Image, tw *imageTweak) []byte {
			return appendNovaImage(b, img, host, pathProject, tw)
		})
	if !ok {
		novaFault(w, http.StatusBadRequest, "badRequest", "HTTP 400 Bad Request: No image found with ID "+*pg.marker)
		return
	}
	b = append(b, ']')
	switch {
	case ft.Loop:
		// A server that ignores the marker: next repeats this request's own query.
		b = appendNextLink(b, novaLink(host, pathProject, q, "", false))
	case pg.linkSize > 0 && n == pg.linkSize:
		b = appendNextLink(b, novaNextLink(host, pathProject, q, lastID))
	}
	finishPage(w, r, append(b, '}'), ft)
}

// appendNextLink appends Nova's images_links, a next link to href.
func appendNextLink(b []byte, href string) []byte {
	b = append(b, `, "images_links": [{"rel": "next", "href": `...)
	b = appendPyString(b, href)
	return append(b, "}]"...)
}

// novaNextLink builds Nova's next href: the request's parameters sorted by key
// (last value of each), with marker set to the last id.
func novaNextLink(host, project string, q url.Values, lastID string) string {
	return novaLink(host, project, q, lastID, true)
}

// novaLink builds an images/detail href with the request's parameters
// sorted by key (last value of each); with setMarker, marker is set to
// marker (after the others when the request had none), otherwise the
// parameters are kept as they are.
func novaLink(host, project string, q url.Values, marker string, setMarker bool) string {
	return collectionLink(host, project, "images/detail", q, marker, setMarker)
}

// collectionLink is novaLink for Nova's collection (images/detail, servers).
func collectionLink(host, project, collection string, q url.Values, marker string, setMarker bool) string {
	keys := make([]string, 0, len(q)+1)
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if _, ok := q["marker"]; !ok && setMarker {
		keys = append(keys, "marker")
	}
	var sb strings.Builder
	sb.WriteString(joinURL(host, "v2.1", project, collection))
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

// novaStatus maps a Glance status to Nova's status and progress.
func novaStatus(glance string) (string, int) {
	switch glance {
	case "active":
		return "ACTIVE", 100
	case "queued":
		return "SAVING", 25
	case "saving":
		return "SAVING", 50
	case "deleted", "pending_delete":
		return "DELETED", 0
	case "killed":
		return "ERROR", 0
	default:
		return "UNKNOWN", 0
	}
}

// appendNovaImage appends one image as Nova's image view builder renders it, with Python
// json.dumps separators and escapes. tw replaces some values with raw JSON (fault
// injection); nil changes nothing.
func appendNovaImage(b []byte, img *Image, host, project string, tw *imageTweak) []byte {
	if tw == nil {
		tw = &noTweak
	}
	b = append(b, `{"id": `...)
	b = appendPyString(b, img.ID)
	b = append(b, `, "name": `...)
	switch {
	case tw.name != nil:
		b = append(b, tw.name...)
	case img.Name == nil:
		b = append(b, "null"...)
	default:
		b = appendPyString(b, *img.Name)
	}
	b = append(b, `, "minRam": `...)
	b = strconv.AppendInt(b, img.MinRAM, 10)
	b = append(b, `, "minDisk": `...)
	if tw.minDisk != nil {
		b = append(b, tw.minDisk...)
	} else {
		b = strconv.AppendInt(b, img.MinDisk, 10)
	}
	b = append(b, `, "metadata": `...)
	b = appendPyJSON(b, img.Metadata)
	b = append(b, `, "created": `...)
	b = appendJSONTime(b, tw.created, &img.Created)
	b = append(b, `, "updated": `...)
	b = appendJSONTime(b, tw.updated, img.Updated)
	status, progress := novaStatus(img.Status)
	b = append(b, `, "status": "`...)
	b = append(b, status...)
	b = append(b, `", "progress": `...)
	b = strconv.AppendInt(b, int64(progress), 10)
	b = append(b, `, "OS-EXT-IMG-SIZE:size": `...)
	if tw.size != nil {
		b = append(b, tw.size...)
	} else {
		var size int64
		if img.Size != nil {
			size = *img.Size
		}
		b = strconv.AppendInt(b, size, 10)
	}
	b = append(b, `, "links": [{"rel": "self", "href": `...)
	b = appendPyString(b, joinURL(host, "v2.1", project, "images", img.ID))
	b = append(b, `}, {"rel": "bookmark", "href": `...)
	b = appendPyString(b, joinURL(host, project, "images", img.ID))
	b = append(b, `}, {"rel": "alternate", "type": "application/vnd.openstack.image", "href": `...)
	b = appendPyString(b, GlanceURL+"/images/"+img.ID)
	b = append(b, "}]"...)
	if sid := img.serverID(); sid != "" {
		b = append(b, `, "server": {"id": `...)
		b = appendPyString(b, sid)
		b = append(b, `, "links": [{"rel": "self", "href": `...)
		b = appendPyString(b, joinURL(host, "v2.1", project, "servers", sid))
		b = append(b, `}, {"rel": "bookmark", "href": `...)
		b = appendPyString(b, joinURL(host, project, "servers", sid))
		b = append(b, "}]}"...)
	}
	return append(b, '}')
}
