package exposition

import "github.com/nova-image-exporter/nova_image_exporter/client"

// Quotas are what a listing's quota request found: the quotas, or that the request failed.
type Quotas struct {
	Up     bool
	Quotas []client.Quota
}

// The quota families: counts and bytes apart, in base units.
var (
	quotaUpFamily = newGauge("image_quota", "up",
		"1 if this listing's image quota request (Glance's /v2/info/usage, IMS's /v1/cloudimages/quota) succeeded, else 0; absent where quotas are off for the cloud (image_api nova, image_quota: false, --no-images.quota).")
	quotaLimitFamily = newGauge("image_quota", "limit",
		"Limit of an image quota that counts (Glance's image_count_total, image_count_uploading; IMS's image, image_shared, image_member); absent when unlimited.", "resource")
	quotaUsageFamily = newGauge("image_quota", "usage",
		"What is used of an image quota that counts, by the API's name of the resource.", "resource")
	quotaLimitBytesFamily = newGauge("image_quota", "limit_bytes",
		"Limit of an image quota on sizes, in bytes (Glance's image_size_total, image_stage_total, which Glance reports in MiB); absent when unlimited.", "resource")
	quotaUsageBytesFamily = newGauge("image_quota", "usage_bytes",
		"What is used of an image quota on sizes, in bytes.", "resource")
)
