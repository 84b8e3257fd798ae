package simulator

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Glance v2's image listing, GET {GlancePrefix}/v2/images, as the realstack Glance (25,
// Zed) answers it: checked there are the image view (properties first, then the core fields
// in Glance's order), first/next/schema and their queries, the limits, hidden images, the
// default visibility, the filters below and the error bodies (webob's, in the format the
// Accept header asks for). testdata/realglance holds some of its answers.

const (
	// defaultGlancePrefix is the path Glance is served under, as devstack does.
	defaultGlancePrefix = "/image"
	// glanceDefaultLimit is Glance's limit_param_default.
	glanceDefaultLimit = 25
	// glanceUnauthorized is the explanation of Glance's 401.
	glanceUnauthorized = "This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required."
)

// glanceFilters is the parsed query of a Glance listing.
type glanceFilters struct {
	name             *string
	statuses         []string // nil: any
	visibility       string   // "" or "all": any
	hidden           bool     // os_hidden: only hidden images, or only visible ones
	owner, id        *string
	minRAM, minDisk  *string // compared with the decimal value: Glance matches them exactly
	created, updated *timeFilter
	props            []queryParam
}

// parseGlanceQuery reads a Glance listing query. It returns the filters, the page size
// (capped at max), the marker and a 400's explanation ("" when valid).
func parseGlanceQuery(params []queryParam, max int) (f glanceFilters, limit int, marker *string, msg string) {
	limit = min(glanceDefaultLimit, max)
	for i := range params {
		k, v := params[i].key, params[i].value
		switch k {
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil {
				return f, 0, nil, "limit param must be an integer"
			}
			if n < 0 {
				return f, 0, nil, "limit param must be positive"
			}
			limit = min(n, max)
		case "marker":
			marker = &params[i].value
		case "sort_key", "sort_dir", "sort", "member_status":
			// The simulator lists newest first, Glance's default sort.
		case "name":
			f.name = &params[i].value
		case "owner":
			f.owner = &params[i].value
		case "id":
			f.id = &params[i].value
		case "status":
			if list, ok := strings.CutPrefix(v, "in:"); ok {
				f.statuses = strings.Split(list, ",")
			} else {
				f.statuses = []string{v}
			}
		case "visibility":
			switch v {
			case "public", "private", "shared", "community", "all":
				f.visibility = v
			default:
				return f, 0, nil, "Invalid visibility value: " + v
			}
		case "os_hidden":
			b, ok := parsePyBool(v)
			if !ok {
				return f, 0, nil, "Invalid value '" + v + "' for 'os_hidden' filter. Valid values are 'true' or 'false'."
			}
			f.hidden = b
		case "min_ram":
			f.minRAM = &params[i].value
		case "min_disk":
			f.minDisk = &params[i].value
		case "created_at", "updated_at":
			tf, msg := parseTimeFilter(k, v)
			if msg != "" {
				return f, 0, nil, msg
			}
			if k == "created_at" {
				f.created = &tf
			} else {
				f.updated = &tf
			}
		default:
			f.props = append(f.props, params[i])
		}
	}
	return f, limit, marker, ""
}

// parsePyBool parses a boolean as oslo's strutils.bool_from_string(strict=True).
func parsePyBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "t", "true", "on", "y", "yes":
		return true, true
	case "0", "f", "false", "off", "n", "no":
		return false, true
	}
	return false, false
}

// match reports whether the listing shows img.
func (f *glanceFilters) match(img *Image) bool {
	switch {
	case img.Hidden != f.hidden,
		f.name != nil && (img.Name == nil || *img.Name != *f.name),
		f.statuses != nil && !slices.Contains(f.statuses, img.Status),
		f.visibility != "" && f.visibility != "all" && f.visibility != img.glanceVisibility(),
		f.owner != nil && *f.owner != img.Owner,
		f.id != nil && *f.id != img.ID,
		f.minRAM != nil && *f.minRAM != strconv.FormatInt(img.MinRAM, 10),
		f.minDisk != nil && *f.minDisk != strconv.FormatInt(img.MinDisk, 10),
		f.created != nil && !f.created.match(&img.Created),
		f.updated != nil && !f.updated.match(img.Updated):
		return false
	}
	for _, p := range f.props {
		got, ok := metaString(img.Metadata[p.key])
		if !ok || got != p.value {
			return false
		}
	}
	return true
}

