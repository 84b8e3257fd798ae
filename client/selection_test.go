package client

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSelectionParsedOnceWithAKey(t *testing.T) {
	sel, err := ParseSelection(Selection{}, url.Values{
		"changes-since": {"720h"}, "page-size": {" 50 "}, "status": {"ACTIVE"}, "min-ram": {"0"}, "unknown": {"left to the caller"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A listing in other pages is a listing of its own: the page size is part of the key.
	const key, written = "changes-since=720h&min-ram=0&page-size=50&status=ACTIVE", "changes-since=720h&min-ram=0&page-size=50&status=ACTIVE"
	if sel.Key() != key || sel.String() != written {
		t.Errorf("Key %q, String %q; want %q and %q", sel.Key(), sel.String(), key, written)
	}
	now := time.Date(2026, 12, 2, 12, 0, 0, 500, time.UTC)
	opts := sel.ListOptions(now)
	later := sel.ListOptions(now.Add(time.Hour))
	if opts.PageSize != 50 || opts.Status != "active" || opts.MinRAM == nil || *opts.MinRAM != 0 || opts.MinDisk != nil || opts.Name != "" ||
		!opts.ChangesSince.Equal(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)) || !later.ChangesSince.Equal(time.Date(2026, 11, 2, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("ListOptions %+v, an hour later %+v", opts, later)
	}
	narrowed, err := ParseSelection(sel, url.Values{"page-size": {""}, "name": {"ubuntu"}})
	if err != nil {
		t.Fatal(err)
	}
	if narrowed.Key() != "changes-since=720h&min-ram=0&name=ubuntu&status=ACTIVE" || narrowed.ListOptions(now).PageSize != 0 || sel.Key() != key {
		t.Errorf("merged %q (page size %d), base now %q", narrowed.Key(), narrowed.ListOptions(now).PageSize, sel.Key())
	}
	if (Selection{}).String() != "all images" || (Selection{}).Key() != "" {
		t.Errorf("the zero selection: String %q, Key %q", Selection{}.String(), Selection{}.Key())
	}
	for query, want := range map[string]string{
		"page-size=-1":            `page-size="-1": want a whole number`,
		"page-size=1&page-size=2": "page-size: given 2 times",
		"status=running":          `status="running": want a Glance status`,
		"changes-since=-1h":       `changes-since="-1h": want an RFC 3339 time`,
	} {
		values, _ := url.ParseQuery(query)
		if _, err := ParseSelection(sel, values); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", query, err, want)
		}
	}
}

func TestIMSImageTypeOption(t *testing.T) {
	s, err := ParseSelection(Selection{}, url.Values{"imagetype": {"gold"}})
	if err != nil || s.ListOptions(time.Now()).ImageType != "gold" || s.Key() != "imagetype=gold" {
		t.Errorf("imagetype=gold: %+v, err %v", s.ListOptions(time.Now()), err)
	}
	if _, err := ParseSelection(Selection{}, url.Values{"imagetype": {"public"}}); err == nil ||
		!strings.Contains(err.Error(), "want an IMS image type, one of gold, private, shared, market") {
		t.Errorf("imagetype=public: error %v", err)
	}
}

// ListOptions.Set names every option by its SelectionParams name: an image API refuses
// options by these names, and one missing here would be silently dropped instead.
func TestSetNamesEveryOption(t *testing.T) {
	values := map[string]string{"name": "n", "status": "active", "changes-since": "720h", "min-ram": "1", "min-disk": "1",
		"type": "snapshot", "server": "s", "imagetype": "gold", "page-size": "5"}
	for _, param := range SelectionParams {
		value, ok := values[param]
		if !ok {
			t.Fatalf("no test value for option %s", param)
		}
		s, err := ParseSelection(Selection{}, url.Values{param: {value}})
		if err != nil {
			t.Fatal(err)
		}
		if set := s.ListOptions(time.Now()).Set(); len(set) != 1 || set[0] != param {
			t.Errorf("%s=%s: options set %v, want [%s]", param, value, set, param)
		}
	}
}
