package simulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Fault describes how the simulator misbehaves on one image listing request (Nova, Glance or IMS). The zero Fault means: behave normally.
//
// The fields combine: Delay (or Hang) comes first; then Echo, Status, Garbage
// or HTML (in that order of precedence) answer on their own; otherwise the
// page is built (Loop, Duplicate, InvalidUTF8, OddTimes, BadTimes,
// WrongTypes, Negative) and delivered (Huge, TruncateAfter). RetryAfter is
// added to whatever answer is given. A request the page cannot be built
// for (a bad limit, an unknown marker) gets its API's normal 400.
type Fault struct {
	// Status, when non-zero, answers with this HTTP status and a fault body of the real shape for it:
	// 429 → Nova {"overLimit": {"code": 429, "message": "This request was rate-limited.", "retryAfter": "<RetryAfter or 0>"}},
	// 413 → same overLimit shape with code 413, 500 → computeFault, 502/504 → an nginx-style HTML page (Content-Type text/html),
	// 503 → {"serviceUnavailable": {...}}, 400 → badRequest, 403 → forbidden, 404 → itemNotFound; other codes → computeFault with that code.
	// Values outside 200–599 are taken as 500.
	Status int
	// Message, when non-empty, replaces the message of a Status answer's Nova or Keystone
	// fault body (not of nginx's page nor of the gateway's 429).
	Message string
	// Gateway, with Status 429, answers as Huawei's API gateway instead: {"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:...", "request_id": "<32 hex>"} and no Retry-After unless RetryAfter is set.
	Gateway bool
	// RetryAfter, when non-empty, is sent as the Retry-After header (seconds or an HTTP date).
	RetryAfter string
	// Delay holds the answer back this long (ends early, without answering, if the client goes away).
	Delay time.Duration
	// Hang never answers: it waits until the client cancels the request (or the server closes).
	//
	// The wait ends when the request's context is cancelled: when the
	// client goes away or the connection is closed (http.Server.Close,
	// httptest.Server.CloseClientConnections). httptest.Server.Close waits
	// for outstanding requests, so cancel hanging requests before it.
	Hang bool
	// TruncateAfter, when > 0, sends the normal 200 response's headers (with the full Content-Length) and only its first TruncateAfter bytes, then closes the connection abruptly (hijack and close; set SO_LINGER 0 where possible so the client sees a reset).
	//
	// At most all but the last byte of the body is sent, so the response is
	// always cut short. Where the connection cannot be hijacked (HTTP/2)
	// the handler aborts with http.ErrAbortHandler, which resets the stream.
	TruncateAfter int
	// Garbage answers 200 application/json with a body that is not JSON (a fixed deterministic byte string including invalid UTF-8 and control bytes).
	Garbage bool
	// HTML answers 200 text/html with a proxy login page (a captive portal).
	HTML bool
	// Loop answers with the page that the request's marker would give, but puts the SAME images as the previous page and a next link whose marker is the marker of this request (a server that ignores the marker) — the client sees a marker it already requested.
	//
	// Without a marker the page is the normal first page, with a next link
	// that repeats the request's own parameters (no marker).
	Loop bool
	// Duplicate starts the page with the image that ended the previous page (the marker image), so one id appears on two pages, as when an image is inserted during a listing.
	//
	// Without a marker there is no previous page and the page is normal.
	Duplicate bool
	// InvalidUTF8 replaces the names in this page with names containing invalid UTF-8 bytes (e.g. "bad-\xff\xfe-name") written raw into the JSON.
	InvalidUTF8 bool
	// OddTimes writes created/updated in odd but valid ISO 8601 forms, varying per image: no Z ("2026-11-28T10:00:00"), fractions ("2026-11-28T10:00:00.123456Z"), offsets ("2026-11-28T12:00:00+02:00").
	//
	// The valid forms name the same instant as the normal ones (the
	// fraction is that of the stored time, ".000000" for whole seconds); a
	// null updated stays null.
	OddTimes bool
	// BadTimes, with OddTimes, makes the first image's created unparsable ("not-a-time").
	// Without OddTimes it does just that and leaves the other times normal.
	BadTimes bool
	// WrongTypes sends the first image's minDisk as a string ("ten") and its size as a float (1.5).
	WrongTypes bool
	// Negative sends the first image's size as -1 (WrongTypes, if also set, wins).
	Negative bool
	// Echo answers with Status (401 when 0; badRequest for 400) and a fault whose message,
	// and request id, quote the credentials the request carried: its X-Auth-Token,
	// X-Security-Token and Authorization headers (a server that echoes secrets).
	Echo bool
	// Huge pads the response with whitespace so that it is at least this many bytes (a giant body), streaming it without holding it in memory.
	//
	// The padding goes right after the body's opening brace, so a client
	// has to read all of it before it sees any image.
	Huge int64
}

