package cloud

import (
	"cmp"
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
	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// renewBefore is how long before its expiry a Keystone token is replaced, so that a token
// never expires in the middle of a listing; a short-lived token is replaced after three
// quarters of its life instead.
const renewBefore = 5 * time.Minute

// StaticToken authenticates with a pre-issued token (auth_type: token) against fixed
// endpoints. It cannot be renewed: a 401 is final.
type StaticToken struct {
	Token           string
	ComputeEndpoint string // compute_endpoint_override, project id filled in
	ImageEndpoint   string // image_endpoint_override, project id filled in

	refusals refusals
}

// Endpoint returns the configured endpoint of service.
func (s *StaticToken) Endpoint(_ context.Context, service string) (string, error) {
	return configuredEndpoint(service, s.ComputeEndpoint, s.ImageEndpoint)
}

// configuredEndpoint is the configured endpoint of service, or an error naming the clouds.yaml
// key that configures it.
func configuredEndpoint(service, compute, image string) (string, error) {
	endpoint := compute
	if service == client.ServiceImage {
		endpoint = image
	}
	if endpoint == "" {
		return "", fmt.Errorf("no %s endpoint: set %s", service, overrideKey(service))
	}
	return endpoint, nil
}

// overrideKey is the clouds.yaml key that configures the endpoint of service.
func overrideKey(service string) string {
	if service == client.ServiceImage {
		return "image_endpoint_override"
	}
	return "compute_endpoint_override"
}

// Authorize sets X-Auth-Token, unless the API refused the token a moment ago.
func (s *StaticToken) Authorize(_ context.Context, req *http.Request, _ *client.Renewals) (string, error) {
	if err := s.refusals.held(time.Now()); err != nil {
		return "", err
	}
	req.Header.Set("X-Auth-Token", s.Token)
	return "", nil
}

// Renew fails: a pre-issued token cannot be renewed. The refusal holds the token back.
func (s *StaticToken) Renew(context.Context, string) error {
	return s.refusals.note(time.Now(), client.AuthFailure(errors.New("auth_type token: the pre-issued token was refused and cannot be renewed")))
}

// Secrets returns the token.
func (s *StaticToken) Secrets() []string { return []string{s.Token} }

// Keystone authenticates with Keystone v3 (or Huawei IAM, which speaks the same protocol)
// through gophercloud. The first request authenticates; the token is then reused until
// shortly before it expires or until the API refuses it.
type Keystone struct {
	authOptions gophercloud.AuthOptions
	endpoint    gophercloud.EndpointOpts
	overrides   map[string]string // by service: compute_endpoint_override, image_endpoint_override
	httpClient  *http.Client

	// UserAgent starts the User-Agent of every request to Keystone or IAM, as
	// client.Options.UserAgent does those to the images API; empty for
	// "nova_image_exporter".
	UserAgent string

	mu        sync.Mutex // serialises the first authentication and endpoint look-ups
	provider  *gophercloud.ProviderClient
	endpoints map[string]string // by service, once found

	now func() time.Time // the clock of token expiry and of refusals; nil means time.Now

	// refusals holds the credentials back from listings under way when Keystone refused
	// them; renewMu makes checking it and renewing one step.
	refusals refusals
	renewMu  sync.Mutex

	seenMu      sync.Mutex
	seenToken   string    // the last token handed out
	seenAt      time.Time // when it was first handed out
	seenExpired bool      // it had already expired then: Keystone's clock or Keystone is wrong
}

// NewKeystone returns a Keystone authenticator. overrides, by service
// (client.ServiceCompute, client.ServiceImage), are used instead of the catalog's
// endpoints; they may contain {project_id}.
func NewKeystone(authOptions gophercloud.AuthOptions, endpoint gophercloud.EndpointOpts, overrides map[string]string, httpClient *http.Client) *Keystone {
	authOptions.AllowReauth = true
	if endpoint.Availability == "" {
		endpoint.Availability = gophercloud.AvailabilityPublic
	}
	return &Keystone{authOptions: authOptions, endpoint: endpoint, overrides: overrides, httpClient: httpClient}
}

// Endpoint returns the endpoint of service, authenticating first if needed.
func (k *Keystone) Endpoint(ctx context.Context, service string) (string, error) {
	provider, err := k.authenticated(ctx)
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if endpoint, ok := k.endpoints[service]; ok {
		return endpoint, nil
	}
	endpoint, err := k.catalogEndpoint(provider, service)
	if err != nil {
		return "", err
	}
	if k.endpoints == nil {
		k.endpoints = map[string]string{}
	}
	k.endpoints[service] = endpoint
	return endpoint, nil
}

// Authorize sets a valid token as X-Auth-Token, renewing it if it is about to expire: when
// the listing's renewals allow it, and never a token that had expired when Keystone issued
// it (a renewal would get one just like it). Such a token is sent as it is: the API judges it.
func (k *Keystone) Authorize(ctx context.Context, req *http.Request, renewals *client.Renewals) (string, error) {
	provider, err := k.authenticated(ctx)
	if err != nil {
		return "", err
	}
	token := provider.Token()
	if expiring, expiredOnArrival := k.expiring(token, provider.TokenExpiry()); expiring && !expiredOnArrival && renewals.ClaimExpiry() {
		if err := k.renew(ctx, provider, token); err != nil {
			return "", err
		}
		token = provider.Token()
	}
	req.Header.Set("X-Auth-Token", token)
	return token, nil
}

// expiring reports whether token should be replaced before use, and whether it had
// already expired when it was first seen.
func (k *Keystone) expiring(token string, expiry time.Time) (expiring, expiredOnArrival bool) {
	if expiry.IsZero() {
		return false, false
	}
	k.seenMu.Lock()
	defer k.seenMu.Unlock()
	now := k.clock()
	if token != k.seenToken {
		k.seenToken, k.seenAt, k.seenExpired = token, now, !expiry.After(now)
	}
	margin := min(renewBefore, expiry.Sub(k.seenAt)/4)
	return expiry.Sub(now) < margin, k.seenExpired
}

func (k *Keystone) clock() time.Time {
	if k.now != nil {
		return k.now()
	}
	return time.Now()
}

// Renew obtains a new token unless another caller already replaced the refused one. When
// the refused token had expired on arrival and Keystone's new one has too, it fails: the
// API would refuse it again, and the clocks are to blame.
func (k *Keystone) Renew(ctx context.Context, refused string) error {
	provider, err := k.authenticated(ctx)
	if err != nil {
		return err
	}
	refusedExpired := k.expiredOnArrival(refused)
	if err := k.renew(ctx, provider, refused); err != nil {
		return err
	}
	expiry := provider.TokenExpiry()
	if _, expired := k.expiring(provider.Token(), expiry); refusedExpired && expired {
		return fmt.Errorf("Keystone at %s issues tokens that have already expired (expires_at %s, %s before the exporter's clock): check the clocks of Keystone and of the exporter (NTP)",
			client.RedactURLText(k.authOptions.IdentityEndpoint), expiry.UTC().Format(time.RFC3339), k.clock().Sub(expiry).Round(time.Second))
	}
	return nil
}

// expiredOnArrival reports whether token is the last token handed out and had expired when
// it was first seen.
func (k *Keystone) expiredOnArrival(token string) bool {
	k.seenMu.Lock()
	defer k.seenMu.Unlock()
	return token == k.seenToken && k.seenExpired
}

// renew replaces the refused token. gophercloud hands one renewal's outcome to every listing
// that asked for it meanwhile, so the renewal runs under a bound of its own (the HTTP
// client's timeout), not under the deadline of whichever listing asked first: a scrape with
// a short deadline must not fail the renewal for the others.
func (k *Keystone) renew(ctx context.Context, provider *gophercloud.ProviderClient, refused string) error {
	k.renewMu.Lock()
	defer k.renewMu.Unlock()
	if err := k.refusals.held(k.clock()); err != nil {
		return err
	}
	renewCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(k.httpClient.Timeout, client.DefaultRequestTimeout))
	defer cancel()
	if err := provider.Reauthenticate(renewCtx, refused); err != nil {
		return k.refusals.note(k.clock(), k.authError(err))
	}
	return nil
}

