package client

import "testing"

func TestRenewalsAllowOneExpiryRenewalPerListing(t *testing.T) {
	var renewals Renewals
	if !renewals.ClaimExpiry() {
		t.Fatal("the first claim was refused, want it allowed")
	}
	for range 3 {
		if renewals.ClaimExpiry() {
			t.Fatal("a second claim in the same listing was allowed, want it refused")
		}
	}
	var noListing *Renewals
	for range 2 {
		if !noListing.ClaimExpiry() {
			t.Fatal("a claim of no listing was refused, want every one allowed")
		}
	}
}
