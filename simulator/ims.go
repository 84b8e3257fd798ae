package simulator

import (
	"net/http"
	"slices"
	"strconv"
)

// Huawei IMS's image listing, GET /v2/cloudimages, behind the API gateway. Taken from
// documentation, not checked against a real IMS: the fields (Huawei's Go SDK,
// services/ims/v2/model ImageInfo and ListImagesRequest), __data_origin's form
// "instance,<server id>" for a snapshot of a server (Huawei's Terraform provider,
// docs/resources/images_image.md: 'instance,instance_id', 'file,image_url' or
// 'server_backup,backup_id'), the error body {"error": {"message", "code"}} and the code
// IMG.0024 for a bad __imagetype (Huawei's IMS API reference, "Error Codes"), paging by
// marker and limit (default 500) with no next link (Open Telekom Cloud's IMS reference).
// The simulator's own choices where the references say nothing: the limit is capped at
// Options.IMSMaxLimit (neither reference names a maximum); a page is followed by more while
// images remain, and the marker of the last image answers a page without images (how IMS's
// last page ends is not documented); min_disk and min_ram match exactly, as Glance's; an IMS listing has
// no hidden images (os_hidden is Glance's) and so shows them; a Glance status outside
// IMS's five (queued, saving, deleted, killed, active) is shown as it is; an unknown marker,
// a bad limit, status or time filter is a 400 IMG.0001; the codes of the other fault
// answers are IMG.0000, a placeholder.

const (
	// imsListingPath is IMS's image listing.
	imsListingPath = "/v2/cloudimages"
	// imsGlancePath is Glance's image listing on the IMS host; it is Glance's own when
	// Options.GlancePrefix is "/".
	imsGlancePath = "/v2/images"
	// imsDefaultLimit is IMS's default page size.
	imsDefaultLimit = 500
	// imsBadRequest is IMS's code for a malformed request.
	imsBadRequest = "IMG.0001"
)

// imsStatuses are the statuses IMS documents, the only ones its status filter takes.
var imsStatuses = []string{"queued", "saving", "deleted", "killed", "active"}

// imsFilters is the parsed query of an IMS listing.
type imsFilters struct {
	name, status, imageType *string
	minRAM, minDisk         *int64
	created, updated        *timeFilter
	project                 string
}

// match reports whether the listing shows img.
func (f *imsFilters) match(img *Image) bool {
	return (f.name == nil || img.Name != nil && *img.Name == *f.name) &&
		(f.status == nil || *f.status == img.Status) &&
		(f.imageType == nil || *f.imageType == img.imsImageType(f.project)) &&
		(f.minRAM == nil || *f.minRAM == img.MinRAM) &&
		(f.minDisk == nil || *f.minDisk == img.MinDisk) &&
		(f.created == nil || f.created.match(&img.Created)) &&
		(f.updated == nil || f.updated.match(img.Updated))
}

// parseIMSQuery reads an IMS listing query: the filters, the page size (capped at max)
// and the marker. It returns the IMS code and message of a 400 ("" when valid).
func parseIMSQuery(params []queryParam, max int, project string) (f imsFilters, limit int, marker *string, code, msg string) {
	f.project = project
	limit = min(imsDefaultLimit, max)
	for i := range params {
		k, v := params[i].key, params[i].value
		switch k {
		case "limit", "min_disk", "min_ram":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 || (k == "limit" && n == 0) {
				return f, 0, nil, imsBadRequest, "Invalid " + k + " value: " + v
			}
			switch k {
			case "limit":
				limit = int(min(n, int64(max)))
			case "min_disk":
				f.minDisk = &n
			default:
				f.minRAM = &n
			}
		case "marker":
			marker = &params[i].value
		case "name":
			f.name = &params[i].value
		case "status":
			if !slices.Contains(imsStatuses, v) {
				return f, 0, nil, imsBadRequest, "Invalid status value: " + v
			}
			f.status = &params[i].value
		case "__imagetype":
			switch v {
			case "gold", "private", "shared", "market":
				f.imageType = &params[i].value
			default:
				return f, 0, nil, "IMG.0024", "The imagetype is invalid."
			}
		case "created_at", "updated_at":
			tf, msg := parseTimeFilter(k, v)
			if msg != "" {
				return f, 0, nil, imsBadRequest, msg
			}
			if k == "created_at" {
				f.created = &tf
			} else {
				f.updated = &tf
			}
		}
		// enterprise_project_id is accepted (the request log keeps it); the images are
		// all in the default enterprise project. Other parameters are ignored.
	}
	return f, limit, marker, "", ""
}