// Secrets returns the password or application credential secret, and the current token.
func (k *Keystone) Secrets() []string {
	secrets := k.configuredSecrets()
	k.mu.Lock()
	provider := k.provider
	k.mu.Unlock()
	if provider != nil {
		secrets = append(secrets, provider.Token())
	}
	return secrets
}

func (k *Keystone) configuredSecrets() []string {
	return []string{k.authOptions.Password, k.authOptions.ApplicationCredentialSecret, k.authOptions.TokenID}
}

func (k *Keystone) authenticated(ctx context.Context) (*gophercloud.ProviderClient, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.provider != nil {
		return k.provider, nil
	}
	if err := k.refusals.held(k.clock()); err != nil {
		return nil, err
	}
	provider, err := openstack.NewClient(k.authOptions.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("auth_url %s: not a usable URL", client.RedactURLText(k.authOptions.IdentityEndpoint))
	}
	provider.HTTPClient = client.BoundIdentity(k.httpClient)
	provider.UserAgent.Prepend(cmp.Or(k.UserAgent, client.DefaultUserAgent))
	if err := openstack.Authenticate(ctx, provider, k.authOptions); err != nil {
		return nil, k.refusals.note(k.clock(), k.authError(err))
	}
	k.provider = provider
	return provider, nil
}