// glancePrefix is the path Glance is served under, without a trailing slash ("" for none).
func (s *Simulator) glancePrefix() string {
	switch s.opts.GlancePrefix {
	case "":
		return defaultGlancePrefix
	case "/":
		return ""
	}
	return "/" + strings.Trim(s.opts.GlancePrefix, "/")
}

// serveGlance answers GET {prefix}/v2/images: the token check, the method, the fault plan,
// then the page.
func (s *Simulator) serveGlance(w http.ResponseWriter, r *http.Request) {
	s.recordRequest(r, APIGlance)
	if _, ok := s.glanceAdmit(w, r, "GET, POST"); !ok {
		return
	}
	ft := s.nextFault(r)
	if answerFault(w, r, &ft, APIGlance) {
		return
	}
	params := orderedQuery(r.URL.RawQuery)
	f, limit, marker, msg := parseGlanceQuery(params, s.opts.GlanceMaxLimit)
	if msg != "" {
		glanceError(w, r, http.StatusBadRequest, msg)
		return
	}
	b, ok := s.appendGlancePage(params, &ft, f.match, marker, limit, appendGlanceImage)
	if !ok {
		glanceError(w, r, http.StatusBadRequest, "No image found with ID "+*marker)
		return
	}
	finishPage(w, r, b, &ft)
}

// serveIMSGlance answers GET /v2/images on the IMS host, Glance's listing as Huawei serves
// it beside IMS's (Open Telekom Cloud's and Huawei Cloud's "Querying Images (Native
// OpenStack API)"): the images as huaweiImage writes them, with Glance's first, next and
// schema, default limit 25 and the __imagetype filter. The simulator's choices, where the
// references say nothing: the limit is capped at Options.IMSMaxLimit; no image is hidden
// (os_hidden is not Huawei's), so os_hidden=true lists none; __isregistered is taken as
// true; the gateway's refusals and the errors are IMS's.
func (s *Simulator) serveIMSGlance(w http.ResponseWriter, r *http.Request) {
	project, ft, ok := s.imsListingAdmit(w, r, APIIMSGlance)
	if !ok {
		return
	}
	params := orderedQuery(r.URL.RawQuery)
	var imageType *string
	glanceParams := make([]queryParam, 0, len(params))
	for i := range params {
		switch params[i].key {
		case "__imagetype":
			imageType = &params[i].value
		case "__isregistered":
		default:
			glanceParams = append(glanceParams, params[i])
		}
	}
	f, limit, marker, msg := parseGlanceQuery(glanceParams, s.opts.IMSMaxLimit)
	if msg != "" {
		imsError(w, http.StatusBadRequest, imsBadRequest, msg)
		return
	}
	match := func(img *Image) bool {
		shown := *img
		shown.Hidden = false
		return f.match(&shown) && (imageType == nil || *imageType == img.imsImageType(project))
	}
	b, ok := s.appendGlancePage(params, &ft, match, marker, limit,
		func(b []byte, img *Image, tw *imageTweak) []byte {
			return appendPyJSON(b, huaweiImage(img, project, tw))
		})
	if !ok {
		imsError(w, http.StatusBadRequest, imsBadRequest, "Invalid marker: "+*marker)
		return
	}
	finishPage(w, r, b, &ft)
}

// appendGlancePage is a Glance listing's page of the images match shows after marker, each
// as appendImage writes it, with Glance's links: the query as the request gave it (params,
// first occurrence order, last value), without marker for first and with the page's last id
// appended for next. It reports false for an unknown marker.
func (s *Simulator) appendGlancePage(params []queryParam, ft *Fault, match func(*Image) bool, marker *string, limit int,
	appendImage func(b []byte, img *Image, tw *imageTweak) []byte) ([]byte, bool) {
	b, n, lastID, ok := s.appendPage(nil, ft, match, marker, limit, appendImage)
	if !ok {
		return nil, false
	}
	rest := make([]queryParam, 0, len(params)+1)
	for _, p := range params {
		if p.key != "marker" {
			rest = append(rest, p)
		}
	}
	b = append(b, `], "first": `...)
	b = appendPyString(b, glanceLink(rest))
	b = append(b, `, "schema": "/v2/schemas/images"`...)
	switch {
	case ft.Loop:
		// A server that ignores the marker: next names this request's own marker again.
		if marker != nil {
			rest = append(rest, queryParam{"marker", *marker})
		}
		b = append(b, `, "next": `...)
		b = appendPyString(b, glanceLink(rest))
	case n > 0 && n == limit:
		b = append(b, `, "next": `...)
		b = appendPyString(b, glanceLink(append(rest, queryParam{"marker", lastID})))
	}
	return append(b, '}'), true
}

