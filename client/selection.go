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
var SelectionParams = selectionParams[:]

var selectionParams = [...]string{"name", "status", "changes-since", "min-ram", "min-disk", "type", "server", "imagetype", "page-size"}

// glanceStatuses are the values the API's status filter takes: Glance's statuses, which
// Nova passes on (it maps them to its own five only in the answer).
var glanceStatuses = []string{"queued", "saving", "active", "killed", "deleted", "pending_delete", "deactivated", "uploading", "importing"}

// maxEchoedValue bounds how much of a bad option value an error quotes.
const maxEchoedValue = 100

// ListOptions select what a listing returns, in terms of no particular API: each image
// source translates them into its own query. The zero value lists every image.
type ListOptions struct {
	// Name, Status (a Glance status, lower case), Type (snapshot, backup), Server (the
	// instance id of snapshots) and ImageType (Huawei IMS's __imagetype: gold, private,
	// shared, market) match exactly; empty for no filter.
	Name, Status, Type, Server, ImageType string
	// MinRAM (MiB) and MinDisk (GiB) match the image's minimums exactly, as the real Nova
	// does; nil for no filter.
	MinRAM, MinDisk *int
	// ChangesSince lists the images updated at or after it; zero for no filter.
	ChangesSince time.Time
	// PageSize is the limit of each request; 0 sends the image API's default (1000 for Nova
	// and Glance, their usual largest page; 500 for IMS, its documented default).
	PageSize int
}

// Set names the options that are set, by the names of SelectionParams.
func (o ListOptions) Set() []string {
	var set []string
	for _, option := range []struct {
		name string
		set  bool
	}{
		{"name", o.Name != ""}, {"status", o.Status != ""}, {"changes-since", !o.ChangesSince.IsZero()},
		{"min-ram", o.MinRAM != nil}, {"min-disk", o.MinDisk != nil}, {"type", o.Type != ""}, {"server", o.Server != ""},
		{"imagetype", o.ImageType != ""}, {"page-size", o.PageSize > 0},
	} {
		if option.set {
			set = append(set, option.name)
		}
	}
	return set
}

// Selection is what to list, parsed and checked once by ParseSelection. The zero Selection
// lists everything with the server's page size.
type Selection struct {
	// opts are the options parsed, in the form every image source takes, but for the
	// changes-since time, which since gives as of the listing.
	opts  ListOptions
	since changesSince
	// written holds each option set as the user wrote it (trimmed), by SelectionParams
	// index: its Key and String.
	written [len(selectionParams)]string
}

// changesSince is an RFC 3339 time, or a duration meaning that long before the listing;
// the zero value filters nothing.
type changesSince struct {
	at  time.Time
	ago time.Duration
}

// ParseSelection reads the options in values (flags or a /probe query) over base: a key
// present in values replaces base's, an empty value removes it. Unknown keys are left to
// the caller. Errors name the option and the accepted form.
func ParseSelection(base Selection, values url.Values) (Selection, error) {
	merged := base
	for i, name := range selectionParams {
		vs, present := values[name]
		if !present {
			continue
		}
		if len(vs) != 1 {
			return Selection{}, fmt.Errorf("%s: given %d times, want once", name, len(vs))
		}
		value := strings.TrimSpace(vs[0])
		if err := merged.set(name, value); err != nil {
			return Selection{}, fmt.Errorf("%s=%s: %w", name, QuoteTruncated(value, maxEchoedValue), err)
		}
		merged.written[i] = value
	}
	return merged, nil
}

// set parses value into the option name; an empty value clears the option.
func (s *Selection) set(name, value string) error {
	if field, ok := textOptions[name]; ok {
		if len(value) > 255 {
			return fmt.Errorf("longer than 255 bytes")
		}
		*field(s) = value
		return nil
	}
	if field, ok := countOptions[name]; ok {
		n, err := parseOptionalCount(value)
		*field(s) = n
		return err
	}
	var err error
	switch name {
	case "status":
		s.opts.Status, err = parseStatus(value)
	case "changes-since":
		s.since, err = parseChangesSince(value)
	case "imagetype":
		s.opts.ImageType, err = parseIMSImageType(value)
	case "page-size":
		var n *int
		n, err = parseOptionalCount(value)
		s.opts.PageSize = 0 // none, or 0, sends the API's default
		if n != nil {
			s.opts.PageSize = *n
		}
	}
	return err
}

// textOptions are the options taken as written, up to 255 bytes.
var textOptions = map[string]func(*Selection) *string{
	"name":   func(s *Selection) *string { return &s.opts.Name },
	"type":   func(s *Selection) *string { return &s.opts.Type },
	"server": func(s *Selection) *string { return &s.opts.Server },
}

// countOptions are the filters that take a whole number, 0 or more.
var countOptions = map[string]func(*Selection) **int{
	"min-ram":  func(s *Selection) **int { return &s.opts.MinRAM },
	"min-disk": func(s *Selection) **int { return &s.opts.MinDisk },
}

// imsImageTypes are the values of Huawei IMS's __imagetype filter.
var imsImageTypes = []string{"gold", "private", "shared", "market"}

func parseIMSImageType(value string) (string, error) {
	if value != "" && !slices.Contains(imsImageTypes, value) {
		return "", fmt.Errorf("want an IMS image type, one of %s", strings.Join(imsImageTypes, ", "))
	}
	return value, nil
}

func parseStatus(value string) (string, error) {
	status := strings.ToLower(value)
	if value != "" && !slices.Contains(glanceStatuses, status) {
		return "", fmt.Errorf("want a Glance status, one of %s", strings.Join(glanceStatuses, ", "))
	}
	return status, nil
}

// parseOptionalCount reads a whole number, 0 or more; nil for an empty value.
func parseOptionalCount(value string) (*int, error) {
	if value == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(value)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("want a whole number, 0 or more")
	}
	return &n, nil
}

// parseChangesSince reads an RFC 3339 time, or a duration meaning that long before the
// listing.
func parseChangesSince(value string) (changesSince, error) {
	if value == "" {
		return changesSince{}, nil
	}
	if t, err := time.Parse(time.RFC3339, value); err == nil {
		return changesSince{at: t}, nil
	}
	d, err := time.ParseDuration(value)
	if err != nil || d <= 0 {
		return changesSince{}, fmt.Errorf("want an RFC 3339 time (2026-11-01T00:00:00Z) or a positive duration (720h)")
	}
	return changesSince{ago: d}, nil
}

// ListOptions are the selection's options as of now (a changes-since duration counts back
// from now).
func (s Selection) ListOptions(now time.Time) ListOptions {
	opts := s.opts
	opts.ChangesSince = s.since.time(now)
	return opts
}

// time is the changes-since time as of now, to the second; zero for none.
func (c changesSince) time(now time.Time) time.Time {
	switch {
	case !c.at.IsZero():
		return c.at
	case c.ago > 0:
		return now.Add(-c.ago).Truncate(time.Second)
	}
	return time.Time{}
}

// Key identifies the selection as the user wrote it, for caches and for sharing a listing
// in flight: "changes-since=720h" is one key however the time passes, and two selections
// with the same key list the same images the same way. The page size is part of it: a
// listing in other pages is a listing of its own, so that one caller's page size never
// changes what another is served.
func (s Selection) Key() string {
	q := url.Values{}
	for i, value := range s.written {
		if value != "" {
			q.Set(selectionParams[i], value)
		}
	}
	return q.Encode()
}

// String shows the selection as its options, for logs.
func (s Selection) String() string {
	if written := s.Key(); written != "" {
		return written
	}
	return "all images"
}
