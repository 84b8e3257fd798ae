package client

import "testing"

// A listing covers a snapshot's project when it covered every project, or when the project
// is the credential's own; a listing of an unknown project covers only through AllProjects.
func TestServersCover(t *testing.T) {
	for _, c := range []struct {
		servers Servers
		project string
		want    bool
	}{
		{Servers{AllProjects: true}, "p1", true},
		{Servers{AllProjects: true}, "", true},
		{Servers{Project: "p1"}, "p1", true},
		{Servers{Project: "p1"}, "p2", false},
		{Servers{Project: "p1"}, "", false},
		{Servers{}, "", false},
	} {
		if got := c.servers.Covers(c.project); got != c.want {
			t.Errorf("%+v covers %q: %t, want %t", c.servers, c.project, got, c.want)
		}
	}
}
