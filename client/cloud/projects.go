package cloud

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Projects reads the names of the cloud's projects with the token a listing had accepted,
// in one request: GET /v3/projects on the identity endpoint, which answers every project to
// an admin, and 403 to a member or project-scoped reader by Keystone's default policy; the
// token's own project (which the token names) is then the one read. It never
// authenticates: without a token yet, it reads nothing.
func (k *Keystone) Projects(ctx context.Context) (client.ProjectNames, error) {
	k.mu.Lock()
	provider := k.provider
	k.mu.Unlock()
	if provider == nil {
		return client.ProjectNames{}, errors.New("reading the project names: no token yet")
	}
	identity, err := openstack.NewIdentityV3(provider, gophercloud.EndpointOpts{})
	if err != nil {
		return client.ProjectNames{}, fmt.Errorf("reading the project names: auth_url %s: %w", client.RedactURLText(k.authOptions.IdentityEndpoint), err)
	}
	token := provider.Token()
	redact := client.NewRedactor(append(k.configuredSecrets(), token)...)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, identity.Endpoint+"projects", nil)
	if err != nil {
		return client.ProjectNames{}, fmt.Errorf("reading the project names: %s", redact.Text(err.Error(), client.MaxErrorText))
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", provider.UserAgent.Join())
	resp, err := k.httpClient.Do(req) //nolint:bodyclose // client.DrainAndClose closes it below.
	if err != nil {
		return client.ProjectNames{}, client.IdentityFailure(redact.Err(err))
	}
	defer client.DrainAndClose(resp.Body)
	if err := client.CheckResponse(resp, redact); err != nil {
		switch resp.StatusCode {
		case http.StatusForbidden:
			return client.ProjectNames{Projects: ownProject(provider, redact), Refused: err}, nil
		case http.StatusUnauthorized:
			return client.ProjectNames{}, client.AuthFailure(err)
		}
		return client.ProjectNames{}, client.IdentityFailure(err)
	}
	projects, err := decodeProjects(resp.Body, redact)
	if err != nil {
		return client.ProjectNames{}, client.IdentityFailure(fmt.Errorf("GET %s: %w", client.RedactedURL(req), err))
	}
	return client.ProjectNames{Projects: projects}, nil
}

// ownProject is the project the token is scoped to, as the token names it; none for a
// token of no project.
func ownProject(provider *gophercloud.ProviderClient, redact client.Redactor) []client.Project {
	result, ok := provider.GetAuthResult().(tokens.CreateResult)
	if !ok {
		return nil
	}
	project, err := result.ExtractProject()
	if err != nil || project == nil || project.ID == "" {
		return nil
	}
	return []client.Project{projectLabels(redact, project.ID, project.Name, project.Domain.ID)}
}

// projectLabels is a project with its texts as label values.
func projectLabels(redact client.Redactor, id, name, domainID string) client.Project {
	return client.Project{ID: redact.Label(id, client.MaxIDBytes), Name: redact.Label(name, client.MaxLabelBytes),
		DomainID: redact.Label(domainID, client.MaxLabelBytes)}
}

// errProjectsTooLarge says that an answer ran past client.MaxProjectsResponseBytes.
var errProjectsTooLarge = fmt.Errorf("the answer is larger than %d bytes (a fixed bound)", client.MaxProjectsResponseBytes)

// boundedReader fails with errProjectsTooLarge past its bound, rather than ending early as
// io.LimitReader does, which a decoder would take for a cut answer.
type boundedReader struct {
	r    io.Reader
	left int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errProjectsTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}

// decodeProjects reads the projects of an answer of GET /v3/projects ({"projects": [...],
// "links": {...}}) one at a time, keeping their id, name and domain id: at most
// client.MaxProjects of them, from at most client.MaxProjectsResponseBytes.
func decodeProjects(body io.Reader, redact client.Redactor) ([]client.Project, error) {
	dec := json.NewDecoder(&boundedReader{r: body, left: client.MaxProjectsResponseBytes})
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	var projects []client.Project
	found := false
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, malformedProjects(err)
		}
		if key != "projects" || found {
			var skipped json.RawMessage
			if err := dec.Decode(&skipped); err != nil {
				return nil, malformedProjects(err)
			}
			continue
		}
		found = true
		if projects, err = decodeProjectList(dec, redact); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, errors.New("the answer has no projects")
	}
	return projects, nil
}

// decodeProjectList reads the array of projects.
func decodeProjectList(dec *json.Decoder, redact client.Redactor) ([]client.Project, error) {
	if err := expectDelim(dec, '['); err != nil {
		return nil, err
	}
	var projects []client.Project
	for dec.More() {
		if len(projects) == client.MaxProjects {
			return nil, fmt.Errorf("the answer holds more than %d projects (a fixed bound)", client.MaxProjects)
		}
		var p struct {
			ID       string `json:"id"`
			Name     string `json:"name"`
			DomainID string `json:"domain_id"`
		}
		if err := dec.Decode(&p); err != nil {
			return nil, malformedProjects(err)
		}
		if p.ID == "" {
			return nil, fmt.Errorf("project %d of the answer has no id", len(projects)+1)
		}
		if len(p.ID) > client.MaxIDBytes {
			return nil, fmt.Errorf("project %d of the answer has an id longer than %d bytes", len(projects)+1, client.MaxIDBytes)
		}
		projects = append(projects, projectLabels(redact, p.ID, p.Name, p.DomainID))
	}
	if _, err := dec.Token(); err != nil {
		return nil, malformedProjects(err)
	}
	return projects, nil
}

// expectDelim reads the next token, which must be delim.
func expectDelim(dec *json.Decoder, delim json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return malformedProjects(err)
	}
	if tok != delim {
		return fmt.Errorf("malformed answer: want %q, got a %T", delim, tok)
	}
	return nil
}

// malformedProjects is err of the decoder, without a quote of the answer; the bound, as it
// is.
func malformedProjects(err error) error {
	if errors.Is(err, errProjectsTooLarge) {
		return err
	}
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed answer: JSON syntax error at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		return fmt.Errorf("malformed answer: %s is a JSON %s", client.Sanitize(typeErr.Field, 64), typeErr.Value)
	}
	return fmt.Errorf("malformed answer: %w", err)
}

var _ client.ProjectSource = (*Keystone)(nil)
