package simulator

// The gateway's signature check is written apart from the client's signing (client/cloud/aksk.go),
// on purpose: a verifier sharing the signer's code would share its mistakes. Both are held
// to Huawei's public test vectors.

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// AccessKey is a Huawei access key pair; a temporary key also has a SecurityToken that requests must send as X-Security-Token.
type AccessKey struct {
	// AK is the access key id, sent in the Authorization header.
	AK string
	// SK is the secret key the request is signed with.
	SK string
	// SecurityToken, when non-empty, marks a temporary key: requests must
	// send it, signed, as X-Security-Token.
	SecurityToken string
}

const (
	// sdkAlgorithm is the Authorization scheme of Huawei's AK/SK signing.
	sdkAlgorithm = "SDK-HMAC-SHA256"
	// sdkDateFormat is the layout of X-Sdk-Date.
	sdkDateFormat = "20060102T150405Z"
	// sdkMaxSkew is how far X-Sdk-Date may be from the gateway's clock.
	sdkMaxSkew = 15 * time.Minute
	// akMaxFailures consecutive failures lock an AK for akLockDuration.
	akMaxFailures  = 5
	akLockDuration = 5 * time.Minute
	// akMaxStates bounds the number of AKs (known or not) whose failures are tracked.
	akMaxStates = 10000
	// maxSignedBody bounds the request body read to hash it.
	maxSignedBody = 1 << 20
)

// akState is the failure record of one AK.
type akState struct {
	consecutive int
	total       int
	lockedUntil time.Time
}

// SignatureFailures returns how many images/detail requests naming ak in
// an SDK-HMAC-SHA256 Authorization header were rejected with APIGW.0301
// (bad signature, clock skew, missing headers, ..., and requests refused
// while the key was locked), since the simulator started.
func (s *Simulator) SignatureFailures(ak string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if st := s.akStates[ak]; st != nil {
		return st.total
	}
	return 0
}

// isAKSKRequest reports whether r is authenticated by AK/SK signing.
func isAKSKRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), sdkAlgorithm+" ")
}

// apigwUnauthorized writes the API gateway's APIGW.0301 answer.
func apigwUnauthorized(w http.ResponseWriter, reason string) {
	var id [16]byte
	_, _ = rand.Read(id[:])
	reqID := hex.EncodeToString(id[:])
	b := []byte(`{"error_msg": `)
	b = appendPyString(b, "Incorrect IAM authentication information: "+reason)
	b = append(b, `, "error_code": "APIGW.0301", "request_id": "`...)
	b = append(b, reqID...)
	b = append(b, `"}`...)
	w.Header().Set("X-Request-Id", reqID)
	writeRaw(w, http.StatusUnauthorized, "application/json", b)
}

// sdkAuthorization is a parsed SDK-HMAC-SHA256 Authorization header.
type sdkAuthorization struct {
	access        string
	signedHeaders string
	signature     string
}

// parseSDKAuthorization parses
// "SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>".
// It returns the parsed fields and whether all three were present; access
// is filled in even when the header is otherwise malformed.
func parseSDKAuthorization(v string) (sdkAuthorization, bool) {
	var a sdkAuthorization
	rest, ok := strings.CutPrefix(v, sdkAlgorithm+" ")
	if !ok {
		return a, false
	}
	valid := true
	seen := map[string]bool{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			valid = false
			continue
		}
		seen[k] = true
		switch k {
		case "Access":
			a.access = val
		case "SignedHeaders":
			a.signedHeaders = val
		case "Signature":
			a.signature = val
		default:
			valid = false
		}
	}
	return a, valid && a.access != "" && a.signedHeaders != "" && a.signature != ""
}

// findAccessKey returns the configured key with the given AK, or nil.
func (s *Simulator) findAccessKey(ak string) *AccessKey {
	for i := range s.opts.AccessKeys {
		if s.opts.AccessKeys[i].AK == ak {
			return &s.opts.AccessKeys[i]
		}
	}
	return nil
}

// akLocked reports whether ak is locked at now; if so the rejection counts
// as a failure (without extending the lock).
func (s *Simulator) akLocked(ak string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.akStates[ak]
	if st == nil || !now.Before(st.lockedUntil) {
		return false
	}
	st.total++
	return true
}

// akResult records the outcome of a checked request for ak.
func (s *Simulator) akResult(ak string, ok bool, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.akStates[ak]
	if st == nil {
		if ok || len(s.akStates) >= akMaxStates {
			return
		}
		st = &akState{}
		s.akStates[ak] = st
	}
	if ok {
		st.consecutive = 0
		return
	}
	st.total++
	st.consecutive++
	if st.consecutive >= akMaxFailures {
		st.consecutive = 0
		st.lockedUntil = now.Add(akLockDuration)
	}
}

// verifyAKSK checks r as Huawei's API gateway does and returns "" when it
// is correctly signed, else the reason for the 401.
func (s *Simulator) verifyAKSK(r *http.Request, pathProject string) string {
	auth, ok := parseSDKAuthorization(r.Header.Get("Authorization"))
	if auth.access == "" {
		return "the Authorization header is malformed"
	}
	now := s.now()
	if s.akLocked(auth.access, now) {
		return "the access key is locked after too many failed authentication attempts"
	}
	reason := s.checkAKSK(r, auth, ok, pathProject, now)
	s.akResult(auth.access, reason == "", now)
	return reason
}