// serveIMS answers GET /v2/cloudimages: the gateway's check of a signed request or of the
// token, the method, the fault plan, then the page.
func (s *Simulator) serveIMS(w http.ResponseWriter, r *http.Request) {
	project, ft, ok := s.imsListingAdmit(w, r, APIIMS)
	if !ok {
		return
	}
	f, limit, marker, code, msg := parseIMSQuery(orderedQuery(r.URL.RawQuery), s.opts.IMSMaxLimit, project)
	if msg != "" {
		imsError(w, http.StatusBadRequest, code, msg)
		return
	}
	b, _, _, ok := s.appendPage(nil, &ft, f.match, marker, limit,
		func(b []byte, img *Image, tw *imageTweak) []byte { return appendPyJSON(b, imsImage(img, project, tw)) })
	if !ok {
		imsError(w, http.StatusBadRequest, imsBadRequest, "Invalid marker: "+*marker)
		return
	}
	finishPage(w, r, append(b, "]}"...), &ft)
}

// imsListingAdmit records a listing request to api on the IMS host, admits it (imsAdmit)
// and draws its fault: it returns the request's project and fault, or answers the request
// itself (a refusal or a fault that ends it) and reports false.
func (s *Simulator) imsListingAdmit(w http.ResponseWriter, r *http.Request, api string) (string, Fault, bool) {
	s.recordRequest(r, api)
	project, ok := s.imsAdmit(w, r)
	if !ok {
		return "", Fault{}, false
	}
	ft := s.nextFault(r)
	if answerFault(w, r, &ft, api) {
		return "", Fault{}, false
	}
	return project, ft, true
}

// imsAdmit is the gateway's check of a request to IMS, signed or with a token, and IMS's
// check of the method (a GET or HEAD): it returns the request's project, or answers the
// refusal itself and reports false.
func (s *Simulator) imsAdmit(w http.ResponseWriter, r *http.Request) (string, bool) {
	project := s.opts.ProjectID
	if isAKSKRequest(r) {
		// The project is X-Project-Id's, which verifyAKSK checks; the signed host is
		// whichever host the request was sent to.
		if reason := s.verifyAKSK(r, ""); reason != "" {
			apigwUnauthorized(w, reason)
			return "", false
		}
	} else if info, ok := s.lookupToken(r.Header.Get("X-Auth-Token")); ok {
		project = info.projectID
	} else {
		apigwUnauthorized(w, "decrypt token fail")
		return "", false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		imsError(w, http.StatusMethodNotAllowed, imsFaultCode, "The method is not allowed.")
		return "", false
	}
	return project, true
}

// imsImage is img as IMS shows it: its properties as top-level keys, under the fields of
// Huawei's ImageInfo, as huaweiImage writes them and with IMS's own __support_fc_inject.
func imsImage(img *Image, project string, tw *imageTweak) map[string]any {
	m := huaweiImage(img, project, tw)
	m["__support_fc_inject"] = "true"
	return m
}

