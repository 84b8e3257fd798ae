package simulator

import (
	"net/http"
	"strconv"
)

// The quota APIs: Glance's GET {GlancePrefix}/v2/info/usage and IMS's GET
// /v1/cloudimages/quota, both computed from the image set.
//
// Glance: taken from Glance's code, not checked against a real Glance with unified limits:
// the body (glance/api/v2/discovery.py InfoController.get_usage: {"usage": {name: {"usage",
// "limit"}}}, resources in the order of glance/quota/keystone.py get_usage), the usage
// (glance/db/sqlalchemy/api.py, below) and a limit of 0 for a resource with no limit
// registered in Keystone (oslo_limit/limit.py get_project_limits). Checked on the realstack
// Glance (Zed): without unified limits it answers {"usage": {}}.
//
// IMS: taken from Huawei's documentation, not checked against a real IMS: the body
// {"quotas": {"resources": [{"type", "used", "quota", "min", "max"}]}} and its integer
// fields (IMS API reference "Querying the Image Quota", Huawei's Go SDK services/ims/v2/model
// QuotaInfo), "image" as the quota of the project's private images. The references show only
// "image"; image_shared and image_member, and their meanings, are the simulator's choice
// (IMSQuota), as is the -1 they never show.

// The APIs of a quota RequestRecord, which QuotaRequests returns.
const (
	// APIGlanceQuota is Glance's GET {GlancePrefix}/v2/info/usage.
	APIGlanceQuota = "glance_quota"
	// APIIMSQuota is Huawei IMS's GET /v1/cloudimages/quota.
	APIIMSQuota = "ims_quota"
)

// The resource names of Glance's /v2/info/usage (glance/quota/keystone.py).
const (
	// GlanceImageSizeTotal is the MiB of image data the project stores.
	GlanceImageSizeTotal = "image_size_total"
	// GlanceImageStageTotal is the MiB of image data the project holds in staging.
	GlanceImageStageTotal = "image_stage_total"
	// GlanceImageCountTotal is the number of the project's images.
	GlanceImageCountTotal = "image_count_total"
	// GlanceImageCountUploading is the number of the project's images being uploaded.
	GlanceImageCountUploading = "image_count_uploading"
)

// The resource types of IMS's /v1/cloudimages/quota.
const (
	// IMSQuotaImage is the quota of the project's private images (Huawei documents it).
	IMSQuotaImage = "image"
	// IMSQuotaImageShared is, in the simulator, the quota of the images shared with the
	// project.
	IMSQuotaImageShared = "image_shared"
	// IMSQuotaImageMember is, in the simulator, the quota of the members (tenants) one image
	// is shared with; Huawei documents at most 128 for a system or data disk image.
	IMSQuotaImageMember = "image_member"
)

// glanceQuotaResources are Glance's resources in the order its get_usage names them.
var glanceQuotaResources = []string{GlanceImageSizeTotal, GlanceImageStageTotal, GlanceImageCountTotal, GlanceImageCountUploading}

const (
	// glanceUsagePath is Glance's quota usage, under GlancePrefix.
	glanceUsagePath = "/v2/info/usage"
	// imsQuotaPath is IMS's quota.
	imsQuotaPath = "/v1/cloudimages/quota"
	// mib is Glance's units.Mi.
	mib = 1 << 20
)

// IMSQuota is one resource of IMS's quota answer.
type IMSQuota struct {
	// Type is the resource type: IMSQuotaImage, IMSQuotaImageShared, IMSQuotaImageMember or
	// any other.
	Type string
	// Quota is the quota; -1 (which IMS's references never show) for none.
	Quota int64
	// Min and Max are the least and the most the quota may be set to.
	Min, Max int64
	// Used, when not nil, is the usage sent as it is; nil computes it from the image set:
	// for image the project's private images, for image_shared the images shared with it
	// (both in any status but deleted and pending_delete), for any other type 0 (the
	// simulator keeps no image members).
	Used *int64
}

