// Package paging holds what the clients of the image APIs (client/nova, client/glance,
// client/ims) and the server listing (client/compute) share: one listing's requests, with
// credentials, retries and one renewal of a refused credential; its bounds (pages, bytes
// held, loops); and the streaming decoding of a page of images (or of any list), bounded per
// value, with the field types the three image APIs have in common.
// Each API client adds only its URLs, its query and its image fields.
package paging

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/log/level"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// maxBackoff bounds the backoff between two retries.
const maxBackoff = 30 * time.Second

// Requester sends the requests of one cloud's image API: built once per cloud, it holds the
// authenticator and the options shared by every listing.
type Requester struct {
	Auth client.Authenticator
	Opts client.Options
	// Lists is what a listing lists, as its errors name it ("listing images, page 3");
	// "images" when empty.
	Lists string
	// defaultRefused says that the cloud answered 403 to the API's default page size: its
	// listings then send no limit and take the server's page size.
	defaultRefused atomic.Bool
}

// NewRequester returns a Requester with opts' defaults filled in.
func NewRequester(auth client.Authenticator, opts client.Options) *Requester {
	return &Requester{Auth: auth, Opts: opts.WithDefaults()}
}

// Listing is one listing in progress: its page count, the markers it asked for, what it
// has handed over, and what it renewed of its credential.
type Listing struct {
	r *Requester
	// PageSize is the limit the listing asks for; a 403 hints at it.
	PageSize int
	// defaultLimit says that PageSize is the API's default, not the user's: a 403 to it is
	// answered by asking again without a limit.
	defaultLimit bool
	pages        int
	seen         map[string]bool // markers already requested, to stop a pagination loop
	renewed      bool            // the credential was renewed once in this listing, after a 401
	// renewals are what the authenticator may renew before a refusal: a token about to
	// expire, once.
	renewals client.Renewals
	// borrowed says that the credential was accepted by the listing beside this request
	// (GetDocument): it is never renewed here, and a 401 is final.
	borrowed bool
	redact   client.Redactor // the secrets of the last request: its credentials and the authenticator's
	listed   int64           // ImageBytes of the images handed over so far
}

// begin starts a listing: its state.
func (r *Requester) begin(size PageSize) *Listing {
	return &Listing{r: r, PageSize: size.Limit, defaultLimit: size.Default, seen: map[string]bool{},
		redact: client.NewRedactor(r.Auth.Secrets()...)}
}

// borrow makes the listing's credential the one the listing beside it had accepted
// (GetDocument): it is renewed neither before it expires nor on a 401, which is final.
func (l *Listing) borrow() {
	l.borrowed = true
	l.renewals.ClaimExpiry()
}

// Endpoint returns the endpoint of service (client.ServiceCompute, client.ServiceImage).
func (l *Listing) Endpoint(ctx context.Context, service string) (string, error) {
	return l.r.Auth.Endpoint(ctx, service)
}

// Err is err with every secret of the listing removed: every text a server sent (a status
// line, a Content-Type, an id used as a marker) may quote one.
func (l *Listing) Err(err error) error { return l.redact.Err(err) }

// Options are the listing's client options.
func (l *Listing) Options() client.Options { return l.r.Opts }

// NextPage counts a page about to be requested: it fails past Options.MaxPages, and when
// marker (the last id of the page before; "" for none) was already requested.
func (l *Listing) NextPage(marker string) error {
	l.pages++
	if l.pages > l.r.Opts.MaxPages {
		return fmt.Errorf("listing %s: more than %d pages (--client.max-pages); stopped at marker %s", l.lists(), l.r.Opts.MaxPages, l.redact.Text(marker, 64))
	}
	if marker == "" {
		return nil
	}
	if l.seen[marker] {
		return fmt.Errorf("listing %s, page %d: pagination loop: marker %s was already requested", l.lists(), l.pages, l.redact.Text(marker, 64))
	}
	l.seen[marker] = true
	return nil
}

// lists is what the listing lists, as its errors name it.
func (l *Listing) lists() string {
	if l.r.Lists == "" {
		return "images"
	}
	return l.r.Lists
}

// NewPass starts another walk through the pages of the same listing (Glance's hidden
// images after the others): its markers are new, its pages count on.
func (l *Listing) NewPass() { clear(l.seen) }

