package client

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SelectionParams are the listing options a user can set, by the names the exporter's flags
// (--images.NAME) and /probe query parameters use.
var SelectionParams = []string{"name", "status", "changes-since", "min-ram", "min-disk", "type", "server", "page-size"}

// apiParams maps the exporter's option names to the API's query filters.
var apiParams = map[string]string{
	"name": "name", "status": "status", "changes-since": "changes-since", "min-ram": "minRam",
	"min-disk": "minDisk", "type": "type", "server": "server",
}

// glanceStatuses are the values the API's status filter takes: Glance's statuses, which
// Nova passes on (it maps them to its own five only in the answer).
var glanceStatuses = []string{"queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated", "uploading", "importing"}

// maxEchoedValue bounds how much of a bad option value an error quotes.
const maxEchoedValue = 100

// Selection is what to list, in the user's terms: validated values by SelectionParams name.
// The zero Selection lists everything with the server's page size.
type Selection struct {
	values map[string]string
}

// ParseSelection reads the options in values (flags or a /probe query) over base: a key
// present in values replaces base's, an empty value removes it. Unknown keys are left to
// the caller. Errors name the option and the accepted form.
func ParseSelection(base Selection, values url.Values) (Selection, error) {
	merged := Selection{values: map[string]string{}}
	for k, v := range base.values {
		merged.values[k] = v
	}
	for _, name := range SelectionParams {
		vs, present := values[name]
		if !present {
			continue
		}
		if len(vs) != 1 {
			return Selection{}, fmt.Errorf("%s: given %d times, want once", name, len(vs))
		}
		value := strings.TrimSpace(vs[0])
		if value == "" {
			delete(merged.values, name)
			continue
		}
		if err := checkSelection(name, value); err != nil {
			return Selection{}, fmt.Errorf("%s=%s: %w", name, QuoteTruncated(value, maxEchoedValue), err)
		}
		merged.values[name] = value
	}
	return merged, nil
}

func checkSelection(name, value string) error {
	switch name {
	case "status":
		if !slices.Contains(glanceStatuses, strings.ToLower(value)) {
			return fmt.Errorf("want a Glance status, one of %s", strings.Join(glanceStatuses, ", "))
		}
	case "changes-since":
		if _, err := changesSince(value, time.Now()); err != nil {
			return err
		}
	case "min-ram", "min-disk", "page-size":
		if n, err := strconv.Atoi(value); err != nil || n < 0 {
			return fmt.Errorf("want a whole number, 0 or more")
		}
	case "name", "type", "server":
		if len(value) > 255 {
			return fmt.Errorf("longer than 255 bytes")
		}
	}
	return nil
}

// changesSince reads an RFC 3339 time, or a duration meaning that long before now.
func changesSince(value string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time (2026-11-01T00:00:00Z) or a positive duration (720h)")
	}
	return now.Add(-d).Truncate(time.Second), nil
}

// ListOptions turns the selection into the API's filters as of now (a changes-since
// duration counts back from now).
func (s Selection) ListOptions(now time.Time) ListOptions {
	var opts ListOptions
	for name, value := range s.values {
		switch name {
		case "page-size":
			opts.PageSize, _ = strconv.Atoi(value)
		case "changes-since":
			t, _ := changesSince(value, now)
			opts.Filters = addFilter(opts.Filters, apiParams[name], t.UTC().Format(time.RFC3339))
		case "status":
			opts.Filters = addFilter(opts.Filters, apiParams[name], strings.ToLower(value))
		default:
			opts.Filters = addFilter(opts.Filters, apiParams[name], value)
		}
	}
	return opts
}

func addFilter(filters url.Values, key, value string) url.Values {
	if filters == nil {
		filters = url.Values{}
	}
	filters.Set(key, value)
	return filters
}

// String shows the selection as its options, for logs.
func (s Selection) String() string {
	q := url.Values{}
	for k, v := range s.values {
		q.Set(k, v)
	}
	return q.Encode()
}
