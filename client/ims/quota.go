package ims

import (
	"context"
	"errors"
	"net/url"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// Quotas reports the project's image quotas from GET {endpoint}/v1/cloudimages/quota
// (Huawei's "Querying Image Quota", ShowImageQuota in its SDK; IAM action ims:quotas:get):
// image (private images), image_shared and image_member, all counts. From the vendor's
// documentation; not checked against a live IMS.
func (c *Client) Quotas(ctx context.Context) ([]client.Quota, error) {
	var answer struct {
		Quotas *struct {
			Resources []struct {
				Type  string `json:"type"`
				Used  *int64 `json:"used"`
				Quota *int64 `json:"quota"`
			} `json:"resources"`
		} `json:"quotas"`
	}
	redact, err := c.Requester.GetDocument(ctx, client.ServiceImage, "image quota", quotaURL, &answer)
	if err != nil {
		return nil, err
	}
	if answer.Quotas == nil {
		return nil, errors.New(`image quota: the answer has no "quotas" object`)
	}
	resources := answer.Quotas.Resources
	list, err := paging.NewQuotaList(redact, "image quota", paging.QuotaFields{Limit: "quota", Usage: "used"}, len(resources))
	if err != nil {
		return nil, err
	}
	for _, r := range resources {
		if r.Type == "" {
			return nil, errors.New("image quota: a resource without a type")
		}
		if err := list.Add(paging.RawQuota{Resource: r.Type, Limit: r.Quota, Usage: r.Used}); err != nil {
			return nil, err
		}
	}
	return list.Quotas(), nil
}

// quotaURL is the quota URL of an IMS endpoint.
func quotaURL(endpoint *url.URL) *url.URL {
	u := *endpoint
	u.Path += "/v1/cloudimages/quota"
	return &u
}
