package client

import "context"

// Quota is one quota a cloud reports for the project: its limit and what is used of it,
// by the image API's own name of the resource.
type Quota struct {
	// Resource is the API's name: Glance's image_count_total, image_count_uploading,
	// image_size_total, image_stage_total; IMS's image, image_shared, image_member.
	Resource string
	// Bytes says that Limit and Usage are sizes in bytes (Glance reports MiB, converted);
	// otherwise they are counts.
	Bytes bool
	// Limit and Usage are 0 or more; Limit means nothing when Unlimited.
	Limit, Usage int64
	// Unlimited is a quota without a limit (the API's -1).
	Unlimited bool
}

// QuotaSource reports the image quotas of one cloud project, as the image API that has
// them does (Glance's /v2/info/usage, IMS's /v1/cloudimages/quota). No quota at all (Glance
// without unified limits) is an empty list and no error.
type QuotaSource interface {
	Quotas(ctx context.Context) ([]Quota, error)
}
