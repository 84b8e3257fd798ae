package simulator

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// What the image listings of Nova, Glance and IMS share: the request count, the fault plan,
// the choice of a page's images and its delivery, ordered queries, filters on a time with
// an operator and the values they compare.

// nextFault counts an authorised listing request of any API and returns the fault the plan
// installed by SetFaults gives it (the zero Fault without a plan).
func (s *Simulator) nextFault(r *http.Request) Fault {
	s.imagesRequests.Add(1)
	return nextPlanned(&s.plan, r)
}

// pageIndexes returns the indexes in the image set of the page after the image at markerIdx (-1:
// the first page): up to fetch images that match, as ft's Loop and Duplicate shape it.
// s.mu must be read-locked.
func (s *Simulator) pageIndexes(ft *Fault, match func(*Image) bool, markerIdx, fetch int) []int {
	var sel []int
	var buf Image
	if ft.Loop && markerIdx >= 0 {
		// The page that ended with the marker, once more.
		for i := markerIdx; i >= 0 && len(sel) < fetch; i-- {
			if match(s.imageAt(i, &buf)) {
				sel = append(sel, i)
			}
		}
		for i, j := 0, len(sel)-1; i < j; i, j = i+1, j-1 {
			sel[i], sel[j] = sel[j], sel[i]
		}
		return sel
	}
	start := markerIdx + 1
	if markerIdx >= 0 && ft.Duplicate {
		sel = append(sel, markerIdx)
	}
	for i := start; i < s.imageCount() && len(sel) < fetch; i++ {
		if match(s.imageAt(i, &buf)) {
			sel = append(sel, i)
		}
	}
	return sel
}

// imageBytes is about the size of an image in a page, to size a page's buffer once.
const imageBytes = 1536

// appendPage appends `{"images": [` and the page after marker (nil: the first page) of up to
// limit images that match, as ft shapes it and appendImage writes each. It returns the body,
// the number of images and the id of the last, and false when the marker is unknown.
func (s *Simulator) appendPage(b []byte, ft *Fault, match func(*Image) bool, marker *string, limit int,
	appendImage func(b []byte, img *Image, tw *imageTweak) []byte) ([]byte, int, string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	markerIdx := -1
	if marker != nil {
		i, ok := s.imageIndex(*marker)
		if !ok {
			return b, 0, "", false
		}
		markerIdx = i
	}
	sel := s.pageIndexes(ft, match, markerIdx, limit)
	b = slices.Grow(b, 64+len(sel)*imageBytes)
	b = append(b, `{"images": [`...)
	lastID := ""
	var buf Image
	for k, i := range sel {
		if k > 0 {
			b = append(b, ", "...)
		}
		img := s.imageAt(i, &buf)
		b = appendImage(b, img, ft.tweak(k, img))
		lastID = img.ID
	}
	return b, len(sel), lastID, true
}

// finishPage sends a 200 page body b, as ft's Huge and TruncateAfter say.
func finishPage(w http.ResponseWriter, r *http.Request, b []byte, ft *Fault) {
	if ft.shapesDelivery() {
		deliverPage(w, r, b, ft)
		return
	}
	writeRaw(w, http.StatusOK, "application/json", b)
}

// queryParam is one parameter of a query string.
type queryParam struct{ key, value string }

// orderedQuery parses a raw query as Python's dict(webob.MultiDict) sees it: each key in
// the order of its first occurrence, with its last value. Undecodable pairs are skipped.
func orderedQuery(raw string) []queryParam {
	var out []queryParam
	pos := map[string]int{}
	for _, pair := range strings.Split(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			continue
		}
		if i, ok := pos[k]; ok {
			out[i].value = v
			continue
		}
		pos[k] = len(out)
		out = append(out, queryParam{k, v})
	}
	return out
}

// encodeQuery is Python's urlencode of params.
func encodeQuery(params []queryParam) string {
	var sb strings.Builder
	for i, p := range params {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(p.key))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(p.value))
	}
	return sb.String()
}

// timeFilter is a filter on a time with an operator, as Glance's and IMS's
// created_at=gte:2024-01-01T00:00:00Z.
type timeFilter struct {
	op string
	t  time.Time
}

// parseTimeFilter parses the value of the time filter field ("created_at", "updated_at") as
// Glance's split_filter_op does: a value that is a time whole is eq that time, else
// "op:time". It returns the explanation of a 400 for an unknown operator or a bad time.
func parseTimeFilter(field, v string) (timeFilter, string) {
	if t, ok := parseISOTime(v); ok {
		return timeFilter{"eq", t}, ""
	}
	op, rest, _ := strings.Cut(v, ":")
	switch op {
	case "gt", "gte", "lt", "lte", "eq", "neq":
	default:
		return timeFilter{}, "Unable to filter on a unknown operator."
	}
	t, ok := parseISOTime(rest)
	if !ok {
		return timeFilter{}, `Bad "` + field + `" query filter format. Use ISO 8601 DateTime notation.`
	}
	return timeFilter{op, t}, ""
}

// match reports whether t (nil: no time) passes the filter.
func (f *timeFilter) match(t *time.Time) bool {
	if t == nil {
		return false
	}
	c := t.Compare(f.t)
	switch f.op {
	case "gt":
		return c > 0
	case "gte":
		return c >= 0
	case "lt":
		return c < 0
	case "lte":
		return c <= 0
	case "neq":
		return c != 0
	}
	return c == 0
}

// isoTimeLayouts are the ISO 8601 forms the listings' time filters take: Nova's
// changes-since, Glance's and IMS's created_at and updated_at.
var isoTimeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseISOTime parses the time of a listing's time filter, in one of isoTimeLayouts.
func parseISOTime(v string) (time.Time, bool) {
	try := func(v string) (time.Time, bool) {
		for _, l := range isoTimeLayouts {
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

// metaString is a metadata value as a property filter compares it (Nova's property-<key>,
// Glance's <key>): a string as it is, another value as Python's JSON of it; nil has none.
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

// appendJSONTime appends raw when not nil, else t as "2006-01-02T15:04:05Z" (null when nil).
func appendJSONTime(b, raw []byte, t *time.Time) []byte {
	switch {
	case raw != nil:
		return append(b, raw...)
	case t == nil:
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05Z")
	return append(b, '"')
}

// appendRawOr appends raw when not nil, else what add appends.
func appendRawOr(b, raw []byte, add func([]byte) []byte) []byte {
	if raw != nil {
		return append(b, raw...)
	}
	return add(b)
}

// apiError answers with an error of api, Glance's or IMS's, of status code; Glance on the
// IMS host answers as IMS does, behind the same gateway (the simulator's choice).
func apiError(w http.ResponseWriter, r *http.Request, api string, code int, msg string) {
	if api == APIIMS || api == APIIMSGlance {
		imgCode := imsFaultCode
		if code == http.StatusBadRequest {
			imgCode = imsBadRequest
		}
		imsError(w, code, imgCode, msg)
		return
	}
	glanceError(w, r, code, msg)
}
