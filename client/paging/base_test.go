package paging

import (
	"errors"
	"testing"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// Every option a user can set has its field in QueryNames: one left out of Param would be
// refused by every API.
func TestEveryOptionHasAQueryName(t *testing.T) {
	all := QueryNames{Name: "n", Status: "s", Type: "t", Server: "v", ImageType: "i", MinRAM: "r", MinDisk: "d", Limit: "l", ChangesSince: "c"}
	for _, option := range client.SelectionParams {
		if all.Param(option) == "" {
			t.Errorf("option %s has no query name", option)
		}
	}
}

func TestQueryRefusesAnOptionWithoutAName(t *testing.T) {
	b := Base{Name: "api", Names: QueryNames{Name: "name", Limit: "limit"}}
	query, err := b.Query(client.ListOptions{Name: "x", PageSize: 5})
	if err != nil || query.Encode() != "limit=5&name=x" {
		t.Errorf("query %v, %v; want limit=5&name=x", query, err)
	}
	var inexpressible *client.InexpressibleError
	if _, err := b.Query(client.ListOptions{Name: "x", Server: "s"}); !errors.As(err, &inexpressible) || inexpressible.Option != "server" || inexpressible.API != "api" {
		t.Errorf("error %v, want server inexpressible in api", err)
	}
	if err := b.CheckOptions(client.ListOptions{Server: "s"}); !errors.As(err, &inexpressible) {
		t.Errorf("CheckOptions: %v, want the error of Query", err)
	}
}
