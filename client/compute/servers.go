// Package compute lists the servers of a cloud through its compute API: Nova's
// GET {compute endpoint}/servers, or the same Nova-compatible API on Huawei ECS, every page,
// ids only (a client.ServerSource). It shares client/paging's requests and bounds with the
// image listings.
package compute

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nova-image-exporter/nova_image_exporter/client"
	"github.com/nova-image-exporter/nova_image_exporter/client/paging"
)

// serversPath is the servers listing's path below the compute endpoint: ids, names and
// links, not /servers/detail.
const serversPath = "/servers"

// pageSize is the limit every page asks for: Nova's default max_limit, and ECS's largest page.
const pageSize = 1000

// ecsHostLabel is the first label of an ECS host.
const ecsHostLabel = "ecs"

// serverOverhead is what one id held costs beside its bytes: its string header.
const serverOverhead = 16

// softDeletedSince is the changes-since of the pass for SOFT_DELETED servers: Nova leaves
// them out of a listing unless it filters by a time of change, and the epoch keeps every one.
const softDeletedSince = "1970-01-01T00:00:00Z"

// Flavour is which compute API a cloud has: what its listing asks beside its own project's
// servers.
type Flavour int

const (
	// Nova is OpenStack Nova: an admin's all_tenants=1 covers every project (a member gets a
	// 403), and SOFT_DELETED servers need a pass of their own.
	Nova Flavour = iota
	// ECS is Huawei ECS's Nova-compatible API: it has neither all_tenants nor a
	// SOFT_DELETED status; a listing covers the credential's own project.
	ECS
)

// Source lists the servers of one cloud; built once per cloud and reused.
type Source struct {
	requester *paging.Requester
	flavour   Flavour
	// allTenantsRefused says that the cloud answered all_tenants with 403 (not an admin):
	// the listings after it ask for the own project's servers alone.
	allTenantsRefused atomic.Bool
}

// New returns a Source that asks the compute API of flavour with auth and opts' bounds.
func New(auth client.Authenticator, opts client.Options, flavour Flavour) *Source {
	r := paging.NewRequester(auth, opts)
	r.Lists = "servers"
	return &Source{requester: r, flavour: flavour}
}

// Servers lists every server the credential can see, in any state. On Nova it asks for every
// project's (all_tenants=1) and, refused with 403, for its own project's from then on; then,
// in the same scope, for the SOFT_DELETED ones, which the first pass leaves out. On ECS it
// asks for the own project's once. A listing cut short is an error.
func (s *Source) Servers(ctx context.Context) (client.Servers, error) {
	ecs := s.asECS(ctx)
	allProjects := !ecs && !s.allTenantsRefused.Load()
	ids, err := s.list(ctx, allProjects, ecs)
	if allProjects && isForbidden(err) {
		s.allTenantsRefused.Store(true)
		allProjects = false
		ids, err = s.list(ctx, false, ecs)
	}
	if err != nil {
		return client.Servers{}, err
	}
	project, err := s.project(ctx)
	if err != nil {
		return client.Servers{}, err
	}
	slices.Sort(ids)
	return client.Servers{IDs: slices.Compact(ids), AllProjects: allProjects, Project: project}, nil
}

// asECS says that the listing asks as ECS does: the cloud is ECS, or its compute endpoint is
// an ECS host (ecs.{region}.{domain}, as a Huawei IAM catalog names it), whatever image API
// the cloud is read through. An endpoint not found yet is not: the listing fails on it.
func (s *Source) asECS(ctx context.Context) bool {
	if s.flavour == ECS {
		return true
	}
	endpoint, err := s.requester.Auth.Endpoint(ctx, client.ServiceCompute)
	if err != nil {
		return false
	}
	u, err := url.Parse(strings.TrimSpace(endpoint))
	return err == nil && strings.HasPrefix(strings.ToLower(u.Hostname()), ecsHostLabel+".")
}

// list runs one listing: every page of the servers, then unless on ECS every page of the
// SOFT_DELETED ones, of every project or of the own.
func (s *Source) list(ctx context.Context, allProjects, ecs bool) ([]string, error) {
	var ids []string
	var held int64
	keep := func(id string) error {
		held += serverOverhead + int64(len(id))
		if held > s.requester.Opts.MaxListingBytes {
			return fmt.Errorf("the listing holds more than %d bytes of servers (--client.max-listing-bytes)", s.requester.Opts.MaxListingBytes)
		}
		ids = append(ids, id)
		return nil
	}
	err := s.requester.Run(ctx, paging.PageSize{Limit: pageSize}, client.ServiceCompute, "compute endpoint", serversPath,
		func(ctx context.Context, listing *paging.Listing, base *url.URL) error {
			for _, query := range passes(allProjects, ecs) {
				listing.NewPass()
				if err := paging.ByMarker(ctx, listing, base, query, func(ctx context.Context, u *url.URL) (string, bool, error) {
					return page(ctx, listing, u, keep)
				}); err != nil {
					return err
				}
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// passes are the queries of a listing's passes: on ECS the one, on Nova a second for the
// SOFT_DELETED servers.
func passes(allProjects, ecs bool) []url.Values {
	base := func() url.Values {
		query := url.Values{"limit": {strconv.Itoa(pageSize)}}
		if allProjects {
			query.Set("all_tenants", "1")
		}
		return query
	}
	if ecs {
		return []url.Values{base()}
	}
	softDeleted := base()
	softDeleted.Set("changes-since", softDeletedSince)
	softDeleted.Set("status", "SOFT_DELETED")
	return []url.Values{base(), softDeleted}
}

// project is the credential's project: the one a listing without all_tenants covers; "" when
// the authenticator does not know it.
func (s *Source) project(ctx context.Context) (string, error) {
	scoped, ok := s.requester.Auth.(client.ProjectScoped)
	if !ok {
		return "", nil
	}
	project, err := scoped.ScopeProject(ctx)
	if err != nil {
		return "", fmt.Errorf("the credential's project: %w", err)
	}
	return project, nil
}

// isForbidden says that err is the compute API's 403.
func isForbidden(err error) bool {
	var apiErr *client.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusForbidden
}

// page fetches one page and hands each server's id to keep; it returns the last id and
// whether a next link follows.
func page(ctx context.Context, listing *paging.Listing, u *url.URL, keep func(id string) error) (last string, hasNext bool, err error) {
	err = listing.Fetch(ctx, u, func(resp *http.Response) error {
		d := listing.Decoding()
		server := func(p *paging.Page, i int) error {
			var wire struct {
				ID string `json:"id"`
			}
			if err := p.Decode(&wire); err != nil {
				return fmt.Errorf("servers[%d]: %w", i, err)
			}
			if wire.ID == "" {
				return fmt.Errorf("servers[%d]: no id", i)
			}
			last = wire.ID
			return keep(d.Redact.Label(wire.ID, client.MaxIDBytes))
		}
		links := func(p *paging.Page, key string) error {
			if key != "servers_links" {
				return p.Skip(key)
			}
			var links []struct {
				Rel string `json:"rel"`
			}
			if err := p.Decode(&links); err != nil {
				return fmt.Errorf("servers_links: %w", err)
			}
			for _, l := range links {
				hasNext = hasNext || l.Rel == "next"
			}
			return nil
		}
		if err := paging.DecodeList(resp, d, "servers", server, links); err != nil {
			return err
		}
		if hasNext && last == "" {
			return errors.New("the answer names a next page and no server to ask it after")
		}
		return nil
	})
	return last, hasNext && err == nil, err
}

var _ client.ServerSource = (*Source)(nil)
