package cloud

import (
	"cmp"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
)

// knownKeys are the keys of a clouds.yaml entry that gophercloud's parser or the exporter
// reads, and knownAuthKeys those under its auth:, taken from the yaml tags of the structs
// that decode them.
var (
	knownKeys     = yamlKeys(clouds.Cloud{}, entry{})
	knownAuthKeys = yamlKeys(clouds.AuthInfo{})
)

// yamlKeys collects the yaml tag names of the structs' fields.
func yamlKeys(structs ...any) map[string]bool {
	keys := map[string]bool{}
	for _, s := range structs {
		t := reflect.TypeOf(s)
		for i := range t.NumField() {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name != "" && name != "-" {
				keys[name] = true
			}
		}
	}
	return keys
}

// isKnownKey reports whether key is read by gophercloud or the exporter, or is one of
// openstacksdk's per-service API versions (image_api_version, compute_api_version, ...),
// which a clouds.yaml shared with the openstack CLI often holds.
func isKnownKey(key string, auth bool) bool {
	if auth {
		return knownAuthKeys[key] || isOwnAuthKey(key)
	}
	return knownKeys[key] || strings.HasSuffix(key, "_api_version")
}

// plainKey is what a clouds.yaml key looks like. Anything else may be a value typed as a
// key (`password:secret`, without the space) and is shown only up to its first odd
// character.
var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}`)

// showKey returns key as a warning or an error shows it: whole if plain, else its plain
// start.
func showKey(key string) string {
	start := plainKey.FindString(key)
	if start == key {
		return key
	}
	return start + "…"
}

// UnknownKey is a key of a clouds.yaml or secure.yaml entry that neither the exporter
// nor gophercloud reads: most likely a typo, silently ignored otherwise.
type UnknownKey struct {
	File  string
	Cloud string
	Key   string // "regoin_name", or "auth.usrname" under auth:; cut short if not a plain key
}

// String names the file, the cloud and the key.
func (k UnknownKey) String() string {
	return fmt.Sprintf("%s: cloud %q: unknown key %s is ignored", k.File, k.Cloud, k.Key)
}

// UnknownKeys lists, sorted by file, cloud and key, the keys of every entry (and of its
// auth:) that neither the exporter nor gophercloud reads.
func (c *Clouds) UnknownKeys() []UnknownKey {
	var unknown []UnknownKey
	for _, file := range []struct {
		name    string
		entries map[string]any
	}{{c.File, c.entries}, {c.secureFile, c.secure}} {
		for cloud, raw := range file.entries {
			for _, key := range unknownKeys(raw) {
				unknown = append(unknown, UnknownKey{File: file.name, Cloud: cloud, Key: key})
			}
		}
	}
	slices.SortFunc(unknown, func(a, b UnknownKey) int {
		return cmp.Or(strings.Compare(a.File, b.File), strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Key, b.Key))
	})
	return unknown
}

// unknownKeys lists the unknown keys of one entry's generic YAML; an entry that is not a
// mapping has none here (it fails to load, which says so).
func unknownKeys(raw any) []string {
	var unknown []string
	entry, _ := raw.(map[any]any)
	for k, v := range entry {
		key := fmt.Sprint(k)
		if !isKnownKey(key, false) {
			unknown = append(unknown, showKey(key))
		}
		if key != "auth" {
			continue
		}
		auth, _ := v.(map[any]any)
		for k := range auth {
			if key := fmt.Sprint(k); !isKnownKey(key, true) {
				unknown = append(unknown, "auth."+showKey(key))
			}
		}
	}
	return unknown
}
