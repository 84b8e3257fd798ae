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
	cloudsNode := top.lookup("clouds").value
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
				problems[key.Value] = errorAt(f.file, key, "clouds."+showCloud(key.Value), "given twice (first at line %d)", f.entries.lookup(key.Value).key.Line)
			}
		}
	}
	for _, f := range files {
		for _, e := range f.entries.fields {
			if problems[e.name] != nil {
				continue
			}
			var secrets []string
			for _, other := range files {
				secrets = append(secrets, authSecrets(other.entries.lookup(e.name).value)...)
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
	path := "clouds." + showCloud(name)
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
	for _, f := range keys.fields {
		if f.name == "auth" {
			if err := c.auth(path+".auth", f); err != nil {
				return err
			}
			continue
		}
		if t := keyTypes[f.name]; t != nil {
			if err := c.value(path+"."+showKey(f.name), f, t, &c.redactor); err != nil {
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
	for _, k := range keys.fields {
		t := authKeyTypes[k.name]
		if t == nil && isOwnAuthKey(k.name) {
			t = reflect.TypeFor[string]()
		}
		if t != nil {
			if err := c.value(path+"."+showKey(k.name), k, t, nil); err != nil {
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
	return c.errorf(second, path+"."+showKey(second.Value), "given twice (first at line %d)", keys.lookup(second.Value).key.Line)
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
	auth := keys.lookup("auth").value
	if auth == nil || deref(auth).Kind != yamlv3.MappingNode {
		return nil
	}
	authKeys, _ := fields(deref(auth))
	var values []string
	for _, k := range authKeys.fields {
		if v := deref(k.value); v.Kind == yamlv3.ScalarNode && slices.Contains(secretAuthKeys, k.name) {
			values = append(values, v.Value)
		}
	}
	return values
}

// showCloud is a cloud's name as an error shows it: whole if plain, else quoted. It is
// the name the cloud is chosen by (--cloud), which every error of Load shows; a key in an
// entry is shown by showKey.
func showCloud(name string) string {
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

// fieldList is the keys of a mapping in order, indexed by name: a mapping of many keys
// is checked in time linear in their number.
type fieldList struct {
	fields []field
	index  map[string]int // position in fields, by name
}

// add appends f unless the list has a key of its name; it reports whether it did.
func (l *fieldList) add(f field) bool {
	if _, ok := l.index[f.name]; ok {
		return false
	}
	if l.index == nil {
		l.index = map[string]int{}
	}
	l.index[f.name] = len(l.fields)
	l.fields = append(l.fields, f)
	return true
}

// lookup is the key name, or the zero field if the list has none.
func (l fieldList) lookup(name string) field {
	if i, ok := l.index[name]; ok {
		return l.fields[i]
	}
	return field{}
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
		if !keys.add(field{k.Value, k, v}) {
			twice = append(twice, k)
		}
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
			for _, f := range merged.fields {
				keys.add(f)
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
