package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// MaxErrorBodyBytes caps how much of an error response is read: enough for any fault body,
// bounded against a proxy answering with a large page.
const MaxErrorBodyBytes = 64 << 10

// APIError is a response of the API with a status other than 200, as Nova, Keystone or a
// Huawei API gateway describe it.
type APIError struct {
	Method     string
	URL        string // without credentials; the query holds only listing filters
	StatusCode int
	// Fault is Nova's fault name (badRequest, itemNotFound, overLimit, ...), Keystone's error title,
	// or the gateway's error code (APIGW.0308, Ecs.0005); empty when the body had none.
	Fault      string
	Message    string
	RequestID  string
	RetryAfter time.Duration // from a Retry-After header or an overLimit retryAfter; 0 when not given
}

// Error reports the status, fault, message and request id; never the body as a whole.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: HTTP %d", e.Method, e.URL, e.StatusCode)
	if e.Fault != "" {
		b.WriteString(" ")
		b.WriteString(e.Fault)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(e.RequestID)
		b.WriteString(")")
	}
	return b.String()
}

// AuthError is a failure to authenticate: Keystone or IAM refused the credentials, or the
// API refused a credential that could not be renewed (a pre-issued token, an AK/SK
// signature, a token refused again right after renewal).
type AuthError struct {
	Err error
}

// Error says that authentication failed, and why.
func (e *AuthError) Error() string { return "authentication failed: " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *AuthError) Unwrap() error { return e.Err }

// IdentityError is a failure of the identity service (Keystone/IAM) other than refusing the
// credentials: no answer, a timeout, a TLS failure, an answer with another error status
// (5xx, 429, 404, ...) or an answer that could not be read. The credentials may be fine.
type IdentityError struct {
	Err error
}

// Error says that the identity service failed, and how.
func (e *IdentityError) Error() string {
	return "identity service unreachable or failing (not a refusal of the credentials): " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *IdentityError) Unwrap() error { return e.Err }

// IdentityFailure wraps err as an IdentityError unless it already is one.
func IdentityFailure(err error) error {
	var identityErr *IdentityError
	if errors.As(err, &identityErr) {
		return err
	}
	return &IdentityError{Err: err}
}

// AuthFailure wraps err as an AuthError unless it already is one.
func AuthFailure(err error) error {
	var authErr *AuthError
	if errors.As(err, &authErr) {
		return err
	}
	return &AuthError{Err: err}
}

// CheckResponse returns nil for a 200 response, and otherwise an *APIError read from at most
// MaxErrorBodyBytes of its body, without the secrets r knows. It does not close the body.
func CheckResponse(resp *http.Response, r Redactor) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	apiErr := &APIError{
		Method:     resp.Request.Method,
		URL:        RedactedURL(resp.Request),
		StatusCode: resp.StatusCode,
		RequestID:  RequestID(resp.Header, r),
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After")),
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxErrorBodyBytes))
	if err != nil {
		apiErr.Message = "reading error body: " + r.Redact(err.Error())
		return apiErr
	}
	FillFault(apiErr, body, resp.Header.Get("Content-Type"), r)
	return apiErr
}

// FillFault fills e's fault, message and request id from an error body, or describes the
// body when it is not a fault. Every text of the server goes through r here.
func FillFault(e *APIError, body []byte, contentType string, r Redactor) {
	if !parseFault(body, e, r) {
		e.Message = describeOpaqueBody(r.Text(contentType, 64), len(body))
	}
}

// RequestID is the request id an answer carries in any of the headers the API family uses,
// without secrets.
func RequestID(h http.Header, r Redactor) string {
	for _, name := range []string{"X-Openstack-Request-Id", "X-Compute-Request-Id", "X-Request-Id"} {
		if id := h.Get(name); id != "" {
			return r.Text(id, 128)
		}
	}
	return ""
}

// parseFault fills e from any of the fault shapes the API family uses and reports whether
// body was one of them:
//
//	{"itemNotFound": {"code": 404, "message": "..."}}                     Nova
//	{"error": {"code": 401, "title": "Unauthorized", "message": "..."}}   Keystone
//	{"error": {"code": "Ecs.0005", "message": "..."}}                     Huawei services
//	{"error_code": "APIGW.0308", "error_msg": "...", "request_id": "..."} Huawei API gateway
func parseFault(body []byte, e *APIError, r Redactor) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || len(top) == 0 {
		return false
	}
	if raw, ok := top["error_code"]; ok {
		var gw struct {
			Code      string `json:"error_code"`
			Msg       string `json:"error_msg"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(body, &gw) != nil {
			gw.Code = string(raw)
		}
		e.Fault, e.Message = r.Text(gw.Code, 64), r.Text(gw.Msg, 256)
		if e.RequestID == "" {
			e.RequestID = r.Text(gw.RequestID, 128)
		}
		return true
	}
	if len(top) != 1 {
		return false
	}
	for name, raw := range top {
		var fault struct {
			Code       json.RawMessage `json:"code"`
			Title      string          `json:"title"`
			Message    string          `json:"message"`
			RetryAfter json.Number     `json:"retryAfter"`
		}
		if json.Unmarshal(raw, &fault) != nil {
			return false
		}
		e.Fault = r.Text(faultName(name, fault.Title, fault.Code), 64)
		e.Message = r.Text(fault.Message, 256)
		if e.RetryAfter == 0 {
			if secs, err := fault.RetryAfter.Int64(); err == nil {
				e.RetryAfter = retryAfterSeconds(secs)
			}
		}
	}
	return true
}

// faultName picks the most specific name: Nova's key, a Huawei service code such as Ecs.0005,
// or Keystone's title under its generic "error" key.
func faultName(key, title string, code json.RawMessage) string {
	if key != "error" {
		return key
	}
	var s string
	if json.Unmarshal(code, &s) == nil && s != "" {
		return s
	}
	return title
}

// describeOpaqueBody says what a body that is no fault was; contentType is already safe.
func describeOpaqueBody(contentType string, n int) string {
	if n == 0 {
		return "empty body"
	}
	if contentType == "" {
		contentType = "no Content-Type"
	}
	if n == MaxErrorBodyBytes {
		return fmt.Sprintf("unrecognised body (%s, %d bytes or more)", contentType, n)
	}
	return fmt.Sprintf("unrecognised body (%s, %d bytes)", contentType, n)
}

// MaxRetryAfter bounds a server's Retry-After: a longer wait never fits a scrape anyway.
const MaxRetryAfter = time.Hour

// ParseRetryAfter reads a Retry-After header, seconds or an HTTP date, bounded by
// MaxRetryAfter; 0 when absent or unreadable.
func ParseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return retryAfterSeconds(int64(secs))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return min(d, MaxRetryAfter)
		}
	}
	return 0
}

func retryAfterSeconds(secs int64) time.Duration {
	if secs <= 0 {
		return 0
	}
	return time.Duration(min(secs, int64(MaxRetryAfter/time.Second))) * time.Second
}

// HeldBackError says that a request was not sent: the cloud refused these credentials a
// moment ago, in a request of another listing, and they are held back for RefusalHold. It
// is no AuthError (the cloud refused nothing more) and does not unwrap to one.
type HeldBackError struct {
	Refusal error // the refusal, already without secrets
}

// Error says that nothing was sent, and why.
func (e *HeldBackError) Error() string {
	return "not sent: the cloud refused these credentials a moment ago (" + e.Refusal.Error() + ")"
}

// UnwrapURLError drops the *url.Error wrapper, whose text repeats the method and URL.
func UnwrapURLError(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return urlErr.Err
	}
	return err
}
