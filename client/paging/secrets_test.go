package paging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/glance"
	"github.com/nova-image-exporter/nova_image_exporter/client/ims"
	"github.com/nova-image-exporter/nova_image_exporter/client/internal/clienttest"
	"github.com/nova-image-exporter/nova_image_exporter/client/nova"
)

// cuts are the lengths at which a text of the server is cut for a label, an error or a log
// line: a secret of about these lengths, or padded to them, is cut inside.
var cuts = []int{client.MaxStatusBytes, 128, client.MaxIDBytes, 256, client.MaxLabelBytes}

// hostileSecret is a secret of n bytes holding the characters that %q and JSON escape: its
// first 8 bytes, raw or escaped, are what no label, error or log line may hold.
func hostileSecret(n int) string {
	const head = `S"e\cret`
	var b strings.Builder
	b.WriteString(head)
	for i := 0; b.Len() < n; i++ {
		b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[i%36])
	}
	return b.String()[:n]
}

// secretAuth sends token and holds password, which the server also knows; it cannot renew.
func secretAuth(endpoint, token, password string) *clienttest.Auth {
	return &clienttest.Auth{URL: endpoint, Token: token, Password: password, RenewErr: clienttest.ErrCannotRenew}
}

// q is s as a JSON string.
func q(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// echoCase is one place a hostile server puts the secret in: its answer, and what the
// exporter is asked for (images or quotas).
type echoCase struct {
	name   string
	quotas bool
	answer func(secret string, r *http.Request) (contentType, body string)
}

func page(body string) (string, string) { return "application/json", body }

// novaCases put the secret in Nova's labels, times, ids, markers, keys and Content-Type.
var novaCases = []echoCase{
	{"labels", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "name": %s, "status": %s, "server": {"id": %s}, "metadata": {"k": %s}},
		  {"id": "i2", "name": %s, "status": %s, "server": {"id": %s}, "metadata": {"k": %s}}]}`,
			q(s), q(s), q(s), q(s), q("pad-"+s), q("pad-"+s), q("pad-"+s), q("pad-"+s)))
	}},
	{"unreadable time", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "status": "ACTIVE", "created": %s, "updated": %s}]}`, q(s), q("pad-"+s)))
	}},
	{"looping marker", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": %s, "status": "ACTIVE"}], "images_links": [{"rel": "next", "href": "x"}]}`, q(s)))
	}},
	{"id in an error", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": %s, "status": "ACTIVE", "minDisk": -1}]}`, q(s)))
	}},
	{"id too long", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": %s, "status": "ACTIVE"}]}`, q(s+strings.Repeat("x", 256))))
	}},
	{"top-level key", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{%s: tru, "images": []}`, q(s)))
	}},
	{"Content-Type", false, func(s string, _ *http.Request) (string, string) {
		return "text/" + s, `{"images": []}`
	}},
}

// glanceCases put the secret in Glance's labels, times, next links and quotas.
var glanceCases = []echoCase{
	{"labels", false, func(s string, r *http.Request) (string, string) {
		if r.URL.Query().Get("os_hidden") != "" {
			return page(`{"images": []}`)
		}
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "name": %s, "status": %s, "visibility": %s, "instance_uuid": %s, "k": %s},
		  {"id": "i2", "name": %s, "status": %s, "visibility": %s, "instance_uuid": %s, "k": %s}]}`,
			q(s), q(s), q(s), q(s), q(s), q("pad-"+s), q("pad-"+s), q("pad-"+s), q("pad-"+s), q("pad-"+s)))
	}},
	{"unreadable time", false, func(s string, r *http.Request) (string, string) {
		if r.URL.Query().Get("os_hidden") != "" {
			return page(`{"images": []}`)
		}
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "status": "active", "created_at": %s, "updated_at": %s}]}`, q(s), q("pad-"+s)))
	}},
	{"next link without a marker", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [], "next": %s}`, q("/v2/images?x="+s)))
	}},
	{"next link not a URL", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [], "next": %s}`, q("/v2/%zz"+s)))
	}},
	{"next link with a long marker", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [], "next": %s}`, q("/v2/images?marker="+s+strings.Repeat("m", 256))))
	}},
	{"looping marker", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "status": "active"}], "next": %s}`, q("/v2/images?marker="+s)))
	}},
	{"quota resources alike", true, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"usage": {%s: {"limit": 1, "usage": 1}, %s: {"limit": 1, "usage": 1}}}`,
			q(s+strings.Repeat("a", 64)), q(s+strings.Repeat("b", 64))))
	}},
	{"quota out of range", true, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"usage": {%s: {"limit": -5, "usage": 1}}}`, q(s)))
	}},
	{"quota labels", true, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"usage": {%s: {"limit": 1, "usage": 1}, %s: {"limit": 1, "usage": 1}}}`, q(s), q("pad-"+s)))
	}},
}

