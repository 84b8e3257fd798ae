// Package glance lists images through OpenStack Glance's image API v2
// (GET {image endpoint}/v2/images): paging by the answer's next link and streaming decode.
//
// Paging: each answer names the next page in "next", a path that Glance writes relative to
// the root of its endpoint and without the endpoint's path prefix ("/v2/images?limit=2&marker=…"
// behind http://host/image), so the client keeps its own URL and takes only next's query,
// as it does with Nova's next links: a next naming another scheme, host or port is followed
// on the image endpoint, and the token goes nowhere else. A next link longer than
// client.MaxNextLinkBytes fails the listing.
//
// Hidden images: Glance leaves images with os_hidden=true out of a listing unless asked for
// them, and with os_hidden=true lists only them; the client lists both, one after the other,
// under one page bound (checked against realstack, Glance 25).
//
// What differs from Nova's images proxy: the fields' names (size, virtual_size, min_disk,
// min_ram, created_at, updated_at), Glance's nine statuses mapped to Nova's five as Nova maps
// them, and no progress field: it is derived from the status, as Nova derives it. The
// server a snapshot was taken from is its instance_uuid property, and an image's
// properties are top-level keys, where Nova has a metadata object.
//
// On Huawei's IMS host (Huawei Cloud, Open Telekom Cloud), which serves this API beside
// IMS's own, size is "unavailable currently" (0) and the size is the string __image_size;
// an image carrying Huawei's keys (__image_size, __imagetype) is sized by __image_size
// alone, and one without it (a public image) has no known size (Open Telekom Cloud's IMS API
// reference, "Querying Images (Native OpenStack API)"; simulator/testdata/vendor).
//
// Sources: Glance's api-ref (images-images-v2, images-parameters); the next link's form,
// the filters (exact min_ram and min_disk, updated_at=gte:, the image_type and
// instance_uuid properties) and the fields' forms, null included, checked against
// realstack.
package glance

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// API is the name of this image API in clouds.yaml's image_api and --images.api.
const API = client.APIGlance

// Client lists images of one cloud project. It has no filter for the IMS image type
// (queryNames names none).
type Client struct {
	paging.Base
	// onIMSHost reports whether an image endpoint's host is Huawei's IMS host, where Glance's
	// API carries Huawei's extension (the size is __image_size): decided by the endpoint the
	// operator configured or the catalog lists, never by keys a tenant can set on its images.
	onIMSHost func(host string) bool
}

// New returns a Client that authenticates with auth.
func New(auth client.Authenticator, opts client.Options) *Client {
	return &Client{Base: paging.NewBase(API, auth, opts, queryNames), onIMSHost: huaweiIMSHost}
}

// huaweiIMSHost reports whether host is an IMS host of a Huawei-stack cloud:
// ims.{region}.{domain}, as Huawei Cloud, Open Telekom Cloud and their siblings name it.
func huaweiIMSHost(host string) bool {
	return strings.HasPrefix(strings.ToLower(host), "ims.")
}

// EachImage calls fn for every image matching opts, the listed ones then the hidden ones,
// page by page. It renews the credential once if Glance answers 401, and fails when a page
// is malformed, pagination loops or exceeds Options.MaxPages, or ctx
// ends. An error from fn stops the listing and is returned.
func (c *Client) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	filters, err := c.Query(opts)
	if err != nil {
		return err
	}
	return c.Requester.Run(ctx, c.Names.PageSize(opts), client.ServiceImage, "image endpoint", "", func(ctx context.Context, listing *paging.Listing, endpoint *url.URL) error {
		base, imsHost := imagesURL(endpoint), c.onIMSHost(endpoint.Hostname())
		for _, hidden := range []bool{false, true} {
			query := maps.Clone(filters)
			if hidden {
				query.Set("os_hidden", "true")
			}
			listing.NewPass()
			if err := pass(ctx, listing, base, query, imsHost, fn); err != nil {
				return err
			}
		}
		return nil
	})
}

