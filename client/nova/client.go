// Package nova lists images through the Nova-compatible images-detail API
// (GET {compute endpoint}/images/detail) of OpenStack Nova, Huawei Cloud ECS and
// Open Telekom Cloud: paging by marker and streaming decode.
//
// A Client is built once per cloud and reused: its authenticator keeps the token between
// listings, renewing it only when it is about to expire or is refused.
package nova

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// detailPath is images-detail's path below the compute endpoint.
const detailPath = "/images/detail"

// API is the name of this image API in clouds.yaml's image_api and --images.api.
const API = client.APINova

// Client lists images of one cloud project. It has no filter for the IMS image type
// (queryNames names none).
type Client struct {
	paging.Base
}

// New returns a Client that authenticates with auth.
func New(auth client.Authenticator, opts client.Options) *Client {
	return &Client{Base: paging.NewBase(API, auth, opts, queryNames)}
}

// EachImage calls fn for every image matching opts, page by page, so that a caller that
// does not need them all at once never holds more than one page. An error from fn stops
// the listing and is returned.
func (c *Client) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	query, err := c.Query(opts)
	if err != nil {
		return err
	}
	return c.Requester.Run(ctx, c.Names.PageSize(opts), client.ServiceCompute, "compute endpoint", detailPath,
		func(ctx context.Context, listing *paging.Listing, base *url.URL) error {
			return paging.ByMarker(ctx, listing, base, query, func(ctx context.Context, u *url.URL) (string, bool, error) {
				return page(ctx, listing, u, fn)
			})
		})
}

// page fetches and hands over one page; it returns the last id and whether a next link
// follows.
func page(ctx context.Context, listing *paging.Listing, u *url.URL, fn func(client.Image) error) (last string, hasNext bool, err error) {
	err = listing.Fetch(ctx, u, func(resp *http.Response) error {
		hasNext, err = decodePage(resp, listing.Decoding(), func(img client.Image) error {
			last = img.ID
			return listing.Hand(img, fn)
		})
		return err
	})
	return last, hasNext, err
}

// decodePage streams one page, handing each image to fn. It reports whether the page
// carries a next link.
func decodePage(resp *http.Response, d paging.Decoding, fn func(client.Image) error) (hasNext bool, err error) {
	links := func(p *paging.Page, key string) error {
		if key != "images_links" {
			return p.Skip(key)
		}
		var links []struct {
			Rel string `json:"rel"`
		}
		if err := p.Decode(&links); err != nil {
			return fmt.Errorf("images_links: %w", err)
		}
		for _, l := range links {
			hasNext = hasNext || l.Rel == "next"
		}
		return nil
	}
	err = paging.DecodeWire(resp, d, &wireImage{}, links, fn)
	return hasNext && err == nil, err
}

// defaultPageSize is the limit sent when no page size is set: Nova's default max_limit.
// Without a limit Nova answers max_limit images a page, and a cloud that raised it (20 000
// images, 25 MB) would answer past --client.max-response-bytes on every scrape.
const defaultPageSize = 1000

// queryNames are the options in images-detail's query parameters. Nova hands them to
// Glance v2: minRam and minDisk become min_ram and min_disk (exact matches), changes-since
// becomes updated_at=gte:, type and server become the image_type and instance_uuid
// properties.
var queryNames = paging.QueryNames{Name: "name", Status: "status", Type: "type", Server: "server",
	MinRAM: "minRam", MinDisk: "minDisk", Limit: "limit", DefaultLimit: defaultPageSize, ChangesSince: "changes-since"}
