package cloud

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/nova-image-exporter/nova_image_exporter/client"
	yamlv2 "go.yaml.in/yaml/v2"
	yamlv3 "go.yaml.in/yaml/v3"
)

// keyTypes are the Go types that the keys of a clouds.yaml entry, and those under its
// auth:, decode into, taken from the structs that decode them; a key missing here is
// read by nothing (an unknown key) or is a mapping checked key by key (auth:).
var (
	keyTypes     = yamlTypes(clouds.Cloud{}, entry{})
	authKeyTypes = yamlTypes(clouds.AuthInfo{})
)

// secretAuthKeys are the keys under auth: whose values are secrets: a value shown in an
// error is redacted of them.
var secretAuthKeys = []string{"password", "token", "application_credential_secret", "sk", "security_token"}

// maxShownValue bounds a mistyped value that an error shows.
const maxShownValue = 64

// yamlTypes maps the yaml tag names of the structs' fields, inline structs included, to
// their types; the first struct naming a key wins.
func yamlTypes(structs ...any) map[string]reflect.Type {
	types := map[string]reflect.Type{}
	for _, s := range structs {
		t := reflect.TypeOf(s)
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			switch {
			case opts == "inline":
				for k, v := range yamlTypes(reflect.Zero(f.Type).Interface()) {
					if types[k] == nil {
						types[k] = v
					}
				}
			case name != "" && name != "-" && types[name] == nil:
				types[name] = f.Type
			}
		}
	}
	return types
}

// entryNodes are the entries under clouds: of a clouds.yaml or secure.yaml, as parsed
// nodes, which know their line in the file.
type entryNodes struct {
	file    string
	entries fieldList
	twice   []*yamlv3.Node // the key nodes of entries given a second time
}

// parseEntryNodes parses the entries of the YAML text of file. Text that does not parse
// has none (reading it fails on its own).
func parseEntryNodes(file string, text []byte) entryNodes {
	nodes := entryNodes{file: file}
	var doc yamlv3.Node
	if yamlv3.Unmarshal(text, &doc) != nil || len(doc.Content) == 0 {
		return nodes
	}
	root := deref(doc.Content[0])
	if root.Kind != yamlv3.MappingNode {
		return nodes
	}
	top, _ := fields(root)
	cloudsNode := top.get("clouds")
	if cloudsNode == nil || deref(cloudsNode).Kind != yamlv3.MappingNode {
		return nodes
	}
	nodes.entries, nodes.twice = fields(deref(cloudsNode))
	return nodes
}

// checkEntries returns, by cloud, the first mistake of its entry in the first of files
// that has one: an entry or a key given twice, or a value that its key cannot take. A
// value an error shows is redacted of the secrets under auth: of the cloud's entries in
// every file.
func checkEntries(files ...entryNodes) map[string]error {
	problems := map[string]error{}
	for _, f := range files {
		for _, key := range f.twice {
			if problems[key.Value] == nil {
				problems[key.Value] = errorAt(f.file, key, "clouds."+showName(key.Value), "given twice (first at line %d)", f.entries.key(key.Value).Line)
			}
		}
	}
	for _, f := range files {
		for _, e := range f.entries {
			if problems[e.name] != nil {
				continue
			}
			var secrets []string
			for _, other := range files {
				secrets = append(secrets, authSecrets(other.entries.get(e.name))...)
			}
			c := entryChecker{file: f.file, redactor: client.NewRedactor(secrets...)}
			if err := c.entry(e.name, deref(e.value)); err != nil {
				problems[e.name] = err
			}
		}
	}
	return problems
}

// entryChecker checks the entries of one file.
type entryChecker struct {
	file     string
	redactor client.Redactor // of the secrets of the entry checked
}

// entry checks one entry's keys, and those of its auth:.
func (c entryChecker) entry(name string, node *yamlv3.Node) error {
	path := "clouds." + showName(name)
	if node.Kind != yamlv3.MappingNode {
		if isNull(node) {
			return nil // an empty entry: Load says what it lacks
		}
		return c.errorf(node, path, "want a mapping, got %s", kindOf(node, nil))
	}
	keys, twice := fields(node)
	if len(twice) > 0 {
		return c.twice(path, keys, twice[0])
	}
	for _, f := range keys {
		if f.name == "auth" {
			if err := c.auth(path+".auth", f); err != nil {
				return err
			}
			continue
		}
		if t := keyTypes[f.name]; t != nil {
			if err := c.value(path+"."+showName(f.name), f, t, &c.redactor); err != nil {
				return err
			}
		}
	}
	return nil
}

