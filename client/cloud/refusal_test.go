package cloud

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/simulator"
	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// listConcurrently runs n listings of c at once and returns their errors.
func listConcurrently(c client.ImageSource, n int) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = client.Collect(context.Background(), c, client.ListOptions{}) })
	}
	wg.Wait()
	return errs
}

// countTokenRequests counts every token request sim receives from now on, refused or not.
func countTokenRequests(sim *simulator.Simulator, fault simulator.Fault) *atomic.Int32 {
	var n atomic.Int32
	sim.SetKeystoneFaults(func(int, *http.Request) simulator.Fault {
		n.Add(1)
		return fault
	})
	return &n
}

// refusalsAndHolds counts the errors that are refusals and those that say nothing was sent.
func refusalsAndHolds(t *testing.T, errs []error) (refused, held int) {
	t.Helper()
	for _, err := range errs {
		var authErr *client.AuthError
		var heldBack *client.HeldBackError
		switch {
		case errors.As(err, &heldBack):
			held++
		case errors.As(err, &authErr):
			refused++
		default:
			t.Errorf("error %v: want a refusal or a hold", err)
		}
	}
	return refused, held
}

// Listings already under way when Keystone refuses the password do not send it again:
// Keystone locks a user after a few refusals in a row. After client.RefusalHold (by which
// time the collector's back-off admits new listings) the password is sent again.
func TestARefusedPasswordIsNotSentByListingsUnderWay(t *testing.T) {
	clock := simtest.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	sim, c := simulatorKeystone(t, simulator.Options{Now: clock.Now}, "wrong-secret-value")
	sent := countTokenRequests(sim, simulator.Fault{})
	refused, held := refusalsAndHolds(t, listConcurrently(c, 8))
	if n := sent.Load(); n != 1 || refused != 1 || held != 7 {
		t.Errorf("8 listings at once: %d token requests, %d refusals, %d held back; want 1, 1, 7", n, refused, held)
	}
	clock.Advance(client.RefusalHold - time.Second)
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); sent.Load() != 1 {
		t.Errorf("within the hold: %d token requests (%v); want still 1", sent.Load(), err)
	}
	clock.Advance(time.Second)
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); sent.Load() != 2 {
		t.Errorf("after the hold: %d token requests (%v); want 2", sent.Load(), err)
	}
}

// A token renewal that Keystone refuses is not tried again by the other listings that
// found their token refused at the same time.
func TestARefusedRenewalIsNotSentAgain(t *testing.T) {
	sim, c := simulatorKeystone(t, simulator.Options{}, "demo-secret")
	if _, err := client.Collect(context.Background(), c, client.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	sent := countTokenRequests(sim, simulator.Fault{Status: http.StatusUnauthorized})
	sim.RevokeTokens()
	refused, held := refusalsAndHolds(t, listConcurrently(c, 8))
	if n := sent.Load(); n != 1 || refused != 1 || held != 7 {
		t.Errorf("8 listings whose token was revoked: %d renewals sent, %d refusals, %d held back; want 1, 1, 7", n, refused, held)
	}
}

// A signature the gateway refused holds the access key back: the listings under way sign
// no more requests with it until client.RefusalHold has passed.
func TestARefusedSignatureIsNotSentAgain(t *testing.T) {
	clock := simtest.NewClock(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	auth := &AKSK{AccessKey: "AK", SecretKey: "SK", ProjectID: "p1", Now: clock.Now}
	if err := auth.Renew(context.Background(), "AK"); err == nil {
		t.Fatal("Renew of a refused signature succeeded")
	}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "https://ecs.example/v2.1/p1/images/detail", nil)
	var heldBack *client.HeldBackError
	if _, err := auth.Authorize(context.Background(), req, nil); !errors.As(err, &heldBack) || req.Header.Get("Authorization") != "" {
		t.Errorf("within the hold: %v, Authorization %q; want held back, unsigned", err, req.Header.Get("Authorization"))
	}
	clock.Advance(client.RefusalHold)
	if _, err := auth.Authorize(context.Background(), req, nil); err != nil || req.Header.Get("Authorization") == "" {
		t.Errorf("after the hold: %v; want signed", err)
	}
}
