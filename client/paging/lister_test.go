package paging

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
)

// lister is the smallest image API on paging, to test paging alone: pages of images in
// images-detail's shape ({"images": [...], "images_links": [{"rel": "next"}]}) under
// /images/detail of the compute endpoint, by marker while a next link follows.
type lister struct {
	Base
}

// listerNames are lister's query parameters: images-detail's, but for the IMS image type.
var listerNames = QueryNames{Name: "name", Status: "status", Type: "type", Server: "server",
	MinRAM: "minRam", MinDisk: "minDisk", Limit: "limit", DefaultLimit: 1000, ChangesSince: "changes-since"}

func newLister(auth client.Authenticator, opts client.Options) *lister {
	return &lister{Base: NewBase("test", auth, opts, listerNames)}
}

func (c *lister) EachImage(ctx context.Context, opts client.ListOptions, fn func(client.Image) error) error {
	query, err := c.Query(opts)
	if err != nil {
		return err
	}
	return c.Requester.Run(ctx, c.Names.PageSize(opts), client.ServiceCompute, "compute endpoint", "/images/detail",
		func(ctx context.Context, listing *Listing, base *url.URL) error {
			return ByMarker(ctx, listing, base, query, func(ctx context.Context, u *url.URL) (last string, more bool, err error) {
				err = listing.Fetch(ctx, u, func(resp *http.Response) error {
					return DecodeWire(resp, listing.Decoding(), &testWire{}, nextLink(&more), func(img client.Image) error {
						last = img.ID
						return listing.Hand(img, fn)
					})
				})
				return last, more && err == nil, err
			})
		})
}

// nextLink decodes images_links, noting in more whether a next link follows.
func nextLink(more *bool) func(p *Page, key string) error {
	return func(p *Page, key string) error {
		if key != "images_links" {
			return p.Skip(key)
		}
		var links []struct {
			Rel string `json:"rel"`
		}
		if err := p.Decode(&links); err != nil {
			return err
		}
		for _, l := range links {
			*more = *more || l.Rel == "next"
		}
		return nil
	}
}

// testWire is an image of lister's pages: the fields every API has.
type testWire struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Created Time   `json:"created"`
	Server  struct {
		ID string `json:"id"`
	} `json:"server"`
	Metadata Picker `json:"metadata"`
}

func (w *testWire) Reset(metadataKeys []string) { *w = testWire{Metadata: NewPicker(metadataKeys)} }

func (w *testWire) Image(redact client.Redactor) (client.Image, error) {
	if err := CheckID(redact, w.ID, string(w.Status)); err != nil {
		return client.Image{}, err
	}
	return client.Image{ID: w.ID, Name: w.Name, Status: w.Status.Upper(), APIStatus: string(w.Status), ServerID: w.Server.ID,
		Created: w.Created.Millis(), Missing: w.Created.Missing(client.FieldCreated), Metadata: w.Metadata.Values(),
		Problems: TimeProblems(redact, NamedTime{Name: "created", Time: w.Created})}, nil
}

// newTestClient is a lister of a scripted server, through an authenticator whose token
// "tok" a 401 renews.
func newTestClient(t *testing.T, answer clienttest.Answer) (*lister, *clienttest.Server, *clienttest.Auth) {
	t.Helper()
	s := clienttest.NewServer(t, answer)
	auth := &clienttest.Auth{URL: s.URL + "/v2.1/proj", Token: "tok", Password: "configured-secret"}
	return newLister(auth, client.Options{UserAgent: "test-agent", MaxPages: 20, RetryBackoff: time.Millisecond}), s, auth
}

// isStatus reports whether err is an APIError with the given HTTP status.
func isStatus(err error, status int) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == status
}