// Page is the number of the page last counted by NextPage, from 1.
func (l *Listing) Page() int { return l.pages }

// Hand hands img over to fn, its label values without secrets and then cut to their
// bounds, once the listing's bytes allow it: those of the images kept, and of the one at
// hand. An image that fn drops (client.ErrDropped) counts client.DroppedImageBytes. img's id
// is as the API sent it until then: it is the next page's marker.
func (l *Listing) Hand(img client.Image, fn func(client.Image) error) error {
	img = l.redact.Image(img)
	n := client.ImageBytes(img)
	if l.listed+n > l.r.Opts.MaxListingBytes {
		return fmt.Errorf("the listing holds more than %d bytes of images (--client.max-listing-bytes)", l.r.Opts.MaxListingBytes)
	}
	err := fn(img)
	if errors.Is(err, client.ErrDropped) {
		l.listed += client.DroppedImageBytes
		return nil
	}
	l.listed += n
	return err
}

// Decoding is how the listing decodes a page: its bounds, the metadata keys wanted, and the
// secrets of the request that fetched it.
func (l *Listing) Decoding() Decoding {
	return Decoding{MaxBytes: l.r.Opts.MaxResponseBytes, MetadataKeys: l.r.Opts.MetadataKeys, Redact: l.redact}
}

// Get requests u and returns the answer if it is a 200. It renews the credential and
// retries once per listing on a 401, and retries throttling (429, 413 overLimit) and
// transient gateway faults (502, 503, 504) with backoff, honouring Retry-After, as long as
// the retry fits before ctx's deadline.
func (l *Listing) Get(ctx context.Context, u *url.URL) (*http.Response, error) {
	for retries := 0; ; {
		if l.defaultLimit && l.r.defaultRefused.Load() {
			u = withoutLimit(u)
		}
		resp, credential, err := l.send(ctx, u)
		if err == nil {
			return resp, nil
		}
		var apiErr *client.APIError
		if !errors.As(err, &apiErr) {
			return nil, err
		}
		switch {
		case apiErr.StatusCode == http.StatusUnauthorized:
			if err := l.renew(ctx, credential, err); err != nil {
				return nil, err
			}
		case retryable(apiErr.StatusCode) && retries < l.r.Opts.MaxRetries:
			if err := l.r.wait(ctx, retries, apiErr); err != nil {
				return nil, err
			}
			retries++
		case apiErr.StatusCode == http.StatusForbidden && l.defaultLimit && u.Query().Has("limit"):
			l.refuseDefault()
		case apiErr.StatusCode == http.StatusForbidden && l.PageSize > 0 && u.Query().Has("limit"):
			return nil, fmt.Errorf("%w (limit=%d may be above the cloud's largest page size: try a smaller page-size)", err, l.PageSize)
		default:
			return nil, err
		}
	}
}

// refuseDefault notes that the cloud refused the API's default page size with 403, as
// Huawei's Nova-compatible API does above its undocumented largest page: this cloud's
// listings ask again, and from now on, without a limit. It costs one request, once.
func (l *Listing) refuseDefault() {
	if l.r.defaultRefused.CompareAndSwap(false, true) {
		level.Warn(l.r.Opts.Logger).Log("msg", "the cloud answered 403 to the default page size; listing without a limit from now on (set page-size to choose one)",
			"limit", l.PageSize)
	}
}

// withoutLimit is u without its limit parameter.
func withoutLimit(u *url.URL) *url.URL {
	query := u.Query()
	if !query.Has("limit") {
		return u
	}
	query.Del("limit")
	return WithQuery(u, query)
}

// send makes one request and returns the response if it is a 200.
func (l *Listing) send(ctx context.Context, u *url.URL) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", l.r.Opts.UserAgent)
	credential, err := l.r.Auth.Authorize(ctx, req, &l.renewals)
	if err != nil {
		return nil, "", err
	}
	start := time.Now()
	resp, err := l.r.Opts.HTTPClient.Do(req)
	l.redact = client.RequestRedactor(l.r.Auth, req)
	if err != nil {
		return nil, "", fmt.Errorf("GET %s: %w", client.RedactedURL(req), client.UnwrapURLError(err))
	}
	level.Debug(l.r.Opts.Logger).Log("msg", "images request", "url", l.redact.Text(client.RedactedURL(req), client.MaxErrorText), "status", resp.StatusCode,
		"seconds", time.Since(start).Seconds(), "request_id", client.RequestID(resp.Header, l.redact))
	if err := client.CheckResponse(resp, l.redact); err != nil {
		client.DrainAndClose(resp.Body)
		return nil, credential, err
	}
	return resp, credential, nil
}