// imsCases put the secret in IMS's labels, times, sizes, markers and quotas.
var imsCases = []echoCase{
	{"labels", false, func(s string, r *http.Request) (string, string) {
		if r.URL.Query().Get("marker") != "" {
			return page(`{"images": []}`)
		}
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "name": %s, "status": %s, "visibility": %s, "__data_origin": %s, "k": %s},
		  {"id": "i2", "name": %s, "status": %s, "visibility": %s, "__data_origin": %s, "k": %s}]}`,
			q(s), q(s), q(s), q("instance,"+s), q(s), q("pad-"+s), q("pad-"+s), q("pad-"+s), q("instance,pad-"+s), q("pad-"+s)))
	}},
	{"unreadable time", false, func(s string, r *http.Request) (string, string) {
		if r.URL.Query().Get("marker") != "" {
			return page(`{"images": []}`)
		}
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "status": "active", "created_at": %s, "updated_at": %s}]}`, q(s), q("pad-"+s)))
	}},
	{"__image_size", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": "i1", "status": "active", "__image_size": %s}]}`, q(s)))
	}},
	{"looping marker", false, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"images": [{"id": %s, "status": "active"}]}`, q(s)))
	}},
	{"quota types alike", true, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"quotas": {"resources": [{"type": %s, "used": 1, "quota": 1}, {"type": %s, "used": 1, "quota": 1}]}}`,
			q(s+strings.Repeat("a", 64)), q(s+strings.Repeat("b", 64))))
	}},
	{"quota out of range", true, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"quotas": {"resources": [{"type": %s, "used": -3, "quota": 1}]}}`, q(s)))
	}},
	{"quota labels", true, func(s string, _ *http.Request) (string, string) {
		return page(fmt.Sprintf(`{"quotas": {"resources": [{"type": %s, "used": 1, "quota": 1}, {"type": %s, "used": 1, "quota": 1}]}}`, q(s), q("pad-"+s)))
	}},
}

// source is what the test asks of one API's client.
type source interface {
	client.ImageSource
	client.QuotaSource
}

// A hostile server puts a secret (the token sent, or the password the authenticator holds)
// padded to every length around each cut into each field and text it sends: no label,
// error or log line may hold its first 8 bytes, as they are or escaped (%q, JSON), which
// they would if a text were cut, quoted or escaped before its secrets were removed.
func TestSecretsAreRedactedBeforeTextIsQuotedOrCut(t *testing.T) {
	apis := []struct {
		name   string
		suffix string
		cases  []echoCase
		client func(auth client.Authenticator, opts client.Options) source
	}{
		{"nova", "/v2.1/p", novaCases, func(auth client.Authenticator, opts client.Options) source {
			return novaWithQuotas{nova.New(auth, opts)}
		}},
		{"glance", "", glanceCases, func(auth client.Authenticator, opts client.Options) source { return glance.New(auth, opts) }},
		{"ims", "", imsCases, func(auth client.Authenticator, opts client.Options) source { return ims.New(auth, opts, "") }},
	}
	for _, api := range apis {
		srv := clienttest.NewServer(t, nil)
		for _, tc := range api.cases {
			for _, kind := range []string{"token", "password"} {
				t.Run(api.name+"/"+tc.name+"/"+kind, func(t *testing.T) {
					for _, cut := range cuts {
						for n := cut - 3; n <= cut+3; n++ {
							secret := hostileSecret(n)
							auth := secretAuth(srv.URL+api.suffix, "tok-plain", "not-sent-"+strconv.Itoa(n))
							if kind == "token" {
								auth.Token = secret
							} else {
								auth.Password = secret
							}
							srv.SetAnswer(func(_ int, r *http.Request) (int, http.Header, string) {
								contentType, body := tc.answer(secret, r)
								return http.StatusOK, http.Header{"Content-Type": {contentType}}, body
							})
							var logs bytes.Buffer
							opts := client.Options{Logger: log.NewLogfmtLogger(&logs), MetadataKeys: []string{"k"}, MaxPages: 5, RetryBackoff: time.Millisecond}
							c := api.client(auth, opts)
							text := tellAll(c, tc.quotas) + "\n" + logs.String()
							if leak := leaked(text, secret); leak != "" {
								t.Fatalf("secret of %d bytes: %q is in\n%.2000s", n, leak, text)
							}
						}
					}
				})
			}
		}
	}
}

// novaWithQuotas is Nova's client, which has no quotas.
type novaWithQuotas struct{ *nova.Client }

func (novaWithQuotas) Quotas(context.Context) ([]client.Quota, error) { return nil, nil }

// tellAll is everything the exporter could show of a listing or a quota request: the
// images or quotas, in full, and the error.
func tellAll(c source, quotas bool) string {
	if quotas {
		got, err := c.Quotas(context.Background())
		return fmt.Sprintf("%+v %v", got, err)
	}
	var images []client.Image
	err := c.EachImage(context.Background(), client.ListOptions{}, func(img client.Image) error {
		images = append(images, img)
		return nil
	})
	return fmt.Sprintf("%+v %v", images, err)
}

// leaked is the form of the secret's first 8 bytes that text holds, as it is or escaped,
// in any case; "" for none.
func leaked(text, secret string) string {
	head := secret[:8]
	lower := strings.ToLower(text)
	for _, form := range []string{head, strings.Trim(strconv.Quote(head), `"`), strings.Trim(q(head), `"`)} {
		if strings.Contains(lower, strings.ToLower(form)) {
			return form
		}
	}
	return ""
}

// An endpoint (the catalog's, which a hostile identity service writes) that is not one
// fails the listing, quoting it without the secrets.
func TestSecretsInABadEndpointAreRedacted(t *testing.T) {
	for _, cut := range []int{64, 256} {
		for n := cut - 3; n <= cut+3; n++ {
			secret := hostileSecret(n)
			for _, endpoint := range []string{"ftp://x.example/" + secret, "http://x.example/%zz" + secret, "pad" + secret} {
				auth := secretAuth(endpoint, "tok", secret)
				for _, c := range []source{novaWithQuotas{nova.New(auth, client.Options{})}, glance.New(auth, client.Options{}), ims.New(auth, client.Options{}, "")} {
					text := tellAll(c, false)
					if leak := leaked(text, secret); leak != "" || !strings.Contains(text, "endpoint") {
						t.Fatalf("endpoint %q: %q is in %s, or it names no endpoint", endpoint, leak, text)
					}
				}
			}
		}
	}
}
