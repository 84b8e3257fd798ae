package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
)

// renewBefore is how long before its expiry a Keystone token is replaced, so that a token
// never expires in the middle of a listing; a short-lived token is replaced after three
// quarters of its life instead.
const renewBefore = 5 * time.Minute

// StaticToken authenticates with a pre-issued token (auth_type: token) against a fixed
// compute endpoint. It cannot be renewed: a 401 is final.
type StaticToken struct {
	Token           string
	ComputeEndpoint string
}

// Endpoint returns the configured compute endpoint.
func (s *StaticToken) Endpoint(context.Context) (string, error) { return s.ComputeEndpoint, nil }

// Authorize sets X-Auth-Token.
func (s *StaticToken) Authorize(_ context.Context, req *http.Request) (string, error) {
	req.Header.Set("X-Auth-Token", s.Token)
	return "", nil
}

// Renew fails: a pre-issued token cannot be renewed.
func (s *StaticToken) Renew(context.Context, string) error {
	return errors.New("auth_type token: the pre-issued token was refused and cannot be renewed")
}

// Keystone authenticates with Keystone v3 (or Huawei IAM, which speaks the same protocol)
// through gophercloud. The first request authenticates; the token is then reused until
// shortly before it expires or until the API refuses it.
type Keystone struct {
	authOptions gophercloud.AuthOptions
	endpoint    gophercloud.EndpointOpts
	override    string // compute_endpoint_override; empty to use the catalog
	httpClient  *http.Client

	mu       sync.Mutex // serialises the first authentication
	provider *gophercloud.ProviderClient
	compute  string

	seenMu    sync.Mutex
	seenToken string    // the last token handed out
	seenAt    time.Time // when it was first handed out
}

// NewKeystone returns a Keystone authenticator. endpointOverride, when not empty, is used
// instead of the catalog's compute endpoint; it may contain {project_id}.
func NewKeystone(authOptions gophercloud.AuthOptions, endpoint gophercloud.EndpointOpts, endpointOverride string, httpClient *http.Client) *Keystone {
	authOptions.AllowReauth = true
	endpoint.Type = "compute"
	if endpoint.Availability == "" {
		endpoint.Availability = gophercloud.AvailabilityPublic
	}
	return &Keystone{authOptions: authOptions, endpoint: endpoint, override: endpointOverride, httpClient: httpClient}
}

// Endpoint returns the compute endpoint, authenticating first if needed.
func (k *Keystone) Endpoint(ctx context.Context) (string, error) {
	if _, err := k.authenticated(ctx); err != nil {
		return "", err
	}
	return k.compute, nil
}

// Authorize sets a valid token as X-Auth-Token, renewing it if it is about to expire.
func (k *Keystone) Authorize(ctx context.Context, req *http.Request) (string, error) {
	provider, err := k.authenticated(ctx)
	if err != nil {
		return "", err
	}
	token := provider.Token()
	if k.expiring(token, provider.TokenExpiry()) {
		if err := k.Renew(ctx, token); err != nil {
			return "", err
		}
		token = provider.Token()
	}
	req.Header.Set("X-Auth-Token", token)
	return token, nil
}

// expiring reports whether token should be replaced before use.
func (k *Keystone) expiring(token string, expiry time.Time) bool {
	if expiry.IsZero() {
		return false
	}
	k.seenMu.Lock()
	defer k.seenMu.Unlock()
	now := time.Now()
	if token != k.seenToken {
		k.seenToken, k.seenAt = token, now
	}
	margin := min(renewBefore, expiry.Sub(k.seenAt)/4)
	return expiry.Sub(now) < margin
}

// Renew obtains a new token unless another caller already replaced the refused one.
func (k *Keystone) Renew(ctx context.Context, refused string) error {
	provider, err := k.authenticated(ctx)
	if err != nil {
		return err
	}
	if err := provider.Reauthenticate(ctx, refused); err != nil {
		return k.authError(err)
	}
	return nil
}

