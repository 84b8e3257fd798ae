// Package client holds what every cloud API client shares: the bounded HTTP client, typed
// errors, redaction and truncation of a server's text, and the types of a listing (Image,
// ListOptions, Selection) with the interfaces between them (Authenticator, ImageSource).
// Cloud configuration and authentication are in client/cloud, the Nova images API in
// client/nova.
package client

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/go-kit/log"
	"golang.org/x/net/http/httpproxy"
)

// Defaults for Options.
const (
	DefaultMaxPages = 10000
	// DefaultMaxResponseBytes is some 6 times a page of 1 000 real images (Nova's largest
	// page by default). Each image costs about 250 bytes however few bytes it takes on the
	// wire: a page of 8 MiB of the smallest images peaks at about 85 MiB of heap.
	DefaultMaxResponseBytes = 8 << 20
	// DefaultMaxListingBytes bounds what one listing hands over, some 3 times a listing of
	// 100 000 real images: a server answering page after page of small images would
	// otherwise fill memory 8 MiB at a time.
	DefaultMaxListingBytes = 128 << 20
	DefaultRequestTimeout  = time.Minute
	DefaultMaxRetries      = 3
	DefaultRetryBackoff    = 500 * time.Millisecond
	// MaxRetries bounds Options.MaxRetries: beyond a few retries a listing is better
	// reported failed than kept waiting.
	MaxRetries = 10
)

// DefaultUserAgent is the User-Agent of a client whose Options set none.
const DefaultUserAgent = "nova_image_exporter"

// Options tune a cloud's image source and its HTTP client; the zero value takes the
// defaults above.
type Options struct {
	// HTTPClient sends every request, authentication included; nil builds one with
	// connection, TLS and response-header timeouts and RequestTimeout overall.
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP request when HTTPClient is nil.
	RequestTimeout time.Duration
	// MaxResponseBytes cuts off a page larger than this, counted after decompression.
	MaxResponseBytes int64
	// MaxPages stops a listing that would need more pages than this.
	MaxPages int
	// MaxListingBytes stops a listing whose images, counted by ImageBytes, pass this.
	MaxListingBytes int64
	// UserAgent is sent with every request.
	UserAgent string
	// Logger receives a debug line per request; nil logs nothing.
	Logger log.Logger
	// MaxRetries is how often a throttled or transiently failing request is retried
	// (0 takes DefaultMaxRetries; negative never retries).
	MaxRetries int
	// RetryBackoff is the first retry's backoff, doubled for each further retry.
	RetryBackoff time.Duration
	// MetadataKeys are the metadata keys whose values Image.Metadata holds; other
	// metadata is skipped while decoding.
	MetadataKeys []string
	// WrapTransport, when set, wraps the transport of the http.Client built when HTTPClient
	// is nil, e.g. to count requests.
	WrapTransport func(http.RoundTripper) http.RoundTripper
}

