package nova

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// echoedToken is a pre-issued token as short as Keystone's UUID tokens: 32 hex characters,
// short enough to pass whole through any cut at 64 characters.
const echoedToken = "0123456789abcdef0123456789abcdef"

func listWithEchoedToken(t *testing.T, endpoint string) ([]client.Image, error) {
	t.Helper()
	c := New(&cloud.StaticToken{Token: echoedToken, ComputeEndpoint: endpoint + "/v2.1/p"}, client.Options{RequestTimeout: 5 * time.Second})
	return client.Collect(context.Background(), c, client.ListOptions{})
}

// A server may put the token it was sent anywhere in its answer, not only in a fault.
func TestTokenEchoedAnywhereIsRedacted(t *testing.T) {
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"Content-Type of a 200", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/"+r.Header.Get("X-Auth-Token"))
			_, _ = w.Write([]byte(`{"images":[]}`))
		}},
		{"a top-level key", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"%s": tru, "images":[]}`, r.Header.Get("X-Auth-Token"))
		}},
		{"an image id used as the marker of a loop", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"images":[{"id":"%s","name":"a","status":"ACTIVE"}],"images_links":[{"rel":"next","href":"x"}]}`, r.Header.Get("X-Auth-Token"))
		}},
		{"an unreadable time", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"images":[{"id":"i1","name":"a","status":"ACTIVE","created":%q}]}`, r.Header.Get("X-Auth-Token"))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			images, err := listWithEchoedToken(t, srv.URL)
			if err == nil && len(images) == 1 && len(images[0].Problems) > 0 {
				err = fmt.Errorf("%s", strings.Join(images[0].Problems, "; "))
			}
			if err == nil {
				t.Fatal("the listing succeeded; want an error or a problem")
			}
			if strings.Contains(err.Error(), echoedToken) {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

func TestTokenInLabelValuesIsRedacted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("X-Auth-Token")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"images":[{"id":"i-%s","name":"named %s","status":"%s","server":{"id":"%s"}}]}`, token, token, token, token)
	}))
	defer srv.Close()
	images, err := listWithEchoedToken(t, srv.URL)
	if err != nil || len(images) != 1 {
		t.Fatalf("%d images, %v", len(images), err)
	}
	got := images[0]
	for field, value := range map[string]string{"id": got.ID, "name": got.Name, "status": got.Status, "server id": got.ServerID} {
		if strings.Contains(strings.ToLower(value), echoedToken) || !strings.Contains(value, client.Redacted) {
			t.Errorf("%s %q: want the token redacted", field, value)
		}
	}
}

// net/http's error for a malformed status line quotes the line: it may hold the token, and
// it may be as long as the server likes.
func TestMalformedStatusLineIsRedactedAndCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				fmt.Fprintf(conn, "HTTP/1.1 %s OK\r\nContent-Length: 0\r\n\r\n", req.Header.Get("X-Auth-Token")+strings.Repeat("A", 300000))
			}()
		}
	}()
	_, err = listWithEchoedToken(t, "http://"+ln.Addr().String())
	if err == nil {
		t.Fatal("the listing succeeded")
	}
	if strings.Contains(err.Error(), echoedToken) {
		t.Errorf("the token is in the error: %.300s", err)
	}
	if len(err.Error()) > 3*client.MaxErrorText {
		t.Errorf("an error of %d bytes", len(err.Error()))
	}
}

// Page after page of small images, each page within --client.max-response-bytes: the
// listing as a whole is bounded.
func TestListingIsBoundedAcrossPages(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := len(r.URL.Query().Get("marker"))
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriter(w)
		_, _ = bw.WriteString(`{"images":[`)
		for n := range 1000 {
			if n > 0 {
				_ = bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `{"id":"%s%04d","status":"A"}`, strings.Repeat("p", page%50), n)
		}
		_, _ = bw.WriteString(`],"images_links":[{"rel":"next"}]}`)
		_ = bw.Flush()
	}))
	defer srv.Close()
	const budget = 1 << 20
	c := New(&cloud.StaticToken{Token: echoedToken, ComputeEndpoint: srv.URL + "/v2.1/p"}, client.Options{MaxListingBytes: budget})
	var held int64
	err := c.EachImage(context.Background(), client.ListOptions{}, func(img client.Image) error {
		held += client.ImageBytes(img)
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "--client.max-listing-bytes") {
		t.Fatalf("error %v, want one naming --client.max-listing-bytes", err)
	}
	if held > budget {
		t.Errorf("%d bytes of images handed over, want at most %d", held, budget)
	}
}

// Two listings renew the token at once: gophercloud hands one renewal's outcome to both, so
// the renewal must not run under the deadline of the listing that asked first.
func TestShortListingDoesNotSpoilASharedRenewal(t *testing.T) {
	sim := simulator.New(simulator.Options{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	k := cloud.NewKeystone(gophercloud.AuthOptions{
		IdentityEndpoint: srv.URL + "/v3", Username: "demo", Password: "demo-secret", DomainName: "Default",
		Scope: &gophercloud.AuthScope{ProjectName: "demo", DomainName: "Default"},
	}, gophercloud.EndpointOpts{Region: "RegionOne"}, nil, client.NewHTTPClient(10*time.Second, nil))
	c := New(k, client.Options{})
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	sim.RevokeTokens() // the next page of each listing gets 401: both renew
	renewing := make(chan struct{})
	sim.SetKeystoneFaults(func(n int, _ *http.Request) simulator.Fault {
		if n == 0 {
			close(renewing)
			return simulator.Fault{Delay: time.Second} // a slow Keystone, slower than the short listing
		}
		return simulator.Fault{}
	})
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	go func() { _, _ = client.Collect(short, c, client.ListOptions{Name: "x"}) }()
	<-renewing
	long, cancelLong := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelLong()
	if _, err := client.Collect(long, c, client.ListOptions{}); err != nil {
		t.Errorf("a listing with 10 s to go failed with the renewal another listing started: %v", err)
	}
}