func (k *Keystone) authenticated(ctx context.Context) (*gophercloud.ProviderClient, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.provider != nil {
		return k.provider, nil
	}
	provider, err := openstack.NewClient(k.authOptions.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("auth_url %s: not a usable URL", redactURLText(k.authOptions.IdentityEndpoint))
	}
	provider.HTTPClient = boundIdentity(k.httpClient)
	provider.UserAgent.Prepend("nova_image_exporter")
	if err := openstack.Authenticate(ctx, provider, k.authOptions); err != nil {
		return nil, k.authError(err)
	}
	compute, err := k.computeEndpoint(provider)
	if err != nil {
		return nil, err
	}
	k.provider, k.compute = provider, compute
	return provider, nil
}

func (k *Keystone) computeEndpoint(provider *gophercloud.ProviderClient) (string, error) {
	projectID := tokenProjectID(provider)
	if k.override != "" {
		return expandProjectID(k.override, projectID), nil
	}
	endpoint, err := provider.EndpointLocator(k.endpoint)
	if err != nil {
		return "", fmt.Errorf("finding the compute endpoint in the catalog (region %q, interface %q): %w",
			k.endpoint.Region, k.endpoint.Availability, err)
	}
	if len(endpoint) > maxEndpointBytes {
		return "", fmt.Errorf("the catalog's compute endpoint is longer than %d bytes: %s", maxEndpointBytes, redactURLText(endpoint))
	}
	return withProjectID(endpoint, projectID), nil
}

// authError names the identity endpoint and user; gophercloud's errors carry the status and
// Keystone's message, never the request body with the password.
func (k *Keystone) authError(err error) error {
	who := k.authOptions.Username
	if who == "" {
		who = k.authOptions.UserID
	}
	if who == "" {
		who = "application credential " + k.authOptions.ApplicationCredentialID
	}
	return authFailure(fmt.Errorf("authenticating to %s as %s: %s", redactURLText(k.authOptions.IdentityEndpoint), who, describeAuthError(err)))
}

// describeAuthError reports Keystone's answer as status, title and message, not
// gophercloud's text, which holds the whole response body.
func describeAuthError(err error) string {
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if !errors.As(err, &unexpected) {
		var pointer *gophercloud.ErrUnexpectedResponseCode
		if !errors.As(err, &pointer) || pointer == nil {
			return redactURLText(err.Error())
		}
		unexpected = *pointer
	}
	apiErr := &APIError{Method: unexpected.Method, URL: redactURLText(unexpected.URL), StatusCode: unexpected.Actual}
	if !parseFault(unexpected.Body, apiErr) {
		apiErr.Message = describeOpaqueBody(unexpected.ResponseHeader.Get("Content-Type"), len(unexpected.Body))
	}
	return apiErr.Error()
}

func tokenProjectID(provider *gophercloud.ProviderClient) string {
	result, ok := provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return ""
	}
	project, err := result.ExtractProject()
	if err != nil || project == nil {
		return ""
	}
	return project.ID
}

// expandProjectID fills the placeholders users copy from provider documentation.
func expandProjectID(endpoint, projectID string) string {
	if projectID == "" {
		return endpoint
	}
	return strings.NewReplacer("{project_id}", projectID, "%(project_id)s", projectID, "$(project_id)s", projectID,
		"%(tenant_id)s", projectID, "$(tenant_id)s", projectID).Replace(endpoint)
}

// withProjectID appends the project id to a catalog endpoint that ends at the API version
// (.../v2.1), as some catalogs list it.
func withProjectID(endpoint, projectID string) string {
	trimmed := strings.TrimRight(endpoint, "/")
	if projectID != "" && (strings.HasSuffix(trimmed, "/v2.1") || strings.HasSuffix(trimmed, "/v2")) {
		return trimmed + "/" + projectID
	}
	return expandProjectID(endpoint, projectID)
}
