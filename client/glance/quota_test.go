package glance

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
)

func TestQuotas(t *testing.T) {
	// A Glance with unified limits (api-ref: images-v2 "Get API usage"): sizes in MiB; a
	// limit of -1 allows nothing (Glance refuses every image under it: docs/testing.md), so
	// it is a limit of 0, not an unlimited quota.
	const usage = `{"usage": {"image_size_total": {"limit": 1000, "usage": 210}, "image_count_total": {"limit": 100, "usage": 4},
	  "image_stage_total": {"limit": 500, "usage": 0}, "image_count_uploading": {"limit": -1, "usage": 1}}}`
	c, g, _ := newTestClient(t, "/image", func(int, *http.Request) (int, string) { return http.StatusOK, usage })
	quotas, err := c.Quotas(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []client.Quota{
		{Resource: "image_count_total", Limit: 100, Usage: 4},
		{Resource: "image_count_uploading", Limit: 0, Usage: 1},
		{Resource: "image_size_total", Bytes: true, Limit: 1000 << 20, Usage: 210 << 20},
		{Resource: "image_stage_total", Bytes: true, Limit: 500 << 20, Usage: 0},
	}
	if !reflect.DeepEqual(quotas, want) {
		t.Errorf("quotas\n %+v\nwant\n %+v", quotas, want)
	}
	if len(g.Requests()) != 1 || g.Requests()[0].URL.Path != "/image/v2/info/usage" {
		t.Errorf("%d requests, last %s: want one of /image/v2/info/usage", len(g.Requests()), g.Requests()[len(g.Requests())-1].URL.Path)
	}
}

// The quota request goes with the token its listing had accepted: a 401 is final, an
// AuthError, and no token is asked for (the collector then holds the request back).
func TestQuotasNeverRenewTheCredential(t *testing.T) {
	c, g, auth := newTestClient(t, "/image", func(int, *http.Request) (int, string) {
		return http.StatusUnauthorized, `{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`
	})
	_, err := c.Quotas(context.Background())
	var authErr *client.AuthError
	if !errors.As(err, &authErr) || len(g.Requests()) != 1 || auth.Renewals() != 0 {
		t.Errorf("error %v after %d requests and %d renewals; want an AuthError after one request and no renewal", err, len(g.Requests()), auth.Renewals())
	}
}

func TestQuotasOfAGlanceWithoutLimits(t *testing.T) {
	// Without unified limits Glance answers an empty usage (checked on the realstack).
	c, _, _ := newTestClient(t, "", func(int, *http.Request) (int, string) { return http.StatusOK, `{"usage": {}}` })
	if quotas, err := c.Quotas(context.Background()); err != nil || len(quotas) != 0 {
		t.Errorf("quotas %v, err %v; want none and no error", quotas, err)
	}
}

func TestQuotasRefuseBadAnswers(t *testing.T) {
	for body, want := range map[string]string{
		`{}`: `the answer has no "usage" object`,
		`{"usage": {"image_count_total": {"limit": -5, "usage": 1}}}`:              "quota image_count_total: limit is out of range (-5)",
		`{"usage": {"image_count_total": {"limit": 5, "usage": -1}}}`:              "quota image_count_total: usage is out of range (-1)",
		`{"usage": {"image_size_total": {"limit": 9999999999999999, "usage": 1}}}`: "limit is out of range",
		`{"usage": {"tok-secret-renewed": {"limit": -7}}}`:                         "quota <redacted>",
		`{"usage": []}`: "wrong JSON type",
		// Two keys alike in their first 64 bytes, the most a label keeps: one series twice.
		`{"usage": {"` + strings.Repeat("a", 64) + `x": {"limit": 1, "usage": 1}, "` + strings.Repeat("a", 64) + `y": {"limit": 1, "usage": 1}}}`: "listed twice",
		`<html>`: "not JSON",
		`{"usage": {"image_count_total": {"limit": 1}}}` + strings.Repeat(" ", 2<<20): "larger than 1048576 bytes",
	} {
		c, _, _ := newTestClient(t, "", func(int, *http.Request) (int, string) { return http.StatusOK, body })
		c.Base.Requester.Auth.(*clienttest.Auth).Token = "tok-secret-renewed"
		_, err := c.Quotas(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "tok-secret-renewed") {
			t.Errorf("%.60s: error %v, want %q", body, err, want)
		}
	}
}