// DefaultIMSQuotas are the IMS quotas of a simulator whose Options.IMSQuotas is nil: image
// as Huawei's example answer gives it (quota 20, min 1, max 1000); image_shared and
// image_member with values of the simulator's choice (image_member: 128, the documented
// number of tenants one image may be shared with).
func DefaultIMSQuotas() []IMSQuota {
	return []IMSQuota{
		{Type: IMSQuotaImage, Quota: 20, Min: 1, Max: 1000},
		{Type: IMSQuotaImageShared, Quota: 100, Min: 1, Max: 1000},
		{Type: IMSQuotaImageMember, Quota: 128, Min: 1, Max: 256},
	}
}

// QuotaRequests returns a copy of the log of quota requests of both APIs (APIGlanceQuota,
// APIIMSQuota; including rejected ones), oldest first; past 10 000 requests the older half
// is dropped. Requests and ImagesRequests do not count them.
func (s *Simulator) QuotaRequests() []RequestRecord {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneRecords(s.quotaRequests)
}

// SetQuotaFaults installs a fault plan for the quota requests of both APIs: the n-th of them
// (n counts from 0 since SetQuotaFaults, authorised requests only) gets plan(n, r); r's path
// tells the APIs apart. nil removes the plan. It is apart from the listings' plan
// (SetFaults), so that a quota request can fail beside a good listing and the listings'
// plans see the same requests whether or not quotas are read.
//
// Of a Fault, the quota requests honour Delay, Hang, RetryAfter, Status, Message, Gateway and
// Echo (in their API's error format, as for the listings), Garbage, HTML, Huge,
// TruncateAfter and WrongTypes (the first resource's usage sent as the string "ten"); the
// other page faults do not apply.
func (s *Simulator) SetQuotaFaults(plan func(n int, r *http.Request) Fault) {
	installPlan(&s.quotaPlan, plan)
}

// glanceUsage is the usage of each of Glance's resources by project, as Glance's
// glance/db/sqlalchemy/api.py computes them over the project's images (owner = project):
//   - image_size_total: the sum over the images with size > 0 in any status but killed and
//     deleted of size × their locations, in MiB rounded down (the sum, not each image);
//   - image_stage_total: the sum of the sizes (> 0) of the images in status uploading or
//     importing, and of those in any other status but killed and deleted with a non-empty
//     property os_glance_importing_to_stores, in MiB rounded down;
//   - image_count_total: the images in any status but killed and deleted (hidden ones, queued
//     ones and pending_delete ones count);
//   - image_count_uploading: the images in status saving, uploading or importing, and those
//     in any other status but killed and deleted with a non-empty
//     os_glance_importing_to_stores.
//
// The simulator keeps no locations: an image in status active, deactivated or pending_delete
// has one (Glance adds it when the upload ends; a pending_delete location is not deleted),
// any other none.
func (s *Simulator) glanceUsage(project string) map[string]int64 {
	var stored, staged, count, uploading int64
	s.mu.RLock()
	defer s.mu.RUnlock()
	var buf Image
	for i := range s.imageCount() {
		img := s.imageAt(i, &buf)
		if img.Owner != project || img.Status == "killed" || img.Status == "deleted" {
			continue
		}
		var size int64
		if img.Size != nil && *img.Size > 0 {
			size = *img.Size
		}
		count++
		copying := false
		if v, ok := img.Metadata["os_glance_importing_to_stores"].(string); ok && v != "" {
			copying = true
		}
		switch img.Status {
		case "active", "deactivated", "pending_delete":
			stored += size
		}
		switch img.Status {
		case "uploading", "importing":
			staged += size
			uploading++
		case "saving":
			uploading++
			if copying {
				staged += size
			}
		default:
			if copying {
				staged += size
				uploading++
			}
		}
	}
	return map[string]int64{
		GlanceImageSizeTotal: stored / mib, GlanceImageStageTotal: staged / mib,
		GlanceImageCountTotal: count, GlanceImageCountUploading: uploading,
	}
}