// renew replaces a credential refused with 401, once per listing.
func (l *Listing) renew(ctx context.Context, credential string, refusal error) error {
	if l.borrowed {
		return client.AuthFailure(fmt.Errorf("%w; not renewing the credential, which the image listing had just had accepted", refusal))
	}
	if l.renewed {
		return client.AuthFailure(fmt.Errorf("refused again after renewal: %w", refusal))
	}
	l.renewed = true
	if err := l.r.Auth.Renew(ctx, credential); err != nil {
		var heldBack *client.HeldBackError
		if errors.As(err, &heldBack) {
			return err // refused in another listing: nothing was sent
		}
		var identityErr *client.IdentityError
		if errors.As(err, &identityErr) {
			// The identity service failed: whether the credentials are good is unknown.
			return client.IdentityFailure(fmt.Errorf("%w; renewing the credential: %w", refusal, identityErr.Err))
		}
		var authErr *client.AuthError
		if errors.As(err, &authErr) {
			err = authErr.Err
		}
		return client.AuthFailure(fmt.Errorf("%w; renewing the credential: %w", refusal, err))
	}
	return nil
}

// retryable statuses: throttling (429; Nova's overLimit may also come as 413) and gateways
// or services that are briefly unavailable. Other 4xx are the request's fault and 500 is
// the service's own failure (Nova's when Glance is unreachable): retrying them only adds
// load.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusRequestEntityTooLarge,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// wait sleeps before retry number retries+1: the server's Retry-After if it gave one, else
// an exponential backoff with jitter. It fails at once if the wait would pass ctx's deadline.
func (r *Requester) wait(ctx context.Context, retries int, apiErr *client.APIError) error {
	delay := apiErr.RetryAfter
	if delay == 0 {
		backoff := min(r.Opts.RetryBackoff<<min(retries, 10), maxBackoff)
		delay = backoff/2 + rand.N(backoff/2+1)
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < delay {
		return fmt.Errorf("%w; not retried: waiting %s would pass the scrape deadline", apiErr, delay.Round(time.Millisecond))
	}
	level.Debug(r.Opts.Logger).Log("msg", "retrying", "status", apiErr.StatusCode, "fault", apiErr.Fault, "after", delay)
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w; retry abandoned: %w", apiErr, ctx.Err())
	}
}

// BaseURL parses an API endpoint (what the catalog or an override gives) into a URL with no
// user information, query or fragment, and path joined with suffix. what names the
// endpoint in errors ("compute endpoint"), which quote it without redact's secrets.
func BaseURL(redact client.Redactor, what, endpoint, suffix string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return nil, fmt.Errorf("%s: not a URL (%s)", what, client.RedactURLText(redact.Redact(endpoint)))
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("%s %s: want an http or https URL", what, redact.Quote(u.Redacted(), client.MaxEndpointBytes))
	}
	u.User = nil
	u.RawQuery, u.Fragment = "", ""
	u.Path = strings.TrimRight(u.Path, "/") + suffix
	u.RawPath = ""
	return u, nil
}

// WithQuery is a copy of base with query, encoded as the wire and AK/SK signatures want it.
func WithQuery(base *url.URL, query url.Values) *url.URL {
	u := *base
	u.RawQuery = client.EncodeQuery(query)
	return &u
}

// Run runs one listing at suffix below the endpoint of service (what names the endpoint in
// errors): it begins the listing, builds the base URL and calls walk with them, and
// returns walk's error without the listing's secrets.
func (r *Requester) Run(ctx context.Context, size PageSize, service, what, suffix string,
	walk func(ctx context.Context, l *Listing, base *url.URL) error) error {
	listing := r.begin(size)
	endpoint, err := listing.Endpoint(ctx, service)
	if err != nil {
		return listing.Err(err)
	}
	base, err := BaseURL(listing.redact, what, endpoint, suffix)
	if err != nil {
		return listing.Err(err)
	}
	return listing.Err(walk(ctx, listing, base))
}

