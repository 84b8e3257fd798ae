package simulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Nova's compute API microversions, as images/detail negotiates them: the versions a request
// may ask for, and the last that still has the image proxy.

// microversion is a parsed compute API version.
type microversion struct{ major, minor int }

func (v microversion) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v microversion) less(o microversion) bool {
	return v.major < o.major || (v.major == o.major && v.minor < o.minor)
}

// The microversions the simulated Nova (Zed) accepts, and the last with the image proxy.
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

// parseVersion parses "major.minor", two unsigned decimal numbers.
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

// negotiateVersion returns the compute microversion r asks for (2.1 when none); it answers
// a malformed or unsupported one itself and reports false.
func negotiateVersion(w http.ResponseWriter, r *http.Request) (microversion, bool) {
	raw := requestedVersion(r.Header)
	switch {
	case raw == "":
		return minVersion, true
	case strings.EqualFold(raw, "latest"):
		return maxVersion, true
	}
	v, ok := parseVersion(raw)
	if !ok {
		novaFault(w, http.StatusBadRequest, "badRequest",
			"API Version String "+raw+" is of invalid format. Must be of format MajorNum.MinorNum.")
		return microversion{}, false
	}
	if v.less(minVersion) || maxVersion.less(v) {
		novaFault(w, http.StatusNotAcceptable, "computeFault",
			"Version "+v.String()+" is not supported by the API. Minimum is "+minVersion.String()+" and maximum is "+maxVersion.String()+".")
		return microversion{}, false
	}
	return v, true
}
