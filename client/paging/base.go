package paging

import (
	"slices"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Base is what the client of every image API is besides its listing: its name, its
// requester, and the listing options it has no filter for. Embedded in a client, it gives
// the client.ImageAPI methods API and CheckOptions.
type Base struct {
	Name      string
	Requester *Requester
	// Inexpressible are the options (by the names of client.SelectionParams) the API has
	// no filter for.
	Inexpressible []string
}

// NewBase returns the Base of the API name, sending with auth and opts.
func NewBase(name string, auth client.Authenticator, opts client.Options, inexpressible ...string) Base {
	return Base{Name: name, Requester: NewRequester(auth, opts), Inexpressible: inexpressible}
}

// API returns the API's name.
func (b *Base) API() string { return b.Name }

// CheckOptions fails, naming the option and the API, on the first option of opts the API
// has no filter for.
func (b *Base) CheckOptions(opts client.ListOptions) error {
	for _, option := range opts.Set() {
		if slices.Contains(b.Inexpressible, option) {
			return client.Inexpressible(option, b.Name)
		}
	}
	return nil
}
