package client

import (
	"context"
	"net/http"
)

// The services whose endpoints an Authenticator knows, by their catalog types.
const (
	// ServiceCompute is Nova's (or ECS's) compute API, e.g. https://host/v2.1/{project_id}.
	ServiceCompute = "compute"
	// ServiceImage is the image API: Glance, e.g. https://host:9292, or Huawei IMS,
	// https://ims.{region}.myhuaweicloud.com.
	ServiceImage = "image"
)

// Authenticator puts credentials on requests to the cloud's APIs and knows where they are.
type Authenticator interface {
	// Endpoint returns the endpoint of service (ServiceCompute, ServiceImage); it may
	// authenticate to learn it from the service catalog.
	Endpoint(ctx context.Context, service string) (string, error)
	// Authorize adds credentials to req and returns an identifier of the credential used,
	// to be handed back to Renew.
	Authorize(ctx context.Context, req *http.Request) (credential string, err error)
	// Renew replaces a credential that the API refused with 401; it returns an error when
	// the credential cannot be renewed (a pre-issued token).
	Renew(ctx context.Context, refused string) error
	// Secrets returns the secrets in play: the configured password, application credential
	// secret, secret key, security token or pre-issued token, and the current token. They
	// are removed from whatever text a server sends before it reaches an error or a log.
	Secrets() []string
}
