package main

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/alecthomas/units"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// maxShownFlagValue bounds the bad flag value an error quotes.
const maxShownFlagValue = 64

// wantError is a flag value's parse error that says what the flag takes ("a duration
// (e.g. 30s)"); namedValue names the flag and quotes the value.
type wantError string

func (w wantError) Error() string { return "not " + string(w) }

// parsedValue is a flag's value of type T, read by parse; a value parse refuses is a
// wantError of want.
type parsedValue[T any] struct {
	target *T
	parse  func(string) (T, error)
	want   string
	show   func(T) string // the default as --help shows it; nil for fmt.Sprint
}

func (v *parsedValue[T]) Set(s string) error {
	x, err := v.parse(s)
	if err != nil {
		return wantError(v.want)
	}
	*v.target = x
	return nil
}

func (v *parsedValue[T]) String() string {
	if v.show != nil {
		return v.show(*v.target)
	}
	return fmt.Sprint(*v.target)
}

// durationFlag reads a Go duration (30s, 1m30s).
func durationFlag(f *kingpin.FlagClause, target *time.Duration) {
	f.SetValue(&parsedValue[time.Duration]{target: target, parse: time.ParseDuration, want: "a duration (e.g. 30s)"})
}

// intFlag reads a whole number.
func intFlag(f *kingpin.FlagClause, target *int) {
	f.SetValue(&parsedValue[int]{target: target, parse: strconv.Atoi, want: "a whole number"})
}

// bytesFlag reads a size in bytes: plain bytes (8388608) or with a base-2 unit as
// alecthomas/units reads it (8MiB, 8MB, 1GiB512MiB; a space before the unit is allowed).
func bytesFlag(f *kingpin.FlagClause, target *int64) {
	f.SetValue(&parsedValue[int64]{target: target, parse: parseBytes, want: "a size in bytes (e.g. 8MiB)",
		show: func(n int64) string { return units.Base2Bytes(n).String() }})
}

func parseBytes(s string) (int64, error) {
	s = strings.Replace(s, " ", "", 1)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		return n, nil
	}
	n, err := units.ParseBase2Bytes(s)
	if err != nil || n < 0 || n == math.MaxInt64 {
		return 0, errors.New("not a size")
	}
	return int64(n), nil
}

// enumFlag reads one of options.
func enumFlag(f *kingpin.FlagClause, target *string, options ...string) {
	f.SetValue(&parsedValue[string]{target: target, want: "one of " + strings.Join(options, ", "), parse: func(s string) (string, error) {
		if !slices.Contains(options, s) {
			return "", errors.New("not an option")
		}
		return s, nil
	}})
}

// namedValue wraps a flag's value so that an error setting it names the flag and quotes
// the value, cut: every flag's, exporter-toolkit's included.
type namedValue struct {
	kingpin.Value
	name string
}

func (v namedValue) Set(s string) error {
	err := v.Value.Set(s)
	if err == nil {
		return nil
	}
	if want, ok := errors.AsType[wantError](err); ok {
		return fmt.Errorf("--%s: %s is %s", v.name, client.QuoteTruncated(s, maxShownFlagValue), want.Error())
	}
	return fmt.Errorf("--%s: %s: %w", v.name, client.QuoteTruncated(s, maxShownFlagValue), err)
}

// boolValue and repeatableValue keep what kingpin asks of bool and repeatable flags.
type (
	boolValue       struct{ namedValue }
	repeatableValue struct{ namedValue }
)

func (boolValue) IsBoolFlag() bool { return true }

func (repeatableValue) IsCumulative() bool { return true }

// nameFlagErrors wraps the value of every flag of app in a namedValue.
func nameFlagErrors(app *kingpin.Application) {
	for _, model := range app.Model().Flags {
		named := namedValue{Value: model.Value, name: model.Name}
		var value kingpin.Value = named
		switch {
		case model.IsBoolFlag():
			value = boolValue{named}
		case isCumulative(model.Value):
			value = repeatableValue{named}
		}
		app.GetFlag(model.Name).SetValue(value)
	}
}

func isCumulative(v kingpin.Value) bool {
	r, ok := v.(interface{ IsCumulative() bool })
	return ok && r.IsCumulative()
}

// boolArgs rewrites --FLAG=VALUE of a bool flag into --FLAG or --no-FLAG, which kingpin
// takes (it would leave VALUE as a stray argument), and refuses a VALUE that is not true
// or false, naming the flag.
func boolArgs(app *kingpin.Application, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i, arg := range args {
		if arg == "--" {
			return append(out, args[i:]...), nil
		}
		name, value, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		flag := app.GetFlag(name)
		if !ok || !strings.HasPrefix(arg, "--") || flag == nil || !flag.Model().IsBoolFlag() {
			out = append(out, arg)
			continue
		}
		on, err := strconv.ParseBool(value)
		if err != nil {
			return nil, fmt.Errorf("--%s: %s is not true or false", name, client.QuoteTruncated(value, maxShownFlagValue))
		}
		if on {
			out = append(out, "--"+name)
		} else {
			out = append(out, "--no-"+name)
		}
	}
	return out, nil
}
