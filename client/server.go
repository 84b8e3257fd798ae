package client

import "context"

// Servers are the ids of the servers a credential can see, in any state (SHELVED_OFFLOADED,
// SOFT_DELETED and ERROR servers exist), as one complete listing of the compute API found
// them, and what that listing covered.
type Servers struct {
	// IDs are the servers' ids, sorted, each once.
	IDs []string
	// AllProjects says that the listing covered every project of the cloud (an admin's
	// all_tenants); otherwise it covered the credential's own project, Project, alone.
	AllProjects bool
	// Project is the id of the credential's project, the one the listing covered when not
	// AllProjects; empty where it is not known (then only AllProjects covers anything).
	Project string
}

// Covers reports whether the listing covered the servers of project, the owner of a
// snapshot: it did when it covered every project, or when project is the credential's own.
func (s Servers) Covers(project string) bool {
	return s.AllProjects || (s.Project != "" && project == s.Project)
}

// ServerSource lists the servers of one cloud through its compute API (Nova's
// GET /v2.1/{project_id}/servers, Huawei ECS's in the same region), every page, ids only. A
// listing cut short (a deadline, a page bound) is an error, never a partial Servers: a
// snapshot must not be called orphaned because its server was on a page not read.
type ServerSource interface {
	Servers(ctx context.Context) (Servers, error)
}
