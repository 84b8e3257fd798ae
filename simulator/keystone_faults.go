package simulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

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
	if plan == nil {
		s.keystonePlan.Store(nil)
		return
	}
	s.keystonePlan.Store(&faultPlan{plan: plan})
}

// answerKeystoneFault applies the Keystone fault plan to a token request and reports
// whether the request is done with.
func (s *Simulator) answerKeystoneFault(w http.ResponseWriter, r *http.Request) bool {
	p := s.keystonePlan.Load()
	if p == nil {
		return false
	}
	ft := p.plan(int(p.n.Add(1)-1), r)
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
		keystoneError(w, code, http.StatusText(code), "The service is unavailable or failed.")
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

// writeEchoFault answers an images/detail request with a Nova fault (badRequest for 400,
// else Unauthorized) whose message quotes the credentials the request carried, which are
// also its request id.
func writeEchoFault(w http.ResponseWriter, r *http.Request, ft *Fault) {
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
	name := "unauthorized"
	if code == http.StatusBadRequest {
		name = "badRequest"
	}
	novaFault(w, code, name, "Invalid request ("+echo+")")
}