// faultPlan is a plan installed by SetFaults, SetKeystoneFaults or SetQuotaFaults, with its
// request counter.
type faultPlan struct {
	plan func(n int, r *http.Request) Fault
	n    atomic.Int64
}

// installPlan puts plan in p, with a new request counter; a nil plan empties p.
func installPlan(p *atomic.Pointer[faultPlan], plan func(n int, r *http.Request) Fault) {
	if plan == nil {
		p.Store(nil)
		return
	}
	p.Store(&faultPlan{plan: plan})
}

// nextPlanned counts r in the plan in p and returns the fault it gives r (the zero Fault
// when p holds no plan).
func nextPlanned(p *atomic.Pointer[faultPlan], r *http.Request) Fault {
	if fp := p.Load(); fp != nil {
		return fp.plan(int(fp.n.Add(1)-1), r)
	}
	return Fault{}
}

// SetFaults installs a fault plan: for the n-th image listing request of any API (n counts from 0 since SetFaults, authorised requests only, counted atomically) the simulator applies plan(n, r). nil removes the plan.
//
// The plan is consulted for the requests that pass authentication and the
// method checks (and on Nova the microversion and project checks). Glance and IMS answer a
// Status or Echo fault with their own error bodies (Glance's webob page, IMS's
// {"error": {...}}), except nginx's 502 and 504 pages and the gateway's 429, which come
// from in front of every API; the page and delivery faults apply to all three.
func (s *Simulator) SetFaults(plan func(n int, r *http.Request) Fault) {
	installPlan(&s.plan, plan)
}

// SetKeystoneFaults installs a fault plan for Keystone's token requests (POST
// /v3/auth/tokens): the n-th of them (n counts from 0 since SetKeystoneFaults) gets
// plan(n, r) before it is authenticated. nil removes the plan.
//
// Of a Fault, Keystone honours Delay, Hang, RetryAfter, Status (Keystone's error body
// {"error": {"code", "title", "message"}}, or nginx's page for 502 and 504), Garbage (a
// 201 whose body is not JSON), HTML (a captive portal's 200) and Echo (a 401, or Status,
// whose message and request id quote the password, application credential secret or
// token of the request). A request a fault answers is not counted by TokenRequests.
func (s *Simulator) SetKeystoneFaults(plan func(n int, r *http.Request) Fault) {
	installPlan(&s.keystonePlan, plan)
}

// FailRandomly returns a plan that gives, with probability p per request (deterministic for seed, safe for concurrent use), one of: 500, 502 (HTML), 503 with Retry-After "0", 429 (Nova and gateway kinds alternately), a truncation, garbage, HTML 200, a short Delay (5–50 ms), a loop, a duplicate; otherwise the zero Fault.
//
// The Fault for request n depends only on seed and n, so concurrent
// requests do not change the sequence; the ten kinds are equally likely,
// and a 429 is of the Nova or the gateway kind with equal probability.
func FailRandomly(p float64, seed int64) func(n int, r *http.Request) Fault {
	return func(n int, _ *http.Request) Fault {
		h := splitmix64(uint64(seed) ^ splitmix64(uint64(n)))
		if float64(h>>11)/(1<<53) >= p {
			return Fault{}
		}
		k := splitmix64(h)
		arg := k >> 16
		switch k % 10 {
		case 0:
			return Fault{Status: http.StatusInternalServerError}
		case 1:
			return Fault{Status: http.StatusBadGateway}
		case 2:
			return Fault{Status: http.StatusServiceUnavailable, RetryAfter: "0"}
		case 3:
			return Fault{Status: http.StatusTooManyRequests, Gateway: arg&1 == 1}
		case 4:
			return Fault{TruncateAfter: 1 + int(arg%256)}
		case 5:
			return Fault{Garbage: true}
		case 6:
			return Fault{HTML: true}
		case 7:
			return Fault{Delay: time.Duration(5+arg%46) * time.Millisecond}
		case 8:
			return Fault{Loop: true}
		default:
			return Fault{Duplicate: true}
		}
	}
}