func (s *Simulator) checkAKSK(r *http.Request, auth sdkAuthorization, wellFormed bool, pathProject string, now time.Time) string {
	if !wellFormed {
		return "the Authorization header is malformed"
	}
	key := s.findAccessKey(auth.access)
	if key == nil {
		return "the access key does not exist"
	}
	rawDate := r.Header.Get("X-Sdk-Date")
	if rawDate == "" {
		return "the X-Sdk-Date header is missing"
	}
	date, err := time.Parse(sdkDateFormat, rawDate)
	if err != nil {
		return "the X-Sdk-Date header is not in the format YYYYMMDDTHHMMSSZ"
	}
	if skew := now.Sub(date); skew > sdkMaxSkew || skew < -sdkMaxSkew {
		return "the request time differs from the server time by more than 15 minutes"
	}
	signed := strings.Split(auth.signedHeaders, ";")
	if !slices.Contains(signed, "x-sdk-date") || !slices.Contains(signed, "host") {
		return "SignedHeaders must include host and x-sdk-date"
	}
	project := r.Header.Get("X-Project-Id")
	wantProject := pathProject
	if wantProject == "" {
		wantProject = s.opts.ProjectID
	}
	switch {
	case project == "":
		return "the X-Project-Id header is missing"
	case !slices.Contains(signed, "x-project-id"):
		return "the X-Project-Id header is not signed"
	case project != wantProject:
		return "X-Project-Id does not match the project of the request"
	}
	if key.SecurityToken != "" {
		tok := r.Header.Get("X-Security-Token")
		switch {
		case tok == "":
			return "the X-Security-Token header is missing for a temporary access key"
		case !slices.Contains(signed, "x-security-token"):
			return "the X-Security-Token header is not signed"
		case subtle.ConstantTimeCompare([]byte(tok), []byte(key.SecurityToken)) != 1:
			return "the security token is invalid or expired"
		}
	}
	want, err := hex.DecodeString(auth.signature)
	if err != nil {
		return "the signature is not hexadecimal"
	}
	body, err := readBodyForSigning(r)
	if err != nil {
		return "the request body could not be read"
	}
	got, _ := hex.DecodeString(sdkRequestSignature(r, key.SK, signed, body))
	if !hmac.Equal(got, want) {
		return "verify aksk signature fail"
	}
	return ""
}

// readBodyForSigning reads r's body (up to maxSignedBody bytes) and puts
// it back so that later handlers can still read it.
func readBodyForSigning(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSignedBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSignedBody {
		return nil, io.ErrShortBuffer
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

// sdkRequestSignature computes the SDK-HMAC-SHA256 signature of r as
// received, signing the headers named in signedHeaders (lower-case, in the
// given order) and body, with the secret key sk and r's X-Sdk-Date.
func sdkRequestSignature(r *http.Request, sk string, signedHeaders []string, body []byte) string {
	payload := r.Header.Get("X-Sdk-Content-Sha256")
	if payload != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	creq := sdkCanonicalRequest(r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Host, r.Header, signedHeaders, payload)
	return sdkSign(sk, r.Header.Get("X-Sdk-Date"), creq)
}

// sdkCanonicalRequest builds the canonical request:
//
//	METHOD \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n SignedHeaders \n payloadHash
//
// where CanonicalHeaders is one "name:value\n" line per signed header, so
// that a blank line separates it from SignedHeaders.
func sdkCanonicalRequest(method, escapedPath, rawQuery, host string, header http.Header, signedHeaders []string, payloadHash string) string {
	var sb strings.Builder
	sb.WriteString(method)
	sb.WriteByte('\n')
	sb.WriteString(sdkCanonicalURI(escapedPath))
	sb.WriteByte('\n')
	sb.WriteString(sdkCanonicalQuery(rawQuery))
	sb.WriteByte('\n')
	for _, name := range signedHeaders {
		name = strings.ToLower(name)
		var value string
		if name == "host" {
			value = host
		} else {
			value = strings.Join(header.Values(name), ",")
		}
		sb.WriteString(name)
		sb.WriteByte(':')
		sb.WriteString(strings.TrimSpace(value))
		sb.WriteByte('\n')
	}
	sb.WriteByte('\n')
	sb.WriteString(strings.Join(signedHeaders, ";"))
	sb.WriteByte('\n')
	sb.WriteString(payloadHash)
	return sb.String()
}

// sdkSign returns hex(HMAC-SHA256(sk, StringToSign)) for a canonical request.
func sdkSign(sk, sdkDate, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	sts := sdkAlgorithm + "\n" + sdkDate + "\n" + hex.EncodeToString(sum[:])
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

// sdkCanonicalURI encodes each segment of the (escaped) path and appends
// a trailing slash.
func sdkCanonicalURI(escapedPath string) string {
	segs := strings.Split(escapedPath, "/")
	for i, seg := range segs {
		if dec, err := url.PathUnescape(seg); err == nil {
			seg = dec
		}
		segs[i] = sdkEscape(seg)
	}
	p := strings.Join(segs, "/")
	if !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// sdkCanonicalQuery decodes the raw query ("+" and "%20" are spaces) and
// re-encodes it sorted by key, then value.
func sdkCanonicalQuery(rawQuery string) string {
	q, _ := url.ParseQuery(rawQuery)
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vs := slices.Clone(q[k])
		slices.Sort(vs)
		for _, v := range vs {
			parts = append(parts, sdkEscape(k)+"="+sdkEscape(v))
		}
	}
	return strings.Join(parts, "&")
}

// sdkEscape percent-encodes every byte except A-Z a-z 0-9 - _ . ~ with
// upper-case hex digits.
func sdkEscape(s string) string {
	const upperHex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~':
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(upperHex[c>>4])
			sb.WriteByte(upperHex[c&15])
		}
	}
	return sb.String()
}
