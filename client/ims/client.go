// Package ims lists images through Huawei Cloud's Image Management Service (IMS):
// GET {image endpoint}/v2/cloudimages, the listing Huawei recommends in place of the
// deprecated Nova-compatible images-detail of ECS. The endpoint is the catalog's image
// endpoint, or without a catalog https://ims.{region}.{cloud_domain}, unless
// image_endpoint_override names another; the project comes from the token or, with AK/SK, from the X-Project-Id header, and the signed
// host is the IMS host.
//
// Paging: IMS answers {"images": [...]} with no next link, and pages by marker (the id of
// the last image of the page before) and limit (500 by default). A server may cap the
// limit below what was asked, so a short page says nothing: the listing ends only on a
// page with no images. A marker asked for twice is a loop and fails the listing, as do more
// pages than Options.MaxPages. sort_key and sort_dir are not sent: marker paging runs on
// the documented default order (created_at, desc), which the marker continues.
//
// What differs from Nova's images-detail: the size is __image_size, a string of bytes
// (size is an unused 0 and is ignored; a public image has none); virtual_size is
// "unavailable currently" (null), and a 0 is no virtual size; the progress is derived from the status as Nova's
// proxy derives it; the server of a snapshot comes from __data_origin ("instance,<id>");
// metadata keys are the image's top-level keys; status filters take only queued, saving,
// deleted, killed and active; there is no filter for the type (snapshot, backup) or the
// server, and those options are refused. IMS adds the __imagetype filter and
// enterprise_project_id.
//
// Sources: Huawei Cloud's IMS API reference ("Querying Images", "Image Attributes") and its
// Go SDK (services/ims/v2/model: ListImagesRequest, ImageInfo); the "instance,<id>" and
// other forms of __data_origin from the Huawei and Open Telekom Cloud Terraform providers'
// documentation of IMS images. All from the vendor's documentation; not checked against a
// live IMS.
package ims

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// API is the name of this image API in clouds.yaml's image_api and --images.api.
const API = client.APIIMS

// Client lists images of one cloud project. It has no filter for the type (snapshot,
// backup) nor the server.
type Client struct {
	paging.Base
	// enterpriseProjectID is sent as enterprise_project_id when set: a user granted images
	// only through enterprise projects is refused without it.
	enterpriseProjectID string
}

// New returns a Client that authenticates with auth and, when enterpriseProjectID is set,
// lists the images of that enterprise project.
func New(auth client.Authenticator, opts client.Options, enterpriseProjectID string) *Client {
	return &Client{Base: paging.NewBase(API, auth, opts, queryNames), enterpriseProjectID: enterpriseProjectID}
}

// statuses are the image statuses IMS's status filter takes.
var statuses = []string{"queued", "saving", "deleted", "killed", "active"}

// CheckOptions fails on an option IMS cannot express: the type, the server, and a status
// other than queued, saving, deleted, killed or active. It is the error query would return.
func (c *Client) CheckOptions(opts client.ListOptions) error {
	_, err := c.query(opts)
	return err
}

// StatusError is a status option that IMS's status filter does not take.
type StatusError struct {
	Status string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("status %q: the %s image API filters only on queued, saving, deleted, killed or active (image_api %s)",
		client.Sanitize(e.Status, 64), API, API)
}

// EachImage calls fn for every image matching opts, page by page, so that a caller that
// does not need them all at once never holds more than one page. An error from fn stops
// the listing and is returned.
func (c *Client) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	query, err := c.query(opts)
	if err != nil {
		return err
	}
	return c.Requester.Run(ctx, c.Names.PageSize(opts), client.ServiceImage, "image endpoint", "/v2/cloudimages",
		func(ctx context.Context, listing *paging.Listing, base *url.URL) error {
			// A page with images may be followed by more, whatever its length: the server
			// may cap the limit. Only a page with none ends the listing.
			return paging.ByMarker(ctx, listing, base, query, func(ctx context.Context, u *url.URL) (string, bool, error) {
				last, err := page(ctx, listing, u, fn)
				return last, last != "", err
			})
		})
}

// page fetches and hands over one page; it returns the last id, "" for a page without
// images.
func page(ctx context.Context, listing *paging.Listing, u *url.URL, fn func(client.Image) error) (last string, err error) {
	err = listing.Fetch(ctx, u, func(resp *http.Response) error {
		return paging.DecodeWire(resp, listing.Decoding(), &wireImage{}, nil, func(img client.Image) error {
			last = img.ID
			return listing.Hand(img, fn)
		})
	})
	return last, err
}

// defaultPageSize is the limit sent when no page size is set: IMS's documented default
// (Huawei documents no maximum, and a limit above it answers 403).
const defaultPageSize = 500

// queryNames are the options in IMS's query parameters (Huawei's "Querying Images"):
// min_ram and min_disk, changes-since as updated_at=gte:<UTC time>, the IMS image type as
// __imagetype.
var queryNames = paging.QueryNames{Name: "name", Status: "status", ImageType: "__imagetype",
	MinRAM: "min_ram", MinDisk: "min_disk", Limit: "limit", DefaultLimit: defaultPageSize, ChangesSince: "updated_at", SinceOperator: "gte:"}

// query is opts in IMS's query parameters, with the enterprise project when set. It fails
// on an option IMS has no filter for, and on a status its filter does not take.
func (c *Client) query(opts client.ListOptions) (url.Values, error) {
	query, err := c.Query(opts)
	if err != nil {
		return nil, err
	}
	if opts.Status != "" && !slices.Contains(statuses, opts.Status) {
		return nil, &StatusError{Status: opts.Status}
	}
	if c.enterpriseProjectID != "" {
		query.Set("enterprise_project_id", c.enterpriseProjectID)
	}
	return query, nil
}
