package glance

import (
	"context"
	"errors"
	"fmt"
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
// {"usage": {}}: no quota, and no error.
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
	if len(*answer.Usage) > paging.MaxQuotas {
		return nil, fmt.Errorf("quota usage: more than %d quotas in the answer", paging.MaxQuotas)
	}
	quotas := make([]client.Quota, 0, len(*answer.Usage))
	seen := map[string]bool{} // by label value: keys alike once cut or redacted are one series
	for resource, q := range *answer.Usage {
		label := redact.Label(resource, client.MaxStatusBytes)
		if seen[label] {
			return nil, redact.Err(fmt.Errorf("quota usage: resource %s listed twice", redact.Quote(resource, 64)))
		}
		seen[label] = true
		limit, unlimited, err := paging.QuotaNumber(redact, resource, "limit", q.Limit, true)
		if err != nil {
			return nil, redact.Err(err)
		}
		usage, _, err := paging.QuotaNumber(redact, resource, "usage", q.Usage, false)
		if err != nil {
			return nil, redact.Err(err)
		}
		quota := client.Quota{Resource: label, Limit: limit, Usage: usage, Unlimited: unlimited}
		if slices.Contains(sizeResources, resource) {
			quota.Bytes, quota.Limit, quota.Usage = true, limit<<20, usage<<20 // MiB; at most MaxQuota
		}
		quotas = append(quotas, quota)
	}
	slices.SortFunc(quotas, func(a, b client.Quota) int { return strings.Compare(a.Resource, b.Resource) })
	return quotas, nil
}

// usageURL is the quota usage URL of an image endpoint.
func usageURL(endpoint *url.URL) *url.URL { return v2URL(endpoint, "/info/usage") }