// serveGlanceUsage answers GET {prefix}/v2/info/usage: the token check, the method, the
// quota fault plan, then the usage.
func (s *Simulator) serveGlanceUsage(w http.ResponseWriter, r *http.Request) {
	s.recordQuotaRequest(r, APIGlanceQuota)
	info, ok := s.glanceAdmit(w, r, "GET")
	if !ok {
		return
	}
	ft := nextPlanned(&s.quotaPlan, r)
	if answerFault(w, r, &ft, APIGlance) {
		return
	}
	b := []byte(`{"usage": {`)
	if s.opts.GlanceQuotas != nil {
		usage := s.glanceUsage(info.projectID)
		for i, name := range glanceQuotaResources {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendPyString(b, name)
			b = append(b, `: {"usage": `...)
			b = appendQuotaValue(b, usage[name], i == 0 && ft.WrongTypes)
			b = append(b, `, "limit": `...)
			// A resource without a limit in Keystone: oslo.limit takes 0.
			b = strconv.AppendInt(b, s.opts.GlanceQuotas[name], 10)
			b = append(b, '}')
		}
	}
	finishPage(w, r, append(b, "}}"...), &ft)
}

// appendQuotaValue appends n, or the string "ten" when wrong (Fault.WrongTypes).
func appendQuotaValue(b []byte, n int64, wrong bool) []byte {
	if wrong {
		return append(b, `"ten"`...)
	}
	return strconv.AppendInt(b, n, 10)
}

// imsUsage is the computed usage of IMS's image and image_shared for project: its private
// images and the images shared with it, in any status but deleted and pending_delete.
func (s *Simulator) imsUsage(project string) (private, shared int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var buf Image
	for i := range s.imageCount() {
		img := s.imageAt(i, &buf)
		if img.Status == "deleted" || img.Status == "pending_delete" {
			continue
		}
		switch img.imsImageType(project) {
		case "private":
			private++
		case "shared":
			shared++
		}
	}
	return private, shared
}

// serveIMSQuota answers GET /v1/cloudimages/quota: the gateway's check of a signed request
// or of the token, the method, the quota fault plan, then the quotas.
func (s *Simulator) serveIMSQuota(w http.ResponseWriter, r *http.Request) {
	s.recordQuotaRequest(r, APIIMSQuota)
	project, ok := s.imsAdmit(w, r)
	if !ok {
		return
	}
	ft := nextPlanned(&s.quotaPlan, r)
	if answerFault(w, r, &ft, APIIMS) {
		return
	}
	quotas := s.opts.IMSQuotas
	if quotas == nil {
		quotas = DefaultIMSQuotas()
	}
	private, shared := s.imsUsage(project)
	b := []byte(`{"quotas": {"resources": [`)
	for i, q := range quotas {
		used := int64(0)
		switch {
		case q.Used != nil:
			used = *q.Used
		case q.Type == IMSQuotaImage:
			used = private
		case q.Type == IMSQuotaImageShared:
			used = shared
		}
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `{"type": `...)
		b = appendPyString(b, q.Type)
		b = append(b, `, "used": `...)
		b = appendQuotaValue(b, used, i == 0 && ft.WrongTypes)
		b = append(b, `, "quota": `...)
		b = strconv.AppendInt(b, q.Quota, 10)
		b = append(b, `, "min": `...)
		b = strconv.AppendInt(b, q.Min, 10)
		b = append(b, `, "max": `...)
		b = strconv.AppendInt(b, q.Max, 10)
		b = append(b, '}')
	}
	finishPage(w, r, append(b, "]}}"...), &ft)
}

// recordQuotaRequest adds r, a request to api, to the log that QuotaRequests returns.
func (s *Simulator) recordQuotaRequest(r *http.Request, api string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quotaRequests = appendRecord(s.quotaRequests, r, api)
}