// splitmix64 is the SplitMix64 finaliser, a good 64-bit mixer.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// holdFault applies the parts of ft that come before any answer: Retry-After, Hang and
// Delay. It reports whether the request was abandoned meanwhile (a Hang always is).
func holdFault(w http.ResponseWriter, r *http.Request, ft *Fault) bool {
	if ft.RetryAfter != "" {
		w.Header().Set("Retry-After", ft.RetryAfter)
	}
	if ft.Hang {
		<-r.Context().Done()
		return true
	}
	return ft.Delay > 0 && !sleepCtx(r.Context(), ft.Delay)
}

// sleepCtx waits for d; it reports false if ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// answerFault applies the parts of ft that come before the page: Retry-After,
// Hang, Delay and the answers of their own (Status, Garbage, HTML), with the fault bodies
// of api. It reports whether the request is done with (answered or abandoned).
func answerFault(w http.ResponseWriter, r *http.Request, ft *Fault, api string) bool {
	if *ft == (Fault{}) {
		return false
	}
	if holdFault(w, r, ft) {
		return true
	}
	switch {
	case ft.Echo:
		writeEchoFault(w, r, ft, api)
	case ft.Status != 0:
		writeStatusFault(w, r, ft, api)
	case ft.Garbage:
		writeRaw(w, http.StatusOK, "application/json", []byte(garbageBody))
	case ft.HTML:
		stripNovaHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		writeRaw(w, http.StatusOK, "text/html; charset=utf-8", []byte(captivePortalPage))
	default:
		return false
	}
	return true
}

// answerKeystoneFault applies the Keystone fault plan to a token request and reports
// whether the request is done with.
func (s *Simulator) answerKeystoneFault(w http.ResponseWriter, r *http.Request) bool {
	ft := nextPlanned(&s.keystonePlan, r)
	if ft == (Fault{}) {
		return false
	}
	// Read the body first: only then does the server notice a client that goes away.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body = io.NopCloser(bytes.NewReader(body)) // for the token request a Delay lets through
	if holdFault(w, r, &ft) {
		return true
	}
	switch {
	case ft.Echo:
		secret := requestSecret(body)
		w.Header().Set("x-openstack-request-id", secret)
		keystoneError(w, echoStatus(ft.Status), "Unauthorized", "The request you have made requires authentication: "+secret+" is not valid.")
	case ft.Status == http.StatusBadGateway || ft.Status == http.StatusGatewayTimeout:
		w.Header().Set("Server", "nginx")
		writeRaw(w, ft.Status, "text/html", nginxPage(ft.Status))
	case ft.Status != 0:
		code := ft.Status
		if code < 200 || code > 599 {
			code = http.StatusInternalServerError
		}
		msg := "The service is unavailable or failed."
		if ft.Message != "" {
			msg = ft.Message
		}
		keystoneError(w, code, http.StatusText(code), msg)
	case ft.Garbage:
		w.Header().Set("X-Subject-Token", "gAAAAAgarbage")
		writeRaw(w, http.StatusCreated, "application/json", []byte(garbageBody))
	case ft.HTML:
		writeRaw(w, http.StatusOK, "text/html; charset=utf-8", []byte(captivePortalPage))
	default:
		return false
	}
	return true
}

// echoStatus is the status of an Echo fault: 401 unless one is given.
func echoStatus(status int) int {
	if status < 400 || status > 599 {
		return http.StatusUnauthorized
	}
	return status
}

// requestSecret is the password, application credential secret or token of a token
// request's body.
func requestSecret(body []byte) string {
	var req authRequest
	if json.Unmarshal(body, &req) != nil || req.Auth == nil || req.Auth.Identity == nil {
		return ""
	}
	id := req.Auth.Identity
	switch {
	case id.Password != nil && id.Password.User != nil && id.Password.User.Password != nil:
		return *id.Password.User.Password
	case id.ApplicationCredential != nil && id.ApplicationCredential.Secret != nil:
		return *id.ApplicationCredential.Secret
	case id.Token != nil:
		return id.Token.ID
	}
	return ""
}

// writeEchoFault answers a listing request with a fault of api (Nova's: badRequest for 400,
// else Unauthorized) whose message quotes the credentials the request carried, which are
// also its request id.
func writeEchoFault(w http.ResponseWriter, r *http.Request, ft *Fault, api string) {
	var quoted []string
	for _, name := range []string{"X-Auth-Token", "X-Security-Token", "Authorization"} {
		if v := r.Header.Get(name); v != "" {
			quoted = append(quoted, name+": "+v)
		}
	}
	echo := strings.Join(quoted, "; ")
	h := w.Header()
	h.Set("x-openstack-request-id", echo)
	h.Set("x-compute-request-id", echo)
	code := echoStatus(ft.Status)
	if api != APINova {
		apiError(w, r, api, code, "Invalid request ("+echo+")")
		return
	}
	name := "unauthorized"
	if code == http.StatusBadRequest {
		name = "badRequest"
	}
	novaFault(w, code, name, "Invalid request ("+echo+")")
}

