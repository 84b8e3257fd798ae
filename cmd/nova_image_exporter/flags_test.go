package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/client"
)

// A bad flag value is named by its flag, says what the flag takes, and points at --help,
// for every type of flag: the exporter's own and exporter-toolkit's.
func TestBadFlagValuesNameTheFlag(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"--images.api=imss", `--images.api: "imss" is not one of nova, glance, ims; see --help`},
		{"--log.level=loud", `--log.level: "loud" is not one of debug, info, warn, error; see --help`},
		{"--log.format=xml", `--log.format: "xml" is not one of logfmt, json; see --help`},
		{"--scrape.timeout=abc", `--scrape.timeout: "abc" is not a duration (e.g. 30s); see --help`},
		{"--scrape.timeout-offset=1", `--scrape.timeout-offset: "1" is not a duration (e.g. 30s); see --help`},
		{"--client.timeout=soon", `--client.timeout: "soon" is not a duration (e.g. 30s); see --help`},
		{"--cache.ttl=1 minute", `--cache.ttl: "1 minute" is not a duration (e.g. 30s); see --help`},
		{"--web.write-margin=x", `--web.write-margin: "x" is not a duration (e.g. 30s); see --help`},
		{"--web.max-requests=many", `--web.max-requests: "many" is not a whole number; see --help`},
		{"--client.max-pages=1e3", `--client.max-pages: "1e3" is not a whole number; see --help`},
		{"--client.max-retries=two", `--client.max-retries: "two" is not a whole number; see --help`},
		{"--client.max-response-bytes=8XB", `--client.max-response-bytes: "8XB" is not a size in bytes (e.g. 8MiB); see --help`},
		{"--client.max-listing-bytes=-1MiB", `--client.max-listing-bytes: "-1MiB" is not a size in bytes (e.g. 8MiB); see --help`},
		{"--images.quota=maybe", `--images.quota: "maybe" is not true or false; see --help`},
		{"--images.per-image-metrics=maybe", `--images.per-image-metrics: "maybe" is not true or false; see --help`},
		{"--web.systemd-socket=maybe", `--web.systemd-socket: "maybe" is not true or false; see --help`},
		{"--scrape.timeout=" + strings.Repeat("x", 100), `--scrape.timeout: "` + strings.Repeat("x", 64) + `"...(cut, 100 bytes in all) is not a duration`},
		{"--no-such-flag", `unknown long flag '--no-such-flag'; see --help`},
		{"--client.max-retries=99", `--client.max-retries must be from 0 to 10, not 99; see --help`},
	} {
		_, err := parseFlags([]string{tc.arg}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.arg, err, tc.want)
		}
	}
}

// Byte sizes take units as README writes them, and plain bytes.
func TestByteFlagsTakeUnits(t *testing.T) {
	for _, flag := range []string{"client.max-response-bytes", "client.max-listing-bytes"} {
		for value, want := range map[string]int64{"8MiB": 8 << 20, "8 MiB": 8 << 20, "8388608": 8 << 20, "8MB": 8 << 20, "1GiB": 1 << 30, "512KiB": 512 << 10, "0": 0} {
			cfg, err := parseFlags([]string{"--" + flag + "=" + value}, io.Discard)
			if err != nil {
				t.Errorf("--%s=%s: %v", flag, value, err)
				continue
			}
			got := map[string]int64{"client.max-response-bytes": cfg.client.MaxResponseBytes, "client.max-listing-bytes": cfg.client.MaxListingBytes}[flag]
			if got != want {
				t.Errorf("--%s=%s: %d, want %d", flag, value, got, want)
			}
		}
	}
}

// --help shows byte sizes with their unit, and every flag still parses its default.
func TestHelpShowsByteSizesWithUnits(t *testing.T) {
	var help strings.Builder
	app, _ := newApp(&help)
	if _, err := app.Parse([]string{}); err != nil {
		t.Fatal(err)
	}
	app.Usage(nil)
	for _, want := range []string{`--client.max-response-bytes=8MiB`, `--client.max-listing-bytes=128MiB`, `--[no-]images.quota`, `--scrape.timeout=60s`} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, help.String())
		}
	}
}

// --images.api takes every image API of the registry the clouds.yaml check and the clients
// read (client.ImageAPIs), and lists them in its error.
func TestImagesAPIFlagTakesEveryImageAPI(t *testing.T) {
	for _, name := range client.ImageAPINames(nil) {
		cfg, err := parseFlags([]string{"--images.api=" + name}, io.Discard)
		if err != nil || cfg.imageAPI != name {
			t.Errorf("--images.api=%s: %v, image API %q", name, err, cfg.imageAPI)
		}
	}
	_, err := parseFlags([]string{"--images.api=cinder"}, io.Discard)
	if want := "is not one of " + strings.Join(client.ImageAPINames(nil), ", "); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("--images.api=cinder: %v, want %q", err, want)
	}
}

// maxHelpChars bounds a flag's help: one short line; the whole story is in the docs.
const maxHelpChars = 122

// Each flag of the exporter's own says what it does in one short line (exporter-toolkit's
// flags are as that library writes them).
func TestHelpStringsAreOneShortLine(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	toolkit := map[string]bool{"web.listen-address": true, "web.config.file": true, "web.systemd-socket": true}
	for _, f := range cfg.flags.Flags {
		if toolkit[f.Name] {
			continue
		}
		if len(f.Help) > maxHelpChars || strings.Contains(f.Help, "\n") {
			t.Errorf("--%s: help of %d characters, want one line of at most %d: %s", f.Name, len(f.Help), maxHelpChars, f.Help)
		}
	}
}

// --listings.timeout bounds a listing that goes on in the background with --cache.ttl: positive,
// and then no shorter than --scrape.timeout, which a listing of a scrape may take.
func TestListingsTimeoutFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // "" for no error
	}{
		{nil, ""},
		{[]string{"--listings.timeout=30s"}, ""},
		{[]string{"--cache.ttl=5m", "--listings.timeout=1m"}, ""},
		{[]string{"--cache.ttl=5m", "--listings.timeout=30s"}, "--listings.timeout must be positive, and with --cache.ttl at least --scrape.timeout (1m0s), not 30s"},
		{[]string{"--listings.timeout=0s"}, "--listings.timeout must be positive"},
		{[]string{"--listings.timeout=soon"}, `--listings.timeout: "soon" is not a duration (e.g. 30s); see --help`},
	} {
		cfg, err := parseFlags(tc.args, io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v: %v, want %q", tc.args, err, tc.want)
		case tc.args == nil && cfg.listingTimeout != 10*time.Minute:
			t.Errorf("--listings.timeout defaults to %s, want 10m", cfg.listingTimeout)
		}
	}
}
