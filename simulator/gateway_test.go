package simulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator/simtest"
)

// ---------------------------------------------------------------- the verifier's signing function

func TestSDKSignatureVectors(t *testing.T) {
	t.Run("huawei sdk unit test", func(t *testing.T) {
		r := httptest.NewRequest("GET", "https://example.huaweicloud.com/path?limit=1", nil)
		r.Header.Set("X-Sdk-Date", "20060102T150405Z")
		r.Header.Set("TEST_UNDERSCORE", "TEST_VALUE")
		got := sdkRequestSignature(r, "SecretKey", []string{"x-sdk-date"}, nil)
		if want := "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("signing guide", func(t *testing.T) {
		r := httptest.NewRequest("GET", "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0", nil)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Sdk-Date", "20191115T033655Z")
		if r.Host != "service.region.example.com" {
			t.Fatalf("host %q", r.Host)
		}
		got := sdkRequestSignature(r, "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", []string{"content-type", "host", "x-sdk-date"}, nil)
		if want := "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"; got != want {
			t.Errorf("signature %s, want %s", got, want)
		}
	})
	t.Run("canonical request layout", func(t *testing.T) {
		h := http.Header{}
		h.Set("X-Sdk-Date", "20060102T150405Z")
		got := sdkCanonicalRequest("GET", "/path", "limit=1", "example.huaweicloud.com", h, []string{"x-sdk-date"},
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
		// The header block ends with its own newline, then the field separator:
		// a blank line before SignedHeaders.
		want := "GET\n/path/\nlimit=1\nx-sdk-date:20060102T150405Z\n\nx-sdk-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		if got != want {
			t.Errorf("canonical request\n%q\nwant\n%q", got, want)
		}
	})
}

