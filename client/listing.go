package client

import (
	"context"
	"sync/atomic"
)

// listingKey is the context key of a listing's authentication state.
type listingKey struct{}

// listingAuth is what one listing has done about authentication.
type listingAuth struct {
	expiryRenewed atomic.Bool // a token was renewed because it was about to expire
}

// WithListing marks ctx as one listing's, so that a token is renewed for expiry at most once
// in it: a Keystone that issues tokens expiring at once would otherwise be asked for one per
// page.
func WithListing(ctx context.Context) context.Context {
	return context.WithValue(ctx, listingKey{}, &listingAuth{})
}

// ClaimExpiryRenewal reports whether ctx's listing may renew a token for expiry, and notes
// that it did; outside a listing it always may.
func ClaimExpiryRenewal(ctx context.Context) bool {
	state, ok := ctx.Value(listingKey{}).(*listingAuth)
	return !ok || state.expiryRenewed.CompareAndSwap(false, true)
}