// glanceAdmit checks a Glance request's token and method (a GET or HEAD; allow is the
// Allow header of Glance's 405): it returns the token's info, or answers the refusal
// itself and reports false.
func (s *Simulator) glanceAdmit(w http.ResponseWriter, r *http.Request, allow string) (tokenInfo, bool) {
	info, ok := s.lookupToken(r.Header.Get("X-Auth-Token"))
	if !ok {
		w.Header().Set("WWW-Authenticate", `Keystone uri="`+requestHost(r)+`"`)
		glanceError(w, r, http.StatusUnauthorized, glanceUnauthorized)
		return info, false
	}
	w.Header().Set("x-openstack-request-id", requestID())
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", allow)
		glanceError(w, r, http.StatusMethodNotAllowed, "The method specified is not allowed for this resource.")
		return info, false
	}
	return info, true
}

// glanceLink is Glance's "/v2/images" link with params: a path without any prefix, as
// Glance hard-codes it.
func glanceLink(params []queryParam) string {
	if len(params) == 0 {
		return "/v2/images"
	}
	return "/v2/images?" + encodeQuery(params)
}

// glanceCoreKeys are the keys of Glance's image view that are not properties.
var glanceCoreKeys = map[string]bool{
	"name": true, "disk_format": true, "container_format": true, "visibility": true, "size": true,
	"virtual_size": true, "status": true, "checksum": true, "protected": true, "min_ram": true,
	"min_disk": true, "owner": true, "os_hidden": true, "os_hash_algo": true, "os_hash_value": true,
	"id": true, "created_at": true, "updated_at": true, "tags": true, "self": true, "file": true,
	"schema": true, "locations": true, "direct_url": true, "stores": true,
}

// appendGlanceImage appends img as Glance's image view: its properties (sorted; a null one
// only if Glance's schema knows it), then the core fields in Glance's order. tw replaces
// some values with raw JSON (fault injection).
func appendGlanceImage(b []byte, img *Image, tw *imageTweak) []byte {
	if tw == nil {
		tw = &noTweak
	}
	b = append(b, '{')
	for _, k := range slices.Sorted(maps.Keys(img.Metadata)) {
		v := img.Metadata[k]
		if glanceCoreKeys[k] || (v == nil && k != "kernel_id" && k != "ramdisk_id") {
			continue
		}
		b = appendPyString(b, k)
		b = append(b, ": "...)
		b = appendPyJSON(b, v)
		b = append(b, ", "...)
	}
	b = append(b, `"name": `...)
	b = appendRawOr(b, tw.name, func(b []byte) []byte { return appendNullableString(b, img.Name) })
	b = append(b, `, "disk_format": "qcow2", "container_format": "bare", "visibility": `...)
	b = appendPyString(b, img.glanceVisibility())
	b = append(b, `, "size": `...)
	b = appendRawOr(b, tw.size, func(b []byte) []byte { return appendNullableInt(b, img.Size) })
	b = append(b, `, "virtual_size": `...)
	b = appendNullableInt(b, img.VirtualSize)
	b = append(b, `, "status": `...)
	b = appendPyString(b, img.Status)
	b = append(b, `, "checksum": `...)
	var algo, hash *string
	if img.Size != nil {
		sum := md5.Sum([]byte(img.ID))
		b = appendPyString(b, hex.EncodeToString(sum[:]))
		h := sha512.Sum512([]byte(img.ID))
		algo, hash = strPtr("sha512"), strPtr(hex.EncodeToString(h[:]))
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `, "protected": false, "min_ram": `...)
	b = strconv.AppendInt(b, img.MinRAM, 10)
	b = append(b, `, "min_disk": `...)
	b = appendRawOr(b, tw.minDisk, func(b []byte) []byte { return strconv.AppendInt(b, img.MinDisk, 10) })
	b = append(b, `, "owner": `...)
	b = appendPyString(b, img.Owner)
	b = append(b, `, "os_hidden": `...)
	b = strconv.AppendBool(b, img.Hidden)
	b = append(b, `, "os_hash_algo": `...)
	b = appendNullableString(b, algo)
	b = append(b, `, "os_hash_value": `...)
	b = appendNullableString(b, hash)
	b = append(b, `, "id": `...)
	b = appendPyString(b, img.ID)
	b = append(b, `, "created_at": `...)
	b = appendJSONTime(b, tw.created, &img.Created)
	b = append(b, `, "updated_at": `...)
	b = appendJSONTime(b, tw.updated, img.Updated)
	b = append(b, `, "tags": [], "self": "/v2/images/`...)
	b = append(b, img.ID...)
	b = append(b, `", "file": "/v2/images/`...)
	b = append(b, img.ID...)
	return append(b, `/file", "schema": "/v2/schemas/image"}`...)
}