// WithDefaults returns o with the defaults in place of its zero fields.
func (o Options) WithDefaults() Options {
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.HTTPClient == nil {
		o.HTTPClient = o.BuildHTTPClient(nil)
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = DefaultMaxRetries
	}
	if o.RetryBackoff <= 0 {
		o.RetryBackoff = DefaultRetryBackoff
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if o.MaxListingBytes <= 0 {
		o.MaxListingBytes = DefaultMaxListingBytes
	}
	if o.MaxPages <= 0 {
		o.MaxPages = DefaultMaxPages
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Logger == nil {
		o.Logger = log.NewNopLogger()
	}
	return o
}

// BuildHTTPClient builds the http.Client of these options, with tlsConfig (may be nil).
func (o Options) BuildHTTPClient(tlsConfig *tls.Config) *http.Client {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	c := NewHTTPClient(cmp.Or(o.RequestTimeout, DefaultRequestTimeout), transport)
	if o.WrapTransport != nil {
		c.Transport = o.WrapTransport(c.Transport)
	}
	return c
}

// NewHTTPClient returns an http.Client whose every phase is bounded: dialing, TLS handshake,
// waiting for response headers and their size, and the whole request by timeout. transport
// may be nil; it is then a clone of http.DefaultTransport. Either way HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY are read now, when the client is built (the standard library
// reads them once per process).
func NewHTTPClient(timeout time.Duration, transport *http.Transport) *http.Client {
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	proxyFor := httpproxy.FromEnvironment().ProxyFunc()
	transport.Proxy = func(req *http.Request) (*url.URL, error) { return proxyFor(req.URL) }
	transport.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	transport.TLSHandshakeTimeout = 10 * time.Second
	transport.ResponseHeaderTimeout = timeout
	transport.MaxIdleConnsPerHost = 4
	transport.MaxResponseHeaderBytes = maxResponseHeaderBytes
	return &http.Client{Timeout: timeout, Transport: transport, CheckRedirect: noRedirects}
}

// noRedirects makes a redirect an error answer: following it would carry X-Auth-Token,
// X-Security-Token or a Keystone request with the password to wherever it points.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// The services whose endpoints an Authenticator knows, by their catalog types.
const (
	// ServiceCompute is Nova's (or ECS's) compute API, e.g. https://host/v2.1/{project_id}.
	ServiceCompute = "compute"
	// ServiceImage is the image API: Glance, e.g. https://host:9292, or Huawei IMS,
	// https://ims.{region}.myhuaweicloud.com.
	ServiceImage = "image"
)

// The image APIs, by the names of clouds.yaml's image_api and --images.api.
const (
	APINova   = "nova"
	APIGlance = "glance"
	APIIMS    = "ims"
)

// ImageAPIs are the image APIs the exporter speaks.
var ImageAPIs = []string{APINova, APIGlance, APIIMS}

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

// ImageSource lists the images of one cloud project, handing them over one by one as pages
// arrive. An error from fn stops the listing and is returned.
type ImageSource interface {
	EachImage(ctx context.Context, opts ListOptions, fn func(Image) error) error
}

// ImageAPI is the ImageSource of one image API (Nova's images-detail, Glance v2 or Huawei
// IMS), which names itself and knows which listing options it can express.
type ImageAPI interface {
	ImageSource
	// API names the image API, as clouds.yaml's image_api does: nova, glance or ims.
	API() string
	// CheckOptions fails, naming the option and the API, on an option of opts that the
	// API cannot express: it is never silently ignored.
	CheckOptions(opts ListOptions) error
}

// InexpressibleError is an option of a listing that an image API has no filter for.
type InexpressibleError struct {
	Option, API string
}

// Inexpressible returns the error of option, which api cannot express.
func Inexpressible(option, api string) error { return &InexpressibleError{Option: option, API: api} }

func (e *InexpressibleError) Error() string {
	return fmt.Sprintf("%s: the %s image API has no such filter (image_api %s)", e.Option, e.API, e.API)
}

// Collect returns every image source lists with opts, in the order listed.
func Collect(ctx context.Context, source ImageSource, opts ListOptions) ([]Image, error) {
	// Pages are kept as they come and joined once: one growing slice would copy every
	// image several times over.
	var pages [][]Image
	var total int
	err := source.EachImage(ctx, opts, func(img Image) error {
		if len(pages) == 0 || len(pages[len(pages)-1]) == cap(pages[len(pages)-1]) {
			pages = append(pages, make([]Image, 0, 1024))
		}
		pages[len(pages)-1] = append(pages[len(pages)-1], img)
		total++
		return nil
	})
	if err != nil {
		return nil, err
	}
	images := make([]Image, 0, total)
	for _, page := range pages {
		images = append(images, page...)
	}
	return images, nil
}

// DrainAndClose reads a little of what is left so that the connection can be reused.
func DrainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}

// userinfo matches the user:password@ part of a URL in text that may not parse as one.
var userinfo = regexp.MustCompile(`//[^/@\s]*@`)

// RedactURLText removes user information from a URL that did not parse.
func RedactURLText(raw string) string {
	return Sanitize(userinfo.ReplaceAllString(raw, "//"), 256)
}

// RedactedURL is the request URL without user information.
func RedactedURL(req *http.Request) string {
	u := *req.URL
	u.User = nil
	return u.String()
}

// UnwrapURLError drops the *url.Error wrapper, whose text repeats the method and URL.
func UnwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}
