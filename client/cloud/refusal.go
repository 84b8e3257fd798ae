package cloud

import (
	"errors"
	"sync"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// refusals remembers the last refusal of an authenticator's credentials, so that listings
// already under way when it came do not send them again (client.RefusalHold): Keystone
// locks a user, and Huawei's gateway an access key, after a few refusals in a row.
type refusals struct {
	mu  sync.Mutex
	at  time.Time
	err error
}

// held returns a *client.HeldBackError if the credentials were refused less than
// client.RefusalHold before now.
func (r *refusals) held(now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil && now.Sub(r.at) < client.RefusalHold {
		return &client.HeldBackError{Refusal: r.err}
	}
	return nil
}

// note remembers err, at now, if it is a refusal of the credentials (a client.AuthError);
// it returns err.
func (r *refusals) note(now time.Time, err error) error {
	var authErr *client.AuthError
	if errors.As(err, &authErr) {
		r.mu.Lock()
		r.at, r.err = now, err
		r.mu.Unlock()
	}
	return err
}