// auth checks the mapping under auth:, whose values an error never shows.
func (c entryChecker) auth(path string, f field) error {
	node := deref(f.value)
	if node.Kind != yamlv3.MappingNode {
		if isNull(node) {
			return nil
		}
		return c.errorf(node, path, "want a mapping, got %s", kindOf(node, nil))
	}
	keys, twice := fields(node)
	if len(twice) > 0 {
		return c.twice(path, keys, twice[0])
	}
	for _, k := range keys {
		t := authKeyTypes[k.name]
		if t == nil && isOwnAuthKey(k.name) {
			t = reflect.TypeFor[string]()
		}
		if t != nil {
			if err := c.value(path+"."+showName(k.name), k, t, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// value checks that f's value decodes into t as gophercloud's parser (YAML 1.1, by
// yaml.v2) decodes it. redactor, if not nil, lets the error show a scalar value,
// redacted; nil shows none.
func (c entryChecker) value(path string, f field, t reflect.Type, redactor *client.Redactor) error {
	budget := maxResolvedNodes
	node := resolveAliases(f.value, &budget)
	if node == nil {
		return c.errorf(deref(f.value), path, "more than %d values once its aliases are expanded", maxResolvedNodes)
	}
	text, err := yamlv3.Marshal(node)
	if err == nil {
		err = yamlv2.Unmarshal(text, reflect.New(t).Interface())
	}
	if err == nil {
		return nil
	}
	return c.errorf(deref(f.value), path, "%s, got %s", want(t), kindOf(node, redactor))
}

// twice is the error of a key given twice in one mapping.
func (c entryChecker) twice(path string, keys fieldList, second *yamlv3.Node) error {
	return c.errorf(second, path+"."+showName(second.Value), "given twice (first at line %d)", keys.key(second.Value).Line)
}

// errorf is an error at node's line of the file, about the key at path.
func (c entryChecker) errorf(node *yamlv3.Node, path, format string, args ...any) error {
	return errorAt(c.file, node, path, format, args...)
}

// errorAt is an error at node's line of file, about the key at path.
func errorAt(file string, node *yamlv3.Node, path, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s: %s", file, node.Line, path, fmt.Sprintf(format, args...))
}

// want says what a key of type t takes.
func want(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "want true or false"
	case reflect.String:
		return "want a string"
	case reflect.Slice:
		return "want a list"
	case reflect.Int, reflect.Int64, reflect.Uint, reflect.Uint64:
		return "want a whole number"
	default:
		return "want a mapping"
	}
}

// kindOf says what a node holds: a mapping, a list, or a scalar, shown (redacted, quoted
// and cut) only when redactor is not nil.
func kindOf(node *yamlv3.Node, redactor *client.Redactor) string {
	switch node.Kind {
	case yamlv3.MappingNode:
		return "a mapping"
	case yamlv3.SequenceNode:
		return "a list"
	}
	if redactor == nil {
		return "a string"
	}
	return client.QuoteTruncated(redactor.Redact(node.Value), maxShownValue)
}

// authSecrets are the scalar values of the secret keys under the auth: of an entry's
// node; none for nil.
func authSecrets(entry *yamlv3.Node) []string {
	if entry == nil || deref(entry).Kind != yamlv3.MappingNode {
		return nil
	}
	keys, _ := fields(deref(entry))
	auth := keys.get("auth")
	if auth == nil || deref(auth).Kind != yamlv3.MappingNode {
		return nil
	}
	authKeys, _ := fields(deref(auth))
	var values []string
	for _, k := range authKeys {
		if v := deref(k.value); v.Kind == yamlv3.ScalarNode && slices.Contains(secretAuthKeys, k.name) {
			values = append(values, v.Value)
		}
	}
	return values
}

// showName is a key or cloud name as an error shows it: whole if plain, else quoted.
func showName(name string) string {
	if plainKey.FindString(name) == name {
		return name
	}
	return client.QuoteTruncated(name, maxShownValue)
}

// field is one key of a mapping, its own or merged into it.
type field struct {
	name  string
	key   *yamlv3.Node
	value *yamlv3.Node
}

type fieldList []field

func (l fieldList) get(name string) *yamlv3.Node {
	for _, f := range l {
		if f.name == name {
			return f.value
		}
	}
	return nil
}

func (l fieldList) key(name string) *yamlv3.Node {
	for _, f := range l {
		if f.name == name {
			return f.key
		}
	}
	return nil
}

// fields are the keys of a mapping as the OpenStack SDK (PyYAML) reads them: its own keys,
// then those merged in by <<: (an alias or a list of aliases, the first naming a key
// winning) that it does not have. twice lists the key nodes of its own keys given a
// second time.
func fields(mapping *yamlv3.Node) (keys fieldList, twice []*yamlv3.Node) {
	var merges []*yamlv3.Node
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		k, v := mapping.Content[i], mapping.Content[i+1]
		if k.Kind == yamlv3.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if keys.key(k.Value) != nil {
			twice = append(twice, k)
			continue
		}
		keys = append(keys, field{k.Value, k, v})
	}
	for _, m := range merges {
		m = deref(m)
		sources := []*yamlv3.Node{m}
		if m.Kind == yamlv3.SequenceNode {
			sources = m.Content
		}
		for _, s := range sources {
			if s = deref(s); s.Kind != yamlv3.MappingNode {
				continue
			}
			merged, _ := fields(s)
			for _, f := range merged {
				if keys.key(f.name) == nil {
					keys = append(keys, f)
				}
			}
		}
	}
	return keys, twice
}

// deref is the node an alias stands for, or node itself.
func deref(node *yamlv3.Node) *yamlv3.Node {
	for node.Kind == yamlv3.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	return node
}

// maxResolvedNodes bounds the nodes of one value once its aliases are expanded: aliases
// of aliases grow exponentially.
const maxResolvedNodes = 10_000

// resolveAliases is node with every alias in it replaced by a copy of what it stands for,
// so that it encodes on its own; node itself is not changed. It returns nil once more
// than *budget nodes have been copied.
func resolveAliases(node *yamlv3.Node, budget *int) *yamlv3.Node {
	node = deref(node)
	if *budget--; *budget < 0 {
		return nil
	}
	if len(node.Content) == 0 {
		return node
	}
	copied := *node
	copied.Anchor = ""
	copied.Content = make([]*yamlv3.Node, len(node.Content))
	for i, child := range node.Content {
		if copied.Content[i] = resolveAliases(child, budget); copied.Content[i] == nil {
			return nil
		}
	}
	return &copied
}

func isNull(node *yamlv3.Node) bool {
	return node.Kind == yamlv3.ScalarNode && node.Tag == "!!null"
}
