package client

import "context"

// Project is a project (tenant) of the cloud as Keystone or IAM names it: its label values,
// without secrets and cut (ID at MaxIDBytes, Name and DomainID at MaxLabelBytes).
type Project struct {
	ID, Name, DomainID string
}

// ProjectNames are the projects whose names a credential read.
type ProjectNames struct {
	Projects []Project
	// Refused is the identity service's refusal to list every project (403: a member's
	// credential, by Keystone's default policy); Projects then hold only the credential's
	// own project, which its token names. nil when Projects are every project.
	Refused error
}

// ProjectSource reads the names of the cloud's projects that its credential may read: every
// project for an admin (Keystone's GET /v3/projects, by its default policy), its own for a
// project-scoped member or reader. It is asked beside a listing whose credential the cloud accepted, and never
// authenticates on its own: a 401 is final (an AuthError).
type ProjectSource interface {
	Projects(ctx context.Context) (ProjectNames, error)
}
