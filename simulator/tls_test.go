package simulator

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// tlsClient returns an HTTP client trusting caPEM (nil: the system roots)
// and presenting the given client certificate, if any.
func tlsClient(t *testing.T, caPEM, certPEM, keyPEM []byte) *http.Client {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			t.Fatal("CertPEM holds no certificate")
		}
		cfg.RootCAs = pool
	}
	if certPEM != nil {
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func startTLS(t *testing.T, ca *simtest.CA, requireClientCert bool) (*Simulator, *httptest.Server) {
	t.Helper()
	sim := New(Options{Images: DefaultImages(testNow)})
	cfg, err := ca.ServerTLSConfig(requireClientCert)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return sim, srv
}

func getImages(client *http.Client, u, tok string) (int, error) {
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Auth-Token", tok)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, nil
}

func TestTLSServer(t *testing.T) {
	ca, err := simtest.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := simtest.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(ca.CertPEM()), "-----BEGIN CERTIFICATE-----\n") {
		t.Fatalf("CertPEM %q", ca.CertPEM())
	}
	sim, srv := startTLS(t, ca, false)
	tok := sim.IssueToken()
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", srv.URL)
	}
	port := srv.URL[strings.LastIndexByte(srv.URL, ':'):]

	// Trusting the CA works by IP and by name.
	for _, u := range []string{srv.URL, "https://localhost" + port} {
		code, err := getImages(tlsClient(t, ca.CertPEM(), nil, nil), u+"/v2.1/"+proj+"/images/detail", tok)
		if err != nil || code != 200 {
			t.Errorf("%s: %d %v", u, code, err)
		}
	}
	// Not trusting it fails verification.
	for _, caPEM := range [][]byte{nil, other.CertPEM()} {
		_, err := getImages(tlsClient(t, caPEM, nil, nil), srv.URL+"/v2.1/images/detail", tok)
		var uerr x509.UnknownAuthorityError
		if !errors.As(err, &uerr) {
			t.Errorf("untrusted CA: err %v, want x509.UnknownAuthorityError", err)
		}
	}
	// Keystone reports https endpoints in the catalog.
	r, err := tlsClient(t, ca.CertPEM(), nil, nil).Post(srv.URL+"/v3/auth/tokens", "application/json", strings.NewReader(
		`{"auth":{"identity":{"methods":["password"],"password":{"user":{"id":"`+userID+`","password":"demo-secret"}}},"scope":{"project":{"id":"`+proj+`"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 201 {
		t.Errorf("token over TLS: %d", r.StatusCode)
	}
}

func TestTLSClientCertificates(t *testing.T) {
	ca, err := simtest.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := simtest.NewCA(nil)
	if err != nil {
		t.Fatal(err)
	}
	sim, srv := startTLS(t, ca, true)
	tok := sim.IssueToken()
	u := srv.URL + "/v2.1/" + proj + "/images/detail"

	certPEM, keyPEM, err := ca.IssueClientCert("nova-image-exporter")
	if err != nil {
		t.Fatal(err)
	}
	code, err := getImages(tlsClient(t, ca.CertPEM(), certPEM, keyPEM), u, tok)
	if err != nil || code != 200 {
		t.Errorf("with client cert: %d %v", code, err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if leaf := cert.Leaf; leaf == nil || leaf.Subject.CommonName != "nova-image-exporter" ||
		len(leaf.ExtKeyUsage) != 1 || leaf.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("client certificate %+v", cert.Leaf)
	}

	// Without a client certificate, or with one from another CA, the
	// handshake is refused.
	if _, err := getImages(tlsClient(t, ca.CertPEM(), nil, nil), u, tok); err == nil {
		t.Errorf("no client cert: request succeeded")
	}
	otherCert, otherKey, err := other.IssueClientCert("intruder")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := getImages(tlsClient(t, ca.CertPEM(), otherCert, otherKey), u, tok); err == nil {
		t.Errorf("foreign client cert: request succeeded")
	}
	// A client not trusting the CA fails verification first.
	_, err = getImages(tlsClient(t, other.CertPEM(), certPEM, keyPEM), u, tok)
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) {
		t.Errorf("untrusted server: err %v", err)
	}
	if _, _, err := ca.IssueClientCert(""); err == nil {
		t.Errorf("empty common name accepted")
	}
}
