package paging

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

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/cloud"
)

// echoedToken is a pre-issued token as short as Keystone's UUID tokens: 32 hex characters,
// short enough to pass whole through any cut at 64 characters.
const echoedToken = "0123456789abcdef0123456789abcdef"

func listWithEchoedToken(t *testing.T, endpoint string) ([]client.Image, error) {
	t.Helper()
	c := newLister(&cloud.StaticToken{Token: echoedToken, ComputeEndpoint: endpoint + "/v2.1/p"}, client.Options{RequestTimeout: 5 * time.Second})
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