func TestSDKCanonicalParts(t *testing.T) {
	uris := map[string]string{
		"":                         "/",
		"/":                        "/",
		"/v2.1/p/images/detail":    "/v2.1/p/images/detail/",
		"/a%20b/c+d/%E5%90%8D/x~y": "/a%20b/c%2Bd/%E5%90%8D/x~y/",
		"/a:b@c/":                  "/a%3Ab%40c/",
	}
	for in, want := range uris {
		if got := sdkCanonicalURI(in); got != want {
			t.Errorf("CanonicalURI(%q) = %q, want %q", in, got, want)
		}
	}
	queries := map[string]string{
		"":                       "",
		"limit=1":                "limit=1",
		"b=2&a=1&b=1":            "a=1&b=1&b=2",
		"name=a+b&x=a%20b":       "name=a%20b&x=a%20b",
		"k=%E5%90%8D&flag":       "flag=&k=%E5%90%8D",
		"q=a%2Fb%3Dc%26d~e*f'g!": "q=a%2Fb%3Dc%26d~e%2Af%27g%21",
	}
	for in, want := range queries {
		if got := sdkCanonicalQuery(in); got != want {
			t.Errorf("CanonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

// ---------------------------------------------------------------- test client

// sdkEnc is the test's own encoder (independent of sdkEscape).
func sdkEnc(s string) string {
	const unreserved = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
	var b strings.Builder
	for _, c := range []byte(s) {
		if strings.IndexByte(unreserved, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// signAKSK signs req as Huawei's SDK does, signing the named headers
// (host is req.URL.Host). It sets X-Sdk-Date from date.
func signAKSK(t testing.TB, req *http.Request, ak, sk string, date time.Time, signed ...string) {
	t.Helper()
	req.Header.Set("X-Sdk-Date", date.UTC().Format("20060102T150405Z"))
	slices.Sort(signed)
	var segs []string
	for _, seg := range strings.Split(req.URL.EscapedPath(), "/") {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			t.Fatal(err)
		}
		segs = append(segs, sdkEnc(dec))
	}
	uri := strings.Join(segs, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	q, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, sdkEnc(k)+"="+sdkEnc(v))
		}
	}
	slices.Sort(pairs)
	var hdrs string
	for _, h := range signed {
		v := req.Header.Get(h)
		if h == "host" {
			v = req.URL.Host
		}
		hdrs += h + ":" + strings.TrimSpace(v) + "\n"
	}
	var body []byte
	if req.GetBody != nil {
		rc, _ := req.GetBody()
		body, _ = io.ReadAll(rc)
	}
	bh := sha256.Sum256(body)
	creq := strings.Join([]string{req.Method, uri, strings.Join(pairs, "&"), hdrs, strings.Join(signed, ";"), hex.EncodeToString(bh[:])}, "\n")
	ch := sha256.Sum256([]byte(creq))
	mac := hmac.New(sha256.New, []byte(sk))
	mac.Write([]byte("SDK-HMAC-SHA256\n" + req.Header.Get("X-Sdk-Date") + "\n" + hex.EncodeToString(ch[:])))
	req.Header.Set("Authorization", "SDK-HMAC-SHA256 Access="+ak+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+hex.EncodeToString(mac.Sum(nil)))
}

func send(t testing.TB, req *http.Request) response {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

const (
	testAK     = "HPUAEXAMPLEACCESSKEY"
	testSK     = "exampleSecretKeyexampleSecretKey0123456"
	testTempAK = "HSTAEXAMPLETEMPORARY"
	testTempSK = "temporarySecretKey0123456789"
	testSTS    = "gQpjbi1ub3J0aC00temporarySecurityToken=="
)

func akskOptions(clock *simtest.Clock) Options {
	return Options{
		AccessKeys: []AccessKey{{AK: testAK, SK: testSK}, {AK: testTempAK, SK: testTempSK, SecurityToken: testSTS}},
		Now:        clock.Now,
	}
}

// akskRequest returns a GET of rawURL with X-Project-Id set, signed with
// host, x-project-id and x-sdk-date at the clock's time.
func akskRequest(t testing.TB, rawURL string, clock *simtest.Clock) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Project-Id", proj)
	signAKSK(t, req, testAK, testSK, clock.Now(), "host", "x-project-id", "x-sdk-date")
	return req
}

var apigwRequestIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkAPIGW0301 asserts r is the gateway's APIGW.0301 answer.
func checkAPIGW0301(t testing.TB, r response, reasonPart string) {
	t.Helper()
	if r.code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401: %s", r.code, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var e struct {
		ErrorMsg  string `json:"error_msg"`
		ErrorCode string `json:"error_code"`
		RequestID string `json:"request_id"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	if !strings.HasPrefix(string(r.body), `{"error_msg": "Incorrect IAM authentication information: `) {
		t.Errorf("body %s", r.body)
	}
	if e.ErrorCode != "APIGW.0301" || !apigwRequestIDRE.MatchString(e.RequestID) {
		t.Errorf("error %+v", e)
	}
	if !strings.Contains(e.ErrorMsg, reasonPart) {
		t.Errorf("error_msg %q does not mention %q", e.ErrorMsg, reasonPart)
	}
	if r.header.Get("x-openstack-request-id") != "" {
		t.Errorf("the gateway answered with Nova's request id")
	}
}

// ---------------------------------------------------------------- gateway behaviour

func TestAKSKAccepted(t *testing.T) {
	clock := simtest.NewClock(testNow)
	sim, srv, _ := newTest(t, akskOptions(clock))
	for _, path := range []string{"/v2.1/" + proj + "/images/detail", "/v2.1/images/detail"} {
		r := send(t, akskRequest(t, srv.URL+path+"?limit=3&status=active", clock))
		if got := len(decodePage(t, r).Images); got != 3 {
			t.Errorf("%s: %d images", path, got)
		}
		if r.header.Get("x-openstack-request-id") == "" || r.header.Get("OpenStack-API-Version") != "compute 2.1" {
			t.Errorf("Nova headers missing: %v", r.header)
		}
	}
	// A date within the 15 minutes in either direction is accepted.
	for _, d := range []time.Duration{-14 * time.Minute, 14 * time.Minute} {
		req, _ := http.NewRequest("GET", srv.URL+"/v2.1/"+proj+"/images/detail", nil)
		req.Header.Set("X-Project-Id", proj)
		signAKSK(t, req, testAK, testSK, clock.Now().Add(d), "host", "x-project-id", "x-sdk-date")
		if r := send(t, req); r.code != 200 {
			t.Errorf("date off by %v: %d %s", d, r.code, r.body)
		}
	}
	// Extra signed headers (User-Agent, a body hash of a HEAD) are fine.
	req, _ := http.NewRequest("HEAD", srv.URL+"/v2.1/"+proj+"/images/detail", nil)
	req.Header.Set("X-Project-Id", proj)
	req.Header.Set("User-Agent", "nova-image-exporter/test  ")
	signAKSK(t, req, testAK, testSK, clock.Now(), "host", "user-agent", "x-project-id", "x-sdk-date")
	if r := send(t, req); r.code != 200 {
		t.Errorf("HEAD with user-agent signed: %d", r.code)
	}

	reqs := sim.Requests()
	if len(reqs) != 5 {
		t.Fatalf("%d requests recorded", len(reqs))
	}
	if !strings.HasPrefix(reqs[0].Header.Get("Authorization"), "SDK-HMAC-SHA256 Access="+testAK+", ") {
		t.Errorf("recorded Authorization %q", reqs[0].Header.Get("Authorization"))
	}
	if n := sim.SignatureFailures(testAK); n != 0 {
		t.Errorf("SignatureFailures = %d", n)
	}
}

func TestAKSKLikeAToken(t *testing.T) {
	clock := simtest.NewClock(testNow)
	sim, srv, _ := newTest(t, akskOptions(clock))
	// Microversions are checked as for a token.
	req := akskRequest(t, srv.URL+"/v2.1/"+proj+"/images/detail", clock)
	req.Header.Set("X-OpenStack-Nova-API-Version", "2.36")
	if r := send(t, req); r.code != 404 || !strings.Contains(string(r.body), "itemNotFound") {
		t.Errorf("2.36: %d %s", r.code, r.body)
	}
	// Fault injection applies after a valid signature, not before.
	calls := 0
	sim.SetFaults(func(int, *http.Request) Fault {
		calls++
		return Fault{Status: http.StatusServiceUnavailable}
	})
	if r := send(t, akskRequest(t, srv.URL+"/v2.1/"+proj+"/images/detail", clock)); r.code != 503 {
		t.Errorf("fault: %d", r.code)
	}
	bad := akskRequest(t, srv.URL+"/v2.1/"+proj+"/images/detail", clock)
	bad.Header.Set("X-Sdk-Date", clock.Now().Add(time.Second).Format("20060102T150405Z"))
	checkAPIGW0301(t, send(t, bad), "signature")
	if calls != 1 {
		t.Errorf("fault called %d times", calls)
	}
	sim.SetFaults(nil)
	// A path project other than the simulator's, correctly signed with the
	// same X-Project-Id, reaches Nova, which refuses the mismatch.
	other := "ffffffffffffffffffffffffffffffff"
	req, _ = http.NewRequest("GET", srv.URL+"/v2.1/"+other+"/images/detail", nil)
	req.Header.Set("X-Project-Id", other)
	signAKSK(t, req, testAK, testSK, clock.Now(), "host", "x-project-id", "x-sdk-date")
	if r := send(t, req); r.code != 400 || !strings.Contains(string(r.body), "doesn't match Context's project_id") {
		t.Errorf("other project: %d %s", r.code, r.body)
	}
}

func TestAKSKUnicodeNameFilter(t *testing.T) {
	clock := simtest.NewClock(testNow)
	_, srv, _ := newTest(t, akskOptions(clock))
	// Go's query encoder writes spaces as "+"; Huawei's SDK signs them as
	// %20 and sends %20 too. Both must verify.
	pct := strings.ReplaceAll(url.QueryEscape(DefaultUnicodeName), "+", "%20")
	if !strings.Contains(pct, "%20") || strings.Contains(pct, "+") {
		t.Fatalf("query %q", pct)
	}
	for _, rawQuery := range []string{"name=" + pct, "name=" + url.QueryEscape(DefaultUnicodeName), "name=" + pct + "&limit=5"} {
		r := send(t, akskRequest(t, srv.URL+"/v2.1/"+proj+"/images/detail?"+rawQuery, clock))
		p := decodePage(t, r)
		if !slices.Equal(p.ids(), []string{DefaultIDUnicode}) {
			t.Errorf("%s: ids %v", rawQuery, p.ids())
		}
	}
	// A path segment with a space and non-ASCII is decoded and re-encoded
	// per segment: the signature verifies and Nova sees the mismatch.
	odd := "a b\u00fc+c"
	req, _ := http.NewRequest("GET", srv.URL+"/v2.1/"+url.PathEscape(odd)+"/images/detail", nil)
	req.Header.Set("X-Project-Id", odd)
	signAKSK(t, req, testAK, testSK, clock.Now(), "host", "x-project-id", "x-sdk-date")
	if r := send(t, req); r.code != 400 || !strings.Contains(string(r.body), "doesn't match") {
		t.Errorf("odd project path, correctly signed: %d %s", r.code, r.body)
	}
}

func TestAKSKRejected(t *testing.T) {
	detail := "/v2.1/" + proj + "/images/detail"
	tests := []struct {
		name   string
		path   string
		reason string
		req    func(t *testing.T, u string, clock *simtest.Clock) *http.Request
	}{
		{"unknown access key", detail, "access key does not exist", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, "UNKNOWNAK", testSK, c.Now(), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"malformed authorization, no signature", detail, "malformed", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			a, _, ok := strings.Cut(req.Header.Get("Authorization"), ", Signature=")
			if !ok {
				t.Fatalf("Authorization %q", req.Header.Get("Authorization"))
			}
			req.Header.Set("Authorization", a)
			return req
		}},
		{"malformed authorization, unknown field", detail, "malformed", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			req.Header.Set("Authorization", req.Header.Get("Authorization")+", Foo=bar")
			return req
		}},
		{"malformed authorization, no access", detail, "malformed", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			req.Header.Set("Authorization", "SDK-HMAC-SHA256 garbage")
			return req
		}},
		{"signature not hex", detail, "signature", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			a := req.Header.Get("Authorization")
			req.Header.Set("Authorization", a[:len(a)-1]+"z")
			return req
		}},
		{"missing X-Sdk-Date", detail, "X-Sdk-Date", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			req.Header.Del("X-Sdk-Date")
			return req
		}},
		{"unparsable X-Sdk-Date", detail, "X-Sdk-Date", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			req.Header.Set("X-Sdk-Date", c.Now().Format(time.RFC3339))
			return req
		}},
		{"date 16 minutes behind", detail, "15 minutes", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testAK, testSK, c.Now().Add(-16*time.Minute), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"date 16 minutes ahead", detail, "15 minutes", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testAK, testSK, c.Now().Add(16*time.Minute), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"host not signed", detail, "host", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testAK, testSK, c.Now(), "x-project-id", "x-sdk-date")
			return req
		}},
		{"x-sdk-date not signed", detail, "x-sdk-date", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testAK, testSK, c.Now(), "host", "x-project-id")
			return req
		}},
		{"X-Project-Id missing", detail, "X-Project-Id", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			signAKSK(t, req, testAK, testSK, c.Now(), "host", "x-sdk-date")
			return req
		}},
		{"X-Project-Id not signed", detail, "X-Project-Id", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testAK, testSK, c.Now(), "host", "x-sdk-date")
			return req
		}},
		{"X-Project-Id differs from the path", detail, "X-Project-Id", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
			signAKSK(t, req, testAK, testSK, c.Now(), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"X-Project-Id not the simulator's project, path without project", "/v2.1/images/detail", "X-Project-Id", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", "ffffffffffffffffffffffffffffffff")
			signAKSK(t, req, testAK, testSK, c.Now(), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"wrong secret key", detail, "signature", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testAK, "not-the-secret", c.Now(), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"query changed after signing", detail, "signature", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u+"?limit=1", c)
			req.URL.RawQuery = "limit=2"
			return req
		}},
		{"signed header changed after signing", detail, "signature", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			req.Header.Set("User-Agent", "a")
			signAKSK(t, req, testAK, testSK, c.Now(), "host", "user-agent", "x-project-id", "x-sdk-date")
			req.Header.Set("User-Agent", "b")
			return req
		}},
		{"signed for another host", detail, "signature", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req := akskRequest(t, u, c)
			req.Host = "ecs.cn-north-4.myhuaweicloud.com"
			return req
		}},
		{"temporary key without security token", detail, "X-Security-Token", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			signAKSK(t, req, testTempAK, testTempSK, c.Now(), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"temporary key, security token not signed", detail, "X-Security-Token", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			req.Header.Set("X-Security-Token", testSTS)
			signAKSK(t, req, testTempAK, testTempSK, c.Now(), "host", "x-project-id", "x-sdk-date")
			return req
		}},
		{"temporary key, wrong security token", detail, "security token", func(t *testing.T, u string, c *simtest.Clock) *http.Request {
			req, _ := http.NewRequest("GET", u, nil)
			req.Header.Set("X-Project-Id", proj)
			req.Header.Set("X-Security-Token", testSTS+"x")
			signAKSK(t, req, testTempAK, testTempSK, c.Now(), "host", "x-project-id", "x-sdk-date", "x-security-token")
			return req
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := simtest.NewClock(testNow)
			sim, srv, _ := newTest(t, akskOptions(clock))
			req := tc.req(t, srv.URL+tc.path, clock)
			checkAPIGW0301(t, send(t, req), tc.reason)
			if n := len(sim.Requests()); n != 1 {
				t.Errorf("%d requests recorded", n)
			}
			auth, _ := parseSDKAuthorization(req.Header.Get("Authorization"))
			if auth.access != "" {
				if n := sim.SignatureFailures(auth.access); n != 1 {
					t.Errorf("SignatureFailures(%q) = %d", auth.access, n)
				}
			}
		})
	}
}

