package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/collector/exposition"
)

// serverIDBytes is what a server id held counts besides its text: its string header, and
// the hash the orphan check makes of it.
const serverIDBytes = 32

// errServersNotSent is why a listing has no server listing beside it: the listing ended
// before the cloud accepted its credentials, or the compute endpoint refused them and their
// back-off lasts. It is not reported: the listing's failure, or the refusal, was.
var errServersNotSent = errors.New("the server listing was not sent")

// serverRequest is the listing of the cloud's servers beside a listing of its images (the
// orphaned snapshots), sent once the listing's credentials were accepted, under the same
// deadline, as the quota request is.
type serverRequest struct {
	source  client.ServerSource
	backoff *backoff
	ticket  int
	sent    bool          // send was called, whether or not the back-off let the request go
	done    chan struct{} // nil: not sent; closed when servers and err are set
	cancel  context.CancelFunc
	servers client.Servers
	err     error
}

// send starts the server listing under ctx, unless it was sent or the compute endpoint
// refused the credentials and their back-off lasts. The listing calls it, from its own
// goroutine, once the cloud has accepted its credentials.
func (r *serverRequest) send(ctx context.Context) {
	if r == nil || r.sent {
		return
	}
	r.sent = true
	ticket, err := r.backoff.admit()
	if err != nil {
		return
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.ticket, r.done = ticket, make(chan struct{})
	go func() {
		defer close(r.done)
		r.servers, r.err = r.source.Servers(ctx)
	}()
}

// wait returns what the server listing found, abandoning it after waiting for it so long:
// errServersNotSent when it was not sent.
func (r *serverRequest) wait(wait time.Duration) (client.Servers, error) {
	if r.done == nil {
		return client.Servers{}, errServersNotSent
	}
	defer r.cancel()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-timer.C:
		r.cancel()
		<-r.done
		if r.err != nil {
			r.err = fmt.Errorf("the server listing was abandoned %s after the image listing ended: %w", wait.Round(time.Millisecond), r.err)
		}
	}
	if r.err != nil {
		r.servers = client.Servers{}
	}
	return r.servers, r.backoff.done(r.ticket, r.err, r.err == nil)
}

// checkOrphans waits for the server listing beside inventory's listing and sets the
// inventory's Orphans, what it tells of the snapshots listed, and serverErr, what it is to
// report. The servers' ids are charged while the check runs; what the Orphans keep (a hash
// per server), while the inventory is held. Where a charge does not fit, the orphans are
// lost, never the listing.
func checkOrphans(inventory *Inventory, servers *serverRequest, wait time.Duration) {
	if servers == nil {
		return
	}
	found, err := servers.wait(wait)
	var held int64
	for _, id := range found.IDs {
		held += serverIDBytes + int64(len(id))
	}
	if err == nil {
		if err = inventory.charge.add(held); err == nil {
			defer inventory.charge.sub(held)
		}
	}
	inventory.Orphans = exposition.NewOrphans(inventory.tally, found, err)
	if err == nil {
		kept := inventory.Orphans.Bytes()
		if err = inventory.charge.add(kept); err != nil {
			inventory.Orphans = &exposition.Orphans{}
		} else {
			inventory.bytes += kept
		}
	}
	if !errors.Is(err, errServersNotSent) {
		inventory.serverErr = err
	}
}
