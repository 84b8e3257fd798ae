package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// The project names a cloud's credential read (nova_project_info) are read at most once per
// projectPeriod, beside a listing; a failed read is tried again after projectRetry. A
// refusal to list every project (403: a member) is an outcome like a success, kept for the
// period: its log line comes once per period.
const (
	projectPeriod = time.Hour
	projectRetry  = 5 * time.Minute
	// projectKeep is how long names are kept once read, unless a later read replaces them:
	// through failed reads, but not for ever, nor after their cloud's Listings is gone (a
	// reload) with their charge.
	projectKeep = 2 * projectPeriod
	// projectBytes is what a name kept counts besides its texts: its map entry and strings.
	projectBytes = 96
)

// projectNames are the project names of one cloud, read by its credential and kept for
// projectPeriod, charged to the Memory of the cloud's listings while kept.
type projectNames struct {
	source client.ProjectSource
	now    func() time.Time
	// refusals hold the read back once the identity service refused the credential (401).
	refusals *backoff

	mu      sync.Mutex
	byID    map[string]client.Project
	charge  *charge     // what byID is charged; nil: nothing
	expiry  *time.Timer // drops byID and its charge after projectKeep
	due     time.Time   // when the next read may be sent
	reading bool        // a listing's read is under way
	closed  bool        // set by close: nothing is kept
}

func newProjectNames(source client.ProjectSource) *projectNames {
	return &projectNames{source: source, now: time.Now, refusals: newBackoff(time.Now)}
}

// claim reports whether a read is due and none is under way, and marks one under way.
func (p *projectNames) claim() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reading || p.now().Before(p.due) {
		return false
	}
	p.reading = true
	return true
}

// store keeps what a read found, charged to memory, in place of the names kept so far; a
// failed read keeps them, and is tried again after projectRetry. It returns what the read
// is to report: the failure, or the refusal to list every project; nil for a full read.
func (p *projectNames) store(memory *Memory, names client.ProjectNames, err error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.reading = false
	if err == nil {
		err = p.replaceLocked(memory, names.Projects)
	}
	if err != nil {
		p.due = p.now().Add(min(projectRetry, projectPeriod))
		return fmt.Errorf("reading the project names (nova_project_info) failed, kept %d read before; trying again in %s: %w", len(p.byID), projectRetry, err)
	}
	p.due = p.now().Add(projectPeriod)
	if names.Refused != nil {
		return fmt.Errorf("the credential may not list every project: nova_project_info names only its own project, %d; asking again in %s: %w",
			len(names.Projects), projectPeriod, names.Refused)
	}
	return nil
}

// replaceLocked keeps projects, charged to memory, or fails with a MemoryError and keeps
// the names kept so far; once closed it keeps nothing.
func (p *projectNames) replaceLocked(memory *Memory, projects []client.Project) error {
	if p.closed {
		return nil
	}
	charge := memory.newCharge()
	byID := make(map[string]client.Project, len(projects))
	for _, project := range projects {
		if err := charge.add(projectBytes + int64(len(project.ID)+len(project.Name)+len(project.DomainID))); err != nil {
			charge.release()
			return err
		}
		byID[project.ID] = project
	}
	p.dropLocked()
	p.byID, p.charge = byID, charge
	p.expiry = time.AfterFunc(projectKeep, func() { p.expire(charge) })
	return nil
}

// expire drops the names charged to charge, unless a later read replaced them.
func (p *projectNames) expire(charge *charge) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.charge == charge {
		p.dropLocked()
	}
}

// close drops the names kept, with their charge, and keeps none read after: their cloud's
// Listings were closed.
func (p *projectNames) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.dropLocked()
}

// dropLocked drops the names kept, and gives back their charge.
func (p *projectNames) dropLocked() {
	if p.expiry != nil {
		p.expiry.Stop()
	}
	p.charge.release()
	p.byID, p.charge, p.expiry = nil, nil, nil
}

// named returns the names kept of owners, in their order: those the credential could not
// read are left out.
func (p *projectNames) named(owners []string) []client.Project {
	p.mu.Lock()
	defer p.mu.Unlock()
	var named []client.Project
	for _, owner := range owners {
		if project, ok := p.byID[owner]; ok {
			named = append(named, project)
		}
	}
	return named
}

// projectRead is the read of the project names beside one listing, sent once the
// listing's credentials were accepted, if a read is due.
type projectRead struct {
	besideRequest[client.ProjectNames]
	names  *projectNames
	memory *Memory
}

// newProjectRead is the read of names' projects beside one listing, its names kept in memory.
func newProjectRead(names *projectNames, memory *Memory) *projectRead {
	return &projectRead{besideRequest: besideRequest[client.ProjectNames]{what: "the request", ended: "listing",
		backoff: names.refusals, call: names.source.Projects, due: names.claim}, names: names, memory: memory}
}

// send starts the read (besideRequest.send); nil when project names are off.
func (r *projectRead) send(ctx context.Context) {
	if r != nil {
		r.besideRequest.send(ctx)
	}
}

// wait keeps what the read found, abandoning it after waiting for it so long, and returns
// what it is to report (projectNames.store); nil when no read was sent.
func (r *projectRead) wait(wait time.Duration) error {
	if r == nil {
		return nil
	}
	result, err, sent := r.besideRequest.wait(wait)
	if !sent {
		return nil
	}
	return r.names.store(r.memory, result, err)
}