// pass walks the pages of one listing, following next links.
func pass(ctx context.Context, listing *paging.Listing, base *url.URL, query url.Values, imsHost bool, fn func(client.Image) error) error {
	for marker := ""; ; {
		if err := listing.NextPage(marker); err != nil {
			return err
		}
		next, err := page(ctx, listing, paging.WithQuery(base, query), imsHost, fn)
		if err == nil && next != "" {
			query, marker, err = nextQuery(listing.Decoding().Redact, next)
		}
		if err != nil {
			return fmt.Errorf("listing images, page %d: %w", listing.Page(), err)
		}
		if next == "" {
			return nil
		}
	}
}

// page fetches and hands over one page; it returns the page's next link, "" for none.
func page(ctx context.Context, listing *paging.Listing, u *url.URL, imsHost bool, fn func(client.Image) error) (next string, err error) {
	err = listing.Fetch(ctx, u, func(resp *http.Response) error {
		next, err = decodePage(resp, listing.Decoding(), imsHost, func(img client.Image) error {
			return listing.Hand(img, fn)
		})
		return err
	})
	return next, err
}

// decodePage streams one page, handing each image to fn, read with Huawei's extension if
// imsHost. It returns the page's next link.
func decodePage(resp *http.Response, d paging.Decoding, imsHost bool, fn func(client.Image) error) (next string, err error) {
	nextLink := func(p *paging.Page, key string) error {
		if key != "next" {
			return p.Skip(key)
		}
		if err := p.Decode(&next); err != nil {
			return fmt.Errorf("next: %w", err)
		}
		return nil
	}
	if err := paging.DecodeWire(resp, d, &wireImage{imsHost: imsHost}, nextLink, fn); err != nil {
		return "", err
	}
	return next, nil
}

// imagesURL is the images URL of an image endpoint.
func imagesURL(endpoint *url.URL) *url.URL { return v2URL(endpoint, "/images") }

// v2URL is path under the API v2 of an image endpoint: {endpoint}/v2{path}, or
// {endpoint}{path} when the endpoint already ends in /v2.
func v2URL(endpoint *url.URL, path string) *url.URL {
	u := *endpoint
	if !strings.HasSuffix(u.Path, "/v2") {
		u.Path += "/v2"
	}
	u.Path += path
	return &u
}

// nextQuery is the query of the next link next, and the marker in it, an image id. Only the
// query is taken, onto base: whatever scheme, host, port or path next names, the token goes
// to the image endpoint alone, as with Nova's next links. An error quotes next without
// redact's secrets.
func nextQuery(redact client.Redactor, next string) (url.Values, string, error) {
	if len(next) > client.MaxNextLinkBytes {
		return nil, "", fmt.Errorf("next link of %d bytes: longer than %d bytes (a fixed bound)", len(next), client.MaxNextLinkBytes)
	}
	u, err := url.Parse(next)
	if err != nil {
		return nil, "", fmt.Errorf("next link %s is not a URL", redact.Quote(next, 128))
	}
	query := u.Query()
	marker := query.Get("marker")
	if marker == "" {
		return nil, "", fmt.Errorf("next link %s has no marker", quoteLink(redact, next))
	}
	if len(marker) > client.MaxIDBytes {
		// The listing keeps every marker to stop a loop: each is bounded as an image id.
		return nil, "", fmt.Errorf("next link %s: marker longer than %d bytes", quoteLink(redact, next), client.MaxIDBytes)
	}
	return query, marker, nil
}

// quoteLink quotes a next link for an error: without redact's secrets nor user information,
// then cut.
func quoteLink(redact client.Redactor, next string) string {
	return strconv.Quote(client.RedactURLText(redact.Redact(next)))
}

// defaultPageSize is the limit sent when no page size is set: Glance's default
// api_limit_max (its own default page is 25 images).
const defaultPageSize = 1000

// queryNames are the options in Glance's query parameters: min_ram and min_disk (exact
// matches), changes-since as updated_at=gte:, the type and the server as the image_type and
// instance_uuid properties (checked on the realstack).
var queryNames = paging.QueryNames{Name: "name", Status: "status", Type: "image_type", Server: "instance_uuid",
	MinRAM: "min_ram", MinDisk: "min_disk", Limit: "limit", DefaultLimit: defaultPageSize, ChangesSince: "updated_at", SinceOperator: "gte:"}