// huaweiImage is img as Huawei's image APIs show it, IMS's cloudimages and Glance's listing
// on the IMS host alike (their examples differ only in __support_fc_inject): its properties
// as top-level keys, under the fields of Huawei's ImageInfo, each as the vendor's examples
// send it (testdata/vendor): size an unused 0, virtual_size null ("unavailable currently"),
// the size in the string __image_size, which a public (gold) image does not have; a public
// image is protected, a shared one has visibility shared. The simulator's choices, where the
// examples say nothing: __image_size "0" for an image without data; active_at (required in
// the SDK) is the last update's time, or the creation's; __os_type, __platform,
// __os_version and __os_bit are derived from the os_distro, os_type and os_version
// properties unless the image has them. tw replaces some values with raw JSON (fault
// injection).
func huaweiImage(img *Image, project string, tw *imageTweak) map[string]any {
	if tw == nil {
		tw = &noTweak
	}
	m := make(map[string]any, len(img.Metadata)+40)
	putHuaweiOS(m, img)
	for k, v := range img.Metadata {
		m[k] = v
	}
	imageType := img.imsImageType(project)
	visibility := map[string]string{"gold": "public", "shared": "shared"}[imageType]
	if visibility == "" {
		visibility = "private"
	}
	origin := ""
	if sid := img.serverID(); sid != "" {
		origin = "instance," + sid
	}
	var name any
	if img.Name != nil {
		name = *img.Name
	}
	active := &img.Created
	if img.Updated != nil {
		active = img.Updated
	}
	for k, v := range map[string]any{
		"id": img.ID, "name": orRaw(tw.name, name), "status": img.Status,
		"visibility": visibility, "owner": img.Owner, "protected": imageType == "gold",
		"min_disk": orRaw(tw.minDisk, img.MinDisk), "min_ram": img.MinRAM,
		"size": 0, "virtual_size": nil,
		"created_at":  rawJSON(appendJSONTime(nil, tw.created, &img.Created)),
		"updated_at":  rawJSON(appendJSONTime(nil, tw.updated, img.Updated)),
		"active_at":   rawJSON(appendJSONTime(nil, nil, active)),
		"__imagetype": imageType, "__data_origin": origin, "__isregistered": "true",
		"__image_source_type": "uds", "__backup_id": "", "__originalimagename": "",
		"__lazyloading": "true", "hw_firmware_type": "bios", "checksum": emptyMD5,
		"disk_format": "zvhd2", "container_format": "bare", "enterprise_project_id": "0",
		"virtual_env_type": "FusionCompute", "tags": []any{},
		"self": "/v2/images/" + img.ID, "file": "/v2/images/" + img.ID + "/file",
		"schema": "/v2/schemas/image",
	} {
		m[k] = v
	}
	if imageType != "gold" || tw.size != nil {
		size := "0"
		if img.Size != nil {
			size = strconv.FormatInt(*img.Size, 10)
		}
		m["__image_size"] = orRaw(tw.size, size)
	}
	return m
}

// emptyMD5 is the checksum of every image in the vendor's examples (the MD5 of nothing):
// "unavailable currently".
const emptyMD5 = "d41d8cd98f00b204e9800998ecf8427e"

// huaweiPlatforms are IMS's __platform values by the os_distro property.
var huaweiPlatforms = map[string]string{
	"ubuntu": "Ubuntu", "centos": "CentOS", "debian": "Debian", "windows": "Windows", "euleros": "EulerOS",
	"fedora": "Fedora", "opensuse": "OpenSUSE", "suse": "SUSE", "rhel": "Red Hat", "coreos": "CoreOS",
}

// putHuaweiOS puts into m the OS keys IMS documents as always present, derived from img's
// os_distro, os_type and os_version properties: __os_type (Linux, Windows or Other),
// __platform, __os_version ("CentOS 7.3 64bit" in the examples) and __os_bit.
func putHuaweiOS(m map[string]any, img *Image) {
	distro, _ := img.Metadata["os_distro"].(string)
	platform, ok := huaweiPlatforms[distro]
	if !ok {
		platform = "Other"
	}
	osType := "Linux"
	if t, _ := img.Metadata["os_type"].(string); platform == "Windows" || t == "windows" {
		osType = "Windows"
	} else if platform == "Other" {
		osType = "Other"
	}
	version := platform + " 64bit"
	if v, ok := img.Metadata["os_version"].(string); ok && v != "" {
		version = platform + " " + v + " 64bit"
	}
	m["__os_type"], m["__platform"], m["__os_version"], m["__os_bit"] = osType, platform, version, "64"
}

// orRaw is raw when not nil, else v.
func orRaw(raw []byte, v any) any {
	if raw != nil {
		return rawJSON(raw)
	}
	return v
}

// imsFaultCode is the code of IMS error answers the references give none for: the
// simulator's placeholder.
const imsFaultCode = "IMG.0000"

// imsError answers with IMS's error body {"error": {"message": ..., "code": "IMG.xxxx"}},
// whose shape is taken from Huawei's IMS API reference ("Error Codes"), not checked.
func imsError(w http.ResponseWriter, status int, code, msg string) {
	b := []byte(`{"error": {"message": `)
	b = appendPyString(b, msg)
	b = append(b, `, "code": `...)
	b = appendPyString(b, code)
	writeRaw(w, status, "application/json", append(b, "}}"...))
}
