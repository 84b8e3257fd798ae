// Package clienttest holds what the tests of the image API clients (client/paging,
// client/nova, client/glance, client/ims) and of client/cloud share: a fake authenticator,
// a scripted server that records the requests it answers, hostile answers streamed without
// being held with the check that handling them stays bounded, and the comparison of images
// listed. It is not part of the exporter.
package clienttest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Auth is an authenticator (a client.Authenticator) with one endpoint, URL, for every
// service: it sends Token as X-Auth-Token, and Renew replaces a refused token with the same
// followed by "-renewed", or fails with RenewErr.
type Auth struct {
	URL   string
	Token string
	// Password is a secret the authenticator holds and never sends: Secrets returns it.
	Password string
	RenewErr error

	mu       sync.Mutex // guards Token and renewals while a listing runs
	renewals int
}

// ErrCannotRenew is a RenewErr: the credential cannot be renewed.
var ErrCannotRenew = errors.New("cannot renew")

// Endpoint returns URL.
func (a *Auth) Endpoint(context.Context, string) (string, error) { return a.URL, nil }

// Authorize sends the token; it is also the credential.
func (a *Auth) Authorize(_ context.Context, req *http.Request, _ *client.Renewals) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	req.Header.Set("X-Auth-Token", a.Token)
	return a.Token, nil
}

// Renew counts the renewal and fails with RenewErr, or replaces the token.
func (a *Auth) Renew(_ context.Context, refused string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.renewals++
	if a.RenewErr != nil {
		return a.RenewErr
	}
	a.Token = refused + "-renewed"
	return nil
}

// Renewals is how often Renew was called.
func (a *Auth) Renewals() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.renewals
}

// Secrets returns the password.
func (a *Auth) Secrets() []string { return []string{a.Password} }

// Answer is a Server's answer to its request number n (from 0): a status, headers, and a
// body, sent as application/json unless header names another Content-Type.
type Answer func(n int, r *http.Request) (status int, header http.Header, body string)

// Server is a scripted API server: it answers each request with its Answer and records it.
type Server struct {
	URL      string
	mu       sync.Mutex
	answer   Answer
	requests []*http.Request
}

// NewServer starts a Server answering with answer, closed when t ends.
func NewServer(t testing.TB, answer Answer) *Server {
	t.Helper()
	s := &Server{answer: answer}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// ServeHTTP records r and answers it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n, answer := len(s.requests), s.answer
	s.requests = append(s.requests, r.Clone(r.Context()))
	s.mu.Unlock()
	status, header, body := answer(n, r)
	for k, v := range header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// SetAnswer answers the requests from now on with answer.
func (s *Server) SetAnswer(answer Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// Requests are the requests answered so far, in order.
func (s *Server) Requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

// OK is a 200 with body.
func OK(body string) (int, http.Header, string) { return http.StatusOK, nil, body }

// VendorAnswer is one of the vendors' published answers, recorded in
// simulator/testdata/vendor, read from the test of a package two levels below the module's
// root (client/glance, client/ims).
func VendorAnswer(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../simulator/testdata/vendor/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
