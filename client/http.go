package client

import (
	"cmp"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/http/httpproxy"
)

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

// DrainAndClose reads a little of what is left so that the connection can be reused.
func DrainAndClose(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, 4<<10)
	_ = body.Close()
}
