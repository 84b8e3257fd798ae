package ims

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

func TestQuotas(t *testing.T) {
	// IMS's "Querying Image Quota" answer (Huawei's API reference, ShowImageQuota).
	const answer = `{"quotas": {"resources": [{"type": "image", "used": 3, "quota": 100, "min": 1, "max": 100},
	  {"type": "image_shared", "used": 0, "quota": -1, "min": 1, "max": 10000},
	  {"type": "image_member", "used": 12, "quota": 128, "min": 1, "max": 1024}]}}`
	c, s := newClient(t, client.Options{}, "", func(url.Values) (int, string) { return http.StatusOK, answer })
	quotas, err := c.Quotas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Quota{
		{Resource: "image", Limit: 100, Usage: 3},
		{Resource: "image_shared", Unlimited: true, Usage: 0},
		{Resource: "image_member", Limit: 128, Usage: 12},
	}
	if !reflect.DeepEqual(quotas, want) {
		t.Errorf("quotas\n %+v\nwant\n %+v", quotas, want)
	}
	if len(paths(s)) != 1 || paths(s)[0] != "/v1/cloudimages/quota" {
		t.Errorf("requests %v, want one of /v1/cloudimages/quota", paths(s))
	}
}

func TestQuotasRefuseBadAnswers(t *testing.T) {
	for body, want := range map[string]string{
		`{"error": {"code": "IMG.0001"}}`: `the answer has no "quotas" object`,
		`{"quotas": {"resources": [{"type": "image", "used": 1, "quota": 2}, {"type": "image", "used": 1, "quota": 2}]}}`: `resource "image" listed twice`,
		`{"quotas": {"resources": [{"used": 1, "quota": 2}]}}`:                                                            "a resource without a type",
		`{"quotas": {"resources": [{"type": "image", "used": -3, "quota": 2}]}}`:                                          "quota image: used is out of range (-3)",
		`{"quotas": {"resources": [{"type": "tok-secret", "used": 1, "quota": -2}]}}`:                                     "quota <redacted>: quota is out of range (-2)",
		`{"quotas": {"resources": "image"}}`:                                                                              "wrong JSON type",
		// Two types alike in their first 64 bytes, the most a label keeps: one series twice.
		`{"quotas": {"resources": [{"type": "` + strings.Repeat("a", 64) + `x", "used": 1, "quota": 2}, {"type": "` + strings.Repeat("a", 64) + `y", "used": 1, "quota": 2}]}}`: "listed twice",
	} {
		c, _ := newClient(t, client.Options{}, "", func(url.Values) (int, string) { return http.StatusOK, body })
		_, err := c.Quotas(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "tok-secret") {
			t.Errorf("%.60s: error %v, want %q", body, err, want)
		}
	}
	// A refusal (the IAM action ims:quotas:get missing) is the API's error, named.
	c, _ := newClient(t, client.Options{MaxRetries: -1}, "", func(url.Values) (int, string) {
		return http.StatusForbidden, `{"error": {"code": "IMG.0004", "message": "Policy doesn't allow ims:quotas:get to be performed."}}`
	})
	if _, err := c.Quotas(context.Background()); err == nil || !strings.Contains(err.Error(), "ims:quotas:get") || !strings.Contains(err.Error(), "403") {
		t.Errorf("403: error %v, want the API's refusal", err)
	}
}
