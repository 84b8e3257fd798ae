package client

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestServerTextLosesSecrets(t *testing.T) {
	const secret = "s3cr3t-`value`"
	long := strings.Repeat("x", 250) + secret // the secret straddles the 256-rune cut
	for _, tt := range []struct {
		name   string
		header http.Header
		body   string
	}{
		{"nova fault name and message", nil, `{"` + secret + `": {"code": 400, "message": "bad ` + secret + `"}}`},
		{"keystone title", nil, `{"error": {"code": 401, "title": "` + secret + `", "message": "no"}}`},
		{"service code", nil, `{"error": {"code": "` + secret + `", "message": "no"}}`},
		{"gateway", nil, `{"error_code": "` + secret + `", "error_msg": "` + secret + `", "request_id": "` + secret + `"}`},
		{"message cut after the secret's start", nil, `{"badRequest": {"code": 400, "message": "` + long + `"}}`},
		{"request id header", http.Header{"X-Openstack-Request-Id": {secret}}, `{}`},
		{"content type of an opaque body", http.Header{"Content-Type": {"text/" + secret}}, `<html></html>`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			for k, v := range tt.header {
				rec.Header()[k] = v
			}
			rec.WriteHeader(http.StatusBadRequest)
			rec.WriteString(tt.body)
			resp := rec.Result()
			resp.Request = httptest.NewRequest(http.MethodGet, "http://nova/v2.1/images/detail", nil)
			err := CheckResponse(resp, NewRedactor("", secret))
			if err == nil || strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q, want the secret removed", err)
			}
		})
	}
}

func TestURLEncodedSecretIsRedacted(t *testing.T) {
	const secret = "p@ss/w0rd&x=1"
	rec := httptest.NewRecorder()
	rec.WriteHeader(http.StatusUnauthorized)
	_, _ = rec.WriteString(`{"error": {"code": 401, "title": "Unauthorized", "message": "bad password ` + url.QueryEscape(secret) + ` in ` + url.PathEscape(secret) + `"}}`)
	resp := rec.Result()
	resp.Request = httptest.NewRequest(http.MethodGet, "http://nova/v2.1/images/detail", nil)
	err := CheckResponse(resp, NewRedactor(secret))
	if strings.Contains(err.Error(), url.QueryEscape(secret)) || strings.Contains(err.Error(), url.PathEscape(secret)) {
		t.Errorf("an escaped secret is in the error: %v", err)
	}
}

// TestImageLabelsLoseSecrets names every label of an image after the token: none keeps it,
// the owner included.
func TestImageLabelsLoseSecrets(t *testing.T) {
	const secret = "tok-3f9a1c7e55d2"
	img := NewRedactor(secret).Image(Image{ID: "a", Name: secret, ServerID: "s-" + secret,
		Owner: secret + "-project", APIStatus: secret, Visibility: secret})
	for _, v := range []string{img.Name, img.ServerID, img.Owner, img.APIStatus, img.Visibility} {
		if strings.Contains(v, secret) || !strings.Contains(v, Redacted) {
			t.Errorf("label %q keeps the secret or lost the redaction mark", v)
		}
	}
}
