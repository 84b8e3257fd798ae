package ims

import (
	"context"
	"errors"
	"fmt"
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
	if len(resources) > paging.MaxQuotas {
		return nil, fmt.Errorf("image quota: more than %d quotas in the answer", paging.MaxQuotas)
	}
	quotas := make([]client.Quota, 0, len(resources))
	seen := map[string]bool{} // by label value: types alike once cut or redacted are one series
	for _, r := range resources {
		resource := redact.Label(r.Type, client.MaxStatusBytes)
		switch {
		case r.Type == "":
			return nil, errors.New("image quota: a resource without a type")
		case seen[resource]:
			return nil, redact.Err(fmt.Errorf("image quota: resource %s listed twice", redact.Quote(r.Type, 64)))
		}
		seen[resource] = true
		limit, unlimited, err := paging.QuotaNumber(redact, r.Type, "quota", r.Quota, true)
		if err != nil {
			return nil, redact.Err(err)
		}
		used, _, err := paging.QuotaNumber(redact, r.Type, "used", r.Used, false)
		if err != nil {
			return nil, redact.Err(err)
		}
		quotas = append(quotas, client.Quota{Resource: resource, Limit: limit, Usage: used, Unlimited: unlimited})
	}
	return quotas, nil
}

// quotaURL is the quota URL of an IMS endpoint.
func quotaURL(endpoint *url.URL) *url.URL {
	u := *endpoint
	u.Path += "/v1/cloudimages/quota"
	return &u
}