// appendNullableString appends *p as a JSON string, null when p is nil.
func appendNullableString(b []byte, p *string) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return appendPyString(b, *p)
}

// appendNullableInt appends *p, null when p is nil.
func appendNullableInt(b []byte, p *int64) []byte {
	if p == nil {
		return append(b, "null"...)
	}
	return strconv.AppendInt(b, *p, 10)
}

// webobExplanations are webob's default explanations, for Glance's fault answers.
var webobExplanations = map[int]string{
	http.StatusBadRequest:            "The server could not comply with the request since it is either malformed or otherwise incorrect.",
	http.StatusForbidden:             "Access was denied to this resource.",
	http.StatusNotFound:              "The resource could not be found.",
	http.StatusRequestEntityTooLarge: "The request is larger than the server is willing or able to process.",
	http.StatusTooManyRequests:       "The client has sent too many requests in a given amount of time.",
	http.StatusInternalServerError:   "The server has either erred or is incapable of performing the requested operation.",
	http.StatusServiceUnavailable:    "The server is currently unavailable. Please try again at a later time.",
}

// glanceError answers as Glance's webob exceptions do (checked against the realstack
// Glance): HTML unless the Accept header prefers JSON or accepts neither (then plain text).
func glanceError(w http.ResponseWriter, r *http.Request, code int, explanation string) {
	status := strconv.Itoa(code) + " " + http.StatusText(code)
	switch acceptedErrorFormat(r.Header.Get("Accept")) {
	case "application/json":
		b := []byte(`{"message": `)
		b = appendPyString(b, explanation+"<br /><br />\n\n\n")
		b = append(b, `, "code": `...)
		b = appendPyString(b, status)
		b = append(b, `, "title": `...)
		b = appendPyString(b, http.StatusText(code))
		writeRaw(w, code, "application/json", append(b, '}'))
	case "text/plain":
		writeRaw(w, code, "text/plain; charset=UTF-8", []byte(status+"\n\n"+explanation+"\n\n   "))
	default:
		writeRaw(w, code, "text/html; charset=UTF-8", []byte("<html>\n <head>\n  <title>"+status+
			"</title>\n </head>\n <body>\n  <h1>"+status+"</h1>\n  "+pyHTMLEscape(explanation)+
			"<br /><br />\n\n\n\n </body>\n</html>"))
	}
}

// pyHTMLEscape is Python's html.escape(s, quote=True).
var pyHTMLEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace

// acceptedErrorFormat is the body format webob picks for an error: text/html or
// application/json, whichever the Accept header gives the higher quality (text/html on a tie
// and without the header), else text/plain.
func acceptedErrorFormat(accept string) string {
	if strings.TrimSpace(accept) == "" {
		return "text/html"
	}
	html, json := acceptQuality(accept, "text/html"), acceptQuality(accept, "application/json")
	switch {
	case html <= 0 && json <= 0:
		return "text/plain"
	case json > html:
		return "application/json"
	}
	return "text/html"
}

// acceptQuality is the quality an Accept header gives the media type typ, by its most
// specific matching range.
func acceptQuality(accept, typ string) float64 {
	major, _, _ := strings.Cut(typ, "/")
	q, spec := 0.0, -1
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		rng := strings.ToLower(strings.TrimSpace(fields[0]))
		s := -1
		switch rng {
		case typ:
			s = 2
		case major + "/*":
			s = 1
		case "*/*":
			s = 0
		}
		if s <= spec {
			continue
		}
		spec, q = s, 1
		for _, p := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
	}
	return q
}
