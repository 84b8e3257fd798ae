package collector

import (
	"context"
	"errors"
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
	besideRequest[client.Servers]
}

// newServerRequest is the listing of source's servers, held back by backoff.
func newServerRequest(source client.ServerSource, backoff *backoff) *serverRequest {
	return &serverRequest{besideRequest[client.Servers]{what: "the server listing", ended: "image listing",
		backoff: backoff, call: source.Servers}}
}

// send starts the server listing (besideRequest.send); nil when orphaned snapshots are off.
func (r *serverRequest) send(ctx context.Context) {
	if r != nil {
		r.besideRequest.send(ctx)
	}
}

// wait returns what the server listing found, abandoning it after waiting for it so long:
// errServersNotSent when it was not sent.
func (r *serverRequest) wait(wait time.Duration) (client.Servers, error) {
	servers, err, sent := r.besideRequest.wait(wait)
	if !sent {
		return client.Servers{}, errServersNotSent
	}
	return servers, err
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
