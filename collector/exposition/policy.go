package exposition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// PerImagePolicy limits per-image series by what an image is, beside the metadata filters:
// its Nova status, its owner and its visibility. Each value is VALUE, or !VALUE to exclude
// it (--images.per-image-status, --images.per-image-owner, --images.per-image-visibility).
// An image passes a field when its value is one of the field's VALUEs (any, when there are
// none) and none of its !VALUEs; it gets per-image series when it passes every field and
// every metadata filter.
type PerImagePolicy struct {
	Statuses, Owners, Visibilities []string
}

// Bounds of the policy's values: a status and a visibility are cut at 64 bytes by the
// client, an owner at 255.
const (
	maxPolicyStatus = 64
	maxPolicyOwner  = 255
)

// visibilities are the values of Glance's and IMS's visibility.
var visibilities = []string{"public", "private", "shared", "community"}

// fieldFilter is what one field of the policy lets through: an image whose value is one of
// in (any when in is empty) and none of out.
type fieldFilter struct {
	field   string // the field, as its flag names it: status, owner, visibility
	in, out []string
}

// passes reports whether img's value of the field passes the filter.
func (f fieldFilter) passes(img *client.Image) bool {
	var v string
	switch f.field {
	case "status":
		v = img.Status
	case "owner":
		v = img.Owner
	default:
		v = img.Visibility
	}
	return (len(f.in) == 0 || slices.Contains(f.in, v)) && !slices.Contains(f.out, v)
}

// String is the filter as a cache key reads it.
func (f fieldFilter) String() string {
	return fmt.Sprintf("%s in %q out %q", f.field, f.in, f.out)
}

// parse checks the policy: the filters of its fields that have values.
func (p PerImagePolicy) parse() ([]fieldFilter, error) {
	var filters []fieldFilter
	for _, field := range []struct {
		name   string
		values []string
		check  func(string) (string, error)
	}{
		{"status", p.Statuses, checkPolicyStatus},
		{"owner", p.Owners, checkPolicyOwner},
		{"visibility", p.Visibilities, checkPolicyVisibility},
	} {
		if len(field.values) == 0 {
			continue
		}
		f := fieldFilter{field: field.name}
		for _, raw := range field.values {
			value, exclude := strings.CutPrefix(raw, "!")
			value, err := field.check(value)
			if err != nil {
				return nil, fmt.Errorf("--images.per-image-%s %.80q: %w", field.name, raw, err)
			}
			if exclude {
				f.out = append(f.out, value)
			} else {
				f.in = append(f.in, value)
			}
		}
		filters = append(filters, f)
	}
	return filters, nil
}

// checkPolicyStatus takes a Nova status in any case: Nova's statuses are upper case.
func checkPolicyStatus(status string) (string, error) {
	switch {
	case status == "":
		return "", fmt.Errorf("want a Nova status such as ACTIVE, or !ACTIVE to exclude it")
	case len(status) > maxPolicyStatus:
		return "", fmt.Errorf("a status is at most %d bytes", maxPolicyStatus)
	case strings.ContainsFunc(status, func(r rune) bool { return !isStatusRune(r) }):
		return "", fmt.Errorf("a status is letters, digits, _ and - (one of %s, or another Nova status)", strings.Join(client.NovaStatuses, ", "))
	}
	return strings.ToUpper(status), nil
}

func isStatusRune(r rune) bool {
	return r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// checkPolicyOwner takes a project id as the API sends it.
func checkPolicyOwner(owner string) (string, error) {
	switch {
	case strings.TrimSpace(owner) == "":
		return "", fmt.Errorf("want a project id, or !ID to exclude it")
	case len(owner) > maxPolicyOwner:
		return "", fmt.Errorf("a project id is at most %d bytes", maxPolicyOwner)
	}
	return owner, nil
}

// checkPolicyVisibility takes one of Glance's and IMS's visibilities.
func checkPolicyVisibility(visibility string) (string, error) {
	if !slices.Contains(visibilities, visibility) {
		return "", fmt.Errorf("want one of %s, or ! before it to exclude it", strings.Join(visibilities, ", "))
	}
	return visibility, nil
}
