package cloud

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Huawei's API gateway signature, SDK-HMAC-SHA256 (Huawei's public API signing documentation).
const (
	signAlgorithm   = "SDK-HMAC-SHA256"
	sdkDateHeader   = "X-Sdk-Date"
	sdkDateLayout   = "20060102T150405Z"
	EmptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// AKSK signs every request with a Huawei access key pair (auth_type: aksk). The signature
// covers the method, path, query and the host, X-Project-Id, X-Sdk-Date and, for a
// temporary key, X-Security-Token headers, exactly as they go on the wire.
type AKSK struct {
	AccessKey       string
	SecretKey       string
	SecurityToken   string // for temporary keys; sent as X-Security-Token
	ProjectID       string // sent as X-Project-Id
	ComputeEndpoint string // the ECS endpoint
	ImageEndpoint   string // the IMS endpoint
	// Now is the signing clock, and that of refusals; nil means time.Now.
	Now func() time.Time

	refusals refusals // the gateway's last refusal of the signature
}

// Endpoint returns the configured endpoint of service.
func (a *AKSK) Endpoint(_ context.Context, service string) (string, error) {
	return configuredEndpoint(service, a.ComputeEndpoint, a.ImageEndpoint)
}

// Authorize signs req and returns the access key (not a secret) as the credential.
func (a *AKSK) Authorize(_ context.Context, req *http.Request, _ *client.Renewals) (string, error) {
	now := a.clock()
	if err := a.refusals.held(now()); err != nil {
		return "", err
	}
	req.Header.Set(sdkDateHeader, now().UTC().Format(sdkDateLayout))
	req.Header.Set("X-Project-Id", a.ProjectID)
	signed := []string{"host", "x-project-id", "x-sdk-date"}
	if a.SecurityToken != "" {
		req.Header.Set("X-Security-Token", a.SecurityToken)
		signed = append(signed, "x-security-token")
	}
	if req.Body != nil && req.Body != http.NoBody {
		return "", errors.New("aksk: signing a request with a body is not supported")
	}
	signature := Sign(a.SecretKey, req.Method, req.URL, hostOf(req), req.Header, signed, EmptyBodySHA256)
	req.Header.Set("Authorization", fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s",
		signAlgorithm, a.AccessKey, strings.Join(signed, ";"), signature))
	return a.AccessKey, nil
}

// Renew fails: a refused signature is a wrong key or a skewed clock, and retrying would
// count towards the gateway's lock-out of the key after 5 failures.
func (a *AKSK) Renew(context.Context, string) error {
	return a.refusals.note(a.clock()(), client.AuthFailure(fmt.Errorf("aksk: the signature of access key %s was refused (wrong secret key, or a clock more than 15 minutes off); not retrying, the gateway locks a key after 5 failures", a.AccessKey)))
}

// clock is Now, or time.Now.
func (a *AKSK) clock() func() time.Time {
	if a.Now != nil {
		return a.Now
	}
	return time.Now
}

// Secrets returns the secret key and the security token; each request's signature is taken
// from the request itself.
func (a *AKSK) Secrets() []string { return []string{a.SecretKey, a.SecurityToken} }

func hostOf(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// Sign computes the SDK-HMAC-SHA256 signature (hex) of a request. signedHeaders are
// lower-case names, sorted; "host" takes its value from host, others from header.
// bodySHA256 is the hex SHA-256 of the body.
func Sign(secretKey, method string, u *url.URL, host string, header http.Header, signedHeaders []string, bodySHA256 string) string {
	canonical := strings.Join([]string{
		method,
		canonicalURI(u),
		canonicalQuery(u.RawQuery),
		canonicalHeaders(host, header, signedHeaders),
		strings.Join(signedHeaders, ";"),
		bodySHA256,
	}, "\n")
	digest := sha256.Sum256([]byte(canonical))
	stringToSign := signAlgorithm + "\n" + header.Get(sdkDateHeader) + "\n" + hex.EncodeToString(digest[:])
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}

// canonicalURI escapes each path segment and ends the path with a slash.
func canonicalURI(u *url.URL) string {
	segments := strings.Split(u.Path, "/")
	for i, s := range segments {
		segments[i] = client.EscapeUnreserved(s)
	}
	uri := strings.Join(segments, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	return uri
}

// canonicalQuery sorts keys, then the values of each key, escaping both.
func canonicalQuery(rawQuery string) string {
	values, _ := url.ParseQuery(rawQuery)
	return client.EncodeQuery(values)
}

func canonicalHeaders(host string, header http.Header, names []string) string {
	var b strings.Builder
	for _, name := range names {
		value := header.Get(name)
		if name == "host" {
			value = host
		}
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(strings.TrimSpace(value))
		b.WriteByte('\n')
	}
	return b.String()
}

// ScopeProject returns the configured project: the one the signed requests go to.
func (a *AKSK) ScopeProject(context.Context) (string, error) { return a.ProjectID, nil }
