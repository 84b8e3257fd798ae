package simtest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 28, 20, 0, 0, 0, time.UTC)

func TestClockMovesOnlyWhenAdvanced(t *testing.T) {
	c := NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now %v, want %v", got, start)
	}
	c.Advance(90 * time.Second)
	c.Advance(-30 * time.Second)
	if got, want := c.Now(), start.Add(time.Minute); !got.Equal(want) {
		t.Errorf("Now %v, want %v", got, want)
	}
}

func TestCertificatesAreValidOnTheCAClock(t *testing.T) {
	clock := NewClock(start)
	ca, err := NewCA(clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(ca.CertPEM())
	caCert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	certPEM, keyPEM, err := ca.IssueClientCert("exporter")
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if caCert.NotBefore.After(start) || !caCert.NotAfter.Equal(start.Add(24*time.Hour)) {
		t.Errorf("CA certificate valid %v to %v, want from %v for a day", caCert.NotBefore, caCert.NotAfter, start)
	}
	if from := leaf.Leaf.NotBefore; !from.After(start) || from.After(start.Add(time.Hour)) {
		t.Errorf("client certificate valid from %v, want from the clock's time an hour after %v", from, start)
	}
	if leaf.Leaf.NotAfter.After(caCert.NotAfter) {
		t.Errorf("client certificate outlives the CA: %v > %v", leaf.Leaf.NotAfter, caCert.NotAfter)
	}
}