// garbageBody is what Fault.Garbage sends: a gzip magic, control bytes,
// invalid UTF-8 and half a JSON document.
const garbageBody = "\x1f\x8b\x08\x00garbage\x00\x01\x02\xff\xfe\xfd{\"images\": [\x1b[31m\xc3\x28 not json \xe2\x82\x7f\r\n\x00"

// captivePortalPage is what Fault.HTML sends.
const captivePortalPage = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Network Login Required</title>
</head>
<body>
<h1>Web Proxy Authentication</h1>
<p>You must log in before you can use this network.</p>
<form method="post" action="/cgi-bin/login">
<label>Username <input type="text" name="username"></label>
<label>Password <input type="password" name="password"></label>
<input type="submit" value="Log in">
</form>
</body>
</html>
`

// stripNovaHeaders removes the headers Nova set, for answers that come
// from something in front of Nova.
func stripNovaHeaders(h http.Header) {
	for _, k := range []string{"x-openstack-request-id", "x-compute-request-id", "OpenStack-API-Version", "X-OpenStack-Nova-API-Version", "Vary"} {
		h.Del(k)
	}
}

// nginxPage is nginx's built-in error page for code.
func nginxPage(code int) []byte {
	text := http.StatusText(code)
	if code == http.StatusGatewayTimeout {
		text = "Gateway Time-out" // nginx's spelling
	}
	title := strconv.Itoa(code) + " " + text
	return []byte("<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + title +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
}

// novaFaultMessages are the messages of the fault bodies by status.
var novaFaultMessages = map[int]string{
	http.StatusBadRequest:            "The server could not comply with the request since it is either malformed or otherwise incorrect.",
	http.StatusForbidden:             "Access was denied to this resource.",
	http.StatusNotFound:              "The resource could not be found.",
	http.StatusRequestEntityTooLarge: "This request was rate-limited.",
	http.StatusTooManyRequests:       "This request was rate-limited.",
	http.StatusInternalServerError:   "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n<class 'glanceclient.exc.CommunicationError'>",
	http.StatusServiceUnavailable:    "The server is currently unavailable. Please try again at a later time.",
}

// writeStatusFault answers with ft.Status and the body of the real shape for api.
func writeStatusFault(w http.ResponseWriter, r *http.Request, ft *Fault, api string) {
	code := ft.Status
	if code < 200 || code > 599 {
		code = http.StatusInternalServerError
	}
	h := w.Header()
	switch {
	case code == http.StatusBadGateway || code == http.StatusGatewayTimeout:
		stripNovaHeaders(h)
		h.Set("Server", "nginx")
		writeRaw(w, code, "text/html", nginxPage(code))
		return
	case code == http.StatusTooManyRequests && ft.Gateway:
		stripNovaHeaders(h)
		var id [16]byte
		_, _ = rand.Read(id[:])
		reqID := hex.EncodeToString(id[:])
		h.Set("X-Request-Id", reqID)
		b := []byte(`{"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:10,time:1 minute", "request_id": "`)
		b = append(b, reqID...)
		b = append(b, `"}`...)
		writeRaw(w, code, "application/json", b)
		return
	case api != APINova:
		msg := ft.Message
		if msg == "" {
			msg = webobExplanations[code]
		}
		if msg == "" {
			msg = http.StatusText(code)
		}
		apiError(w, r, api, code, msg)
		return
	}
	name := "computeFault"
	switch code {
	case http.StatusBadRequest:
		name = "badRequest"
	case http.StatusForbidden:
		name = "forbidden"
	case http.StatusNotFound:
		name = "itemNotFound"
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		name = "overLimit"
	case http.StatusServiceUnavailable:
		name = "serviceUnavailable"
	}
	msg, ok := novaFaultMessages[code]
	if !ok {
		msg = http.StatusText(code)
		if msg == "" {
			msg = "Unknown Error"
		}
	}
	if ft.Message != "" {
		msg = ft.Message
	}
	b := appendNovaFault(nil, code, name, msg)
	if name == "overLimit" {
		retry := ft.RetryAfter
		if retry == "" {
			retry = "0"
		}
		b = append(b, `, "retryAfter": `...)
		b = appendPyString(b, retry)
	}
	b = append(b, "}}"...)
	writeRaw(w, code, "application/json; charset=UTF-8", b)
}
