package client

import (
	"context"
	"net/http"
	"sync/atomic"
)

// The services whose endpoints an Authenticator knows, by their catalog types.
const (
	// ServiceCompute is Nova's (or ECS's) compute API, e.g. https://host/v2.1/{project_id}.
	ServiceCompute = "compute"
	// ServiceImage is the image API: Glance, e.g. https://host:9292, or Huawei IMS,
	// e.g. https://ims.eu-de.otc.t-systems.com.
	ServiceImage = "image"
)

// Authenticator puts credentials on requests to the cloud's APIs and knows where they are.
type Authenticator interface {
	// Endpoint returns the endpoint of service (ServiceCompute, ServiceImage); it may
	// authenticate to learn it from the service catalog.
	Endpoint(ctx context.Context, service string) (string, error)
	// Authorize adds credentials to req and returns an identifier of the credential used,
	// to be handed back to Renew. renewals are those of the listing that sends req: a
	// token about to expire is renewed first only if they allow it.
	Authorize(ctx context.Context, req *http.Request, renewals *Renewals) (credential string, err error)
	// Renew replaces a credential that the API refused with 401; it returns an error when
	// the credential cannot be renewed (a pre-issued token).
	Renew(ctx context.Context, refused string) error
	// Secrets returns the secrets in play: the configured password, application credential
	// secret, secret key, security token or pre-issued token, and the current token. They
	// are removed from whatever text a server sends before it reaches an error or a log.
	Secrets() []string
}

// Renewals are the renewals of a credential that one listing allows before any refusal: a
// token about to expire is renewed at most once per listing, or a Keystone that issues
// tokens expiring at once would be asked for one per page. Each listing makes its own and
// hands it to every Authorize; nil, for a request of no listing, allows every renewal.
type Renewals struct {
	expiryClaimed atomic.Bool
}

// ClaimExpiry reports whether a token about to expire may be renewed, and notes that it is.
func (r *Renewals) ClaimExpiry() bool {
	return r == nil || r.expiryClaimed.CompareAndSwap(false, true)
}

// ProjectScoped is an Authenticator that knows the project its credential is scoped to: the
// one whose servers a compute listing without all_tenants covers.
type ProjectScoped interface {
	// ScopeProject returns the id of the credential's project, "" for a credential of none;
	// it may authenticate to learn it.
	ScopeProject(ctx context.Context) (string, error)
}
