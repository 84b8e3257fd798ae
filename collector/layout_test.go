package collector

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The package comment of collector, and of collector/exposition, names the package's files
// in the order they use each other: each uses only files named before it. handler.go, which
// reads top-down, comes last.
func TestFilesUseOnlyFilesNamedBeforeThem(t *testing.T) {
	t.Run("collector", func(t *testing.T) { checkFileOrder(t, ".", "handler.go") })
	t.Run("exposition", func(t *testing.T) { checkFileOrder(t, "exposition", "") })
}

// checkFileOrder checks the files of the package in dir against the order its package
// comment names them in; last, if the package has it, comes last whatever the comment says.
func checkFileOrder(t *testing.T, dir, last string) {
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	var doc string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if f.Doc != nil {
			doc = f.Doc.Text()
		}
		files = append(files, f)
	}
	fileName := func(pos token.Pos) string { return filepath.Base(fset.File(pos).Name()) }
	order := regexp.MustCompile(`[a-z_]+\.go\b`).FindAllString(doc, -1)
	if slices.Contains(order, last) {
		order = append(slices.DeleteFunc(order, func(name string) bool { return name == last }), last)
	}
	for _, f := range files {
		if name := fileName(f.Pos()); !slices.Contains(order, name) {
			t.Errorf("the package comment does not name %s", name)
		}
	}

	// Only the package's own names matter: its imports are left unresolved.
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{
		Importer: importerFunc(func(string) (*types.Package, error) { return nil, errors.New("not needed") }),
		Error:    func(error) {},
	}
	pkg, _ := conf.Check(dir, fset, files, info)
	for id, obj := range info.Uses {
		if obj.Pkg() != pkg || !obj.Pos().IsValid() {
			continue
		}
		user, owner := fileName(id.Pos()), fileName(obj.Pos())
		if slices.Index(order, owner) > slices.Index(order, user) {
			t.Errorf("%s uses %s of %s, named after it", user, obj.Name(), owner)
		}
	}
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }
