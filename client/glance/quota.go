package glance

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// sizeResources are the quotas Glance reports in MiB.
var sizeResources = []string{"image_size_total", "image_stage_total"}

// Quotas reports the project's image quotas from GET {endpoint}/v2/info/usage (Glance API
// 2.13 and later), as Keystone unified limits set them: image_count_total,
// image_count_uploading (counts), image_size_total and image_stage_total (Glance reports
// MiB; converted to bytes). A Glance that enforces no unified limits answers
// {"usage": {}}: no quota, and no error. A limit of -1 is a limit of 0 (noneAllowed).
func (c *Client) Quotas(ctx context.Context) ([]client.Quota, error) {
	var answer struct {
		Usage *map[string]struct {
			Limit *int64 `json:"limit"`
			Usage *int64 `json:"usage"`
		} `json:"usage"`
	}
	redact, err := c.Requester.GetDocument(ctx, client.ServiceImage, "quota usage", usageURL, &answer)
	if err != nil {
		return nil, err
	}
	if answer.Usage == nil {
		return nil, errors.New(`quota usage: the answer has no "usage" object`)
	}
	list, err := paging.NewQuotaList(redact, "quota usage", paging.QuotaFields{Limit: "limit", Usage: "usage"}, len(*answer.Usage))
	if err != nil {
		return nil, err
	}
	for resource, q := range *answer.Usage {
		if err := list.Add(paging.RawQuota{Resource: resource, Limit: effectiveLimit(q.Limit), Usage: q.Usage, MiB: slices.Contains(sizeResources, resource)}); err != nil {
			return nil, err
		}
	}
	quotas := list.Quotas()
	slices.SortFunc(quotas, func(a, b client.Quota) int { return strings.Compare(a.Resource, b.Resource) })
	return quotas, nil
}

// noneAllowed is the limit that Keystone lets an operator set below 0. Glance does not read it
// as unlimited: oslo.limit refuses what takes usage + delta past the limit, so Glance refuses
// every image under it (a 413 on the real Glance: docs/testing.md). Nothing is allowed, as
// under a limit of 0, which is what the exporter reports.
const noneAllowed = -1

// effectiveLimit is the limit Glance enforces for the one it reports: 0 for noneAllowed.
func effectiveLimit(limit *int64) *int64 {
	if limit != nil && *limit == noneAllowed {
		return new(int64)
	}
	return limit
}

// usageURL is the quota usage URL of an image endpoint.
func usageURL(endpoint *url.URL) *url.URL { return v2URL(endpoint, "/info/usage") }