// Fetch requests u and hands the 200 answer to decode, then drains and closes its body.
func (l *Listing) Fetch(ctx context.Context, u *url.URL, decode func(*http.Response) error) error {
	resp, err := l.Get(ctx, u) //nolint:bodyclose // client.DrainAndClose closes it below.
	if err != nil {
		return err
	}
	defer client.DrainAndClose(resp.Body)
	return decode(resp)
}

// ByMarker asks for page after page of base with query, each after the first with marker
// set to the last id of the page before, as long as page reports more and a last id. The
// errors name the page; NextPage bounds the pages and stops a marker asked for twice.
func ByMarker(ctx context.Context, l *Listing, base *url.URL, query url.Values,
	page func(ctx context.Context, u *url.URL) (last string, more bool, err error)) error {
	for marker := ""; ; {
		if err := l.NextPage(marker); err != nil {
			return err
		}
		if marker != "" {
			query.Set("marker", marker)
		}
		last, more, err := page(ctx, WithQuery(base, query))
		if err != nil {
			return fmt.Errorf("listing %s, page %d: %w", l.lists(), l.Page(), err)
		}
		if !more || last == "" {
			return nil
		}
		marker = last
	}
}

// QueryNames are an API's names of the listing options in its query; "" for an option the
// API has no filter for (Base.Query refuses the option).
type QueryNames struct {
	Name, Status, Type, Server, ImageType, MinRAM, MinDisk, Limit string
	// DefaultLimit is the limit sent when the listing sets no page size: the API's usual
	// largest page, so that a server configured for larger pages still answers pages
	// within --client.max-response-bytes.
	DefaultLimit int
	// ChangesSince is the parameter of the changes-since time, and SinceOperator what goes
	// before the time in its value: Nova takes changes-since=T, Glance and IMS
	// updated_at=gte:T.
	ChangesSince, SinceOperator string
}

// Param is the query parameter of option (by the names of client.SelectionParams); "" for
// an option the API has no filter for.
func (names QueryNames) Param(option string) string {
	switch option {
	case "name":
		return names.Name
	case "status":
		return names.Status
	case "changes-since":
		return names.ChangesSince
	case "min-ram":
		return names.MinRAM
	case "min-disk":
		return names.MinDisk
	case "type":
		return names.Type
	case "server":
		return names.Server
	case "imagetype":
		return names.ImageType
	case "page-size":
		return names.Limit
	}
	return ""
}

// PageSize is the limit a listing sends, and whether it is the API's default.
type PageSize struct {
	Limit   int
	Default bool // not set by the user: the API's DefaultLimit
}

// PageSize is the limit a listing with opts sends: its page size, or the API's default.
func (names QueryNames) PageSize(opts client.ListOptions) PageSize {
	if opts.PageSize > 0 {
		return PageSize{Limit: opts.PageSize}
	}
	return PageSize{Limit: names.DefaultLimit, Default: true}
}

// Query is opts in an API's query parameters, named by names: the options that are set, and
// the page size. An option names has no parameter for is left out: Base.Query refuses it.
func Query(opts client.ListOptions, names QueryNames) url.Values {
	query := url.Values{}
	set := func(name, value string) {
		if name != "" && value != "" {
			query.Set(name, value)
		}
	}
	number := func(name string, n *int) {
		if n != nil {
			set(name, strconv.Itoa(*n))
		}
	}
	set(names.Name, opts.Name)
	set(names.Status, opts.Status)
	set(names.Type, opts.Type)
	set(names.Server, opts.Server)
	set(names.ImageType, opts.ImageType)
	number(names.MinRAM, opts.MinRAM)
	number(names.MinDisk, opts.MinDisk)
	limit := names.PageSize(opts).Limit
	number(names.Limit, &limit)
	if !opts.ChangesSince.IsZero() {
		set(names.ChangesSince, names.SinceOperator+opts.ChangesSince.UTC().Format(time.RFC3339))
	}
	return query
}