// catalogEndpoint is the override of service, else its endpoint in the token's catalog,
// of the configured region and interface.
func (k *Keystone) catalogEndpoint(provider *gophercloud.ProviderClient, service string) (string, error) {
	projectID := tokenProjectID(provider)
	if override := k.overrides[service]; override != "" {
		return expandProjectID(override, projectID), nil
	}
	opts := k.endpoint
	opts.Type = service
	endpoint, err := provider.EndpointLocator(opts)
	if err != nil {
		return "", fmt.Errorf("finding the %s endpoint in the catalog (region %q, interface %q; or set %s): %w",
			service, opts.Region, opts.Availability, overrideKey(service), err)
	}
	if len(endpoint) > client.MaxEndpointBytes {
		redact := client.NewRedactor(append(k.configuredSecrets(), provider.Token())...)
		return "", fmt.Errorf("the catalog's %s endpoint is longer than %d bytes: %s", service, client.MaxEndpointBytes, client.RedactURLText(redact.Redact(endpoint)))
	}
	if service != client.ServiceCompute {
		return expandProjectID(endpoint, projectID), nil
	}
	return withProjectID(endpoint, projectID), nil
}

// authError names the identity endpoint and user; gophercloud's errors carry the status and
// Keystone's message, never the request body with the password. Keystone/IAM refusing the
// credentials (401, 403) is an AuthError; any other failure of the token request is an
// IdentityError.
func (k *Keystone) authError(err error) error {
	who := k.authOptions.Username
	if who == "" {
		who = k.authOptions.UserID
	}
	if who == "" {
		who = "application credential " + k.authOptions.ApplicationCredentialID
	}
	described := fmt.Errorf("authenticating to %s as %s: %s", client.RedactURLText(k.authOptions.IdentityEndpoint), who,
		describeAuthError(err, client.NewRedactor(k.configuredSecrets()...)))
	if unexpected, ok := unexpectedResponse(err); ok &&
		(unexpected.Actual == http.StatusUnauthorized || unexpected.Actual == http.StatusForbidden) {
		return client.AuthFailure(described)
	}
	return client.IdentityFailure(described)
}

// unexpectedResponse finds the error status answer in a gophercloud error.
func unexpectedResponse(err error) (gophercloud.ErrUnexpectedResponseCode, bool) {
	var unexpected gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &unexpected) {
		return unexpected, true
	}
	var pointer *gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &pointer) && pointer != nil {
		return *pointer, true
	}
	return unexpected, false
}

// describeAuthError reports Keystone's answer as status, title, message and request id, not
// gophercloud's text, which holds the whole response body; r removes the secrets.
func describeAuthError(err error, r client.Redactor) string {
	unexpected, ok := unexpectedResponse(err)
	if !ok {
		return client.RedactURLText(r.Redact(err.Error()))
	}
	apiErr := &client.APIError{Method: unexpected.Method, URL: client.RedactURLText(unexpected.URL), StatusCode: unexpected.Actual,
		RequestID: client.RequestID(unexpected.ResponseHeader, r)}
	client.FillFault(apiErr, unexpected.Body, unexpected.ResponseHeader.Get("Content-Type"), r)
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

// ScopeProject returns the id of the project the token is scoped to, authenticating first if
// needed; "" for a token of no project.
func (k *Keystone) ScopeProject(ctx context.Context) (string, error) {
	provider, err := k.authenticated(ctx)
	if err != nil {
		return "", err
	}
	return tokenProjectID(provider), nil
}