func TestAKSKTemporaryKey(t *testing.T) {
	clock := simtest.NewClock(testNow)
	sim, srv, _ := newTest(t, akskOptions(clock))
	req, _ := http.NewRequest("GET", srv.URL+"/v2.1/"+proj+"/images/detail", nil)
	req.Header.Set("X-Project-Id", proj)
	req.Header.Set("X-Security-Token", testSTS)
	signAKSK(t, req, testTempAK, testTempSK, clock.Now(), "host", "x-project-id", "x-sdk-date", "x-security-token")
	if got := len(decodePage(t, send(t, req)).Images); got != len(DefaultImages(testNow)) {
		t.Errorf("%d images", got)
	}
	// The same request without the token (re-signed) is refused.
	req.Header.Del("X-Security-Token")
	signAKSK(t, req, testTempAK, testTempSK, clock.Now(), "host", "x-project-id", "x-sdk-date")
	checkAPIGW0301(t, send(t, req), "X-Security-Token")
	if n := sim.SignatureFailures(testTempAK); n != 1 {
		t.Errorf("SignatureFailures = %d", n)
	}
}

func TestAKSKLockout(t *testing.T) {
	clock := simtest.NewClock(testNow)
	sim, srv, _ := newTest(t, akskOptions(clock))
	u := srv.URL + "/v2.1/" + proj + "/images/detail"
	badReq := func() *http.Request {
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("X-Project-Id", proj)
		signAKSK(t, req, testAK, "wrong", clock.Now(), "host", "x-project-id", "x-sdk-date")
		return req
	}
	// A success resets the consecutive count.
	for range 4 {
		checkAPIGW0301(t, send(t, badReq()), "signature")
	}
	if r := send(t, akskRequest(t, u, clock)); r.code != 200 {
		t.Fatalf("good request after 4 failures: %d %s", r.code, r.body)
	}
	for range 4 {
		checkAPIGW0301(t, send(t, badReq()), "signature")
	}
	if r := send(t, akskRequest(t, u, clock)); r.code != 200 {
		t.Fatalf("good request after 4 more failures: %d %s", r.code, r.body)
	}
	if n := sim.SignatureFailures(testAK); n != 8 {
		t.Errorf("SignatureFailures = %d, want 8", n)
	}
	// Five in a row lock the key: even a correct signature is refused.
	for range 5 {
		checkAPIGW0301(t, send(t, badReq()), "signature")
	}
	checkAPIGW0301(t, send(t, akskRequest(t, u, clock)), "locked")
	clock.Advance(4*time.Minute + 59*time.Second)
	checkAPIGW0301(t, send(t, akskRequest(t, u, clock)), "locked")
	if n := sim.SignatureFailures(testAK); n != 15 {
		t.Errorf("SignatureFailures = %d, want 15", n)
	}
	// Other keys are not affected.
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("X-Project-Id", proj)
	req.Header.Set("X-Security-Token", testSTS)
	signAKSK(t, req, testTempAK, testTempSK, clock.Now(), "host", "x-project-id", "x-sdk-date", "x-security-token")
	if r := send(t, req); r.code != 200 {
		t.Errorf("other key: %d %s", r.code, r.body)
	}
	// Five minutes after the lock the key works again.
	clock.Advance(time.Second)
	if r := send(t, akskRequest(t, u, clock)); r.code != 200 {
		t.Errorf("after the lock: %d %s", r.code, r.body)
	}
	if n := sim.SignatureFailures("never-used"); n != 0 {
		t.Errorf("SignatureFailures(unused) = %d", n)
	}
}

func TestAKSKTokenStillWorks(t *testing.T) {
	clock := simtest.NewClock(testNow)
	_, srv, tok := newTest(t, akskOptions(clock))
	// Without an SDK-HMAC-SHA256 Authorization the X-Auth-Token is used.
	r := do(t, "GET", srv.URL+"/v2.1/"+proj+"/images/detail", tok, map[string]string{"Authorization": "Bearer x"}, "")
	if r.code != 200 {
		t.Errorf("token with another Authorization scheme: %d", r.code)
	}
	// With one, a valid token does not rescue a bad signature.
	req := akskRequest(t, srv.URL+"/v2.1/"+proj+"/images/detail?limit=1", clock)
	req.URL.RawQuery = "limit=2"
	req.Header.Set("X-Auth-Token", tok)
	checkAPIGW0301(t, send(t, req), "signature")
}
