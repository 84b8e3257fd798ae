package paging

import (
	"net/url"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Base is what the client of every image API is besides its listing: its name, its
// requester, and the names of the listing options in its query. Embedded in a client, it
// gives the client.ImageAPI methods API and CheckOptions.
type Base struct {
	Name      string
	Requester *Requester
	// Names are the API's query parameters; an option it has no parameter for is one it
	// has no filter for.
	Names QueryNames
}

// NewBase returns the Base of the API name, sending with auth and opts, whose query names
// the options as names says.
func NewBase(name string, auth client.Authenticator, opts client.Options, names QueryNames) Base {
	return Base{Name: name, Requester: NewRequester(auth, opts), Names: names}
}

// API returns the API's name.
func (b *Base) API() string { return b.Name }

// CheckOptions fails, naming the option and the API, on the first option of opts the API
// has no filter for: the error Query would return.
func (b *Base) CheckOptions(opts client.ListOptions) error {
	_, err := b.Query(opts)
	return err
}

// Query is opts in the API's query parameters, the page size included. It fails, naming
// the option and the API, on the first option of opts the API has no filter for: none is
// ever silently left out.
func (b *Base) Query(opts client.ListOptions) (url.Values, error) {
	for _, option := range opts.Set() {
		if b.Names.Param(option) == "" {
			return nil, client.Inexpressible(option, b.Name)
		}
	}
	return Query(opts, b.Names), nil
}
