package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logfmt/logfmt"

	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
)

// logLines parses every line of a log written with --log.format=format into its fields.
func logLines(t *testing.T, format, log string) []map[string]string {
	t.Helper()
	var lines []map[string]string
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		fields := map[string]string{}
		if format == "json" {
			var raw map[string]any
			if err := json.Unmarshal([]byte(line), &raw); err != nil {
				t.Fatalf("not a JSON line: %v\n%s", err, line)
			}
			for k, v := range raw {
				fields[k] = fmt.Sprint(v)
			}
		} else {
			dec := logfmt.NewDecoder(strings.NewReader(line))
			for dec.ScanRecord() {
				for dec.ScanKeyval() {
					fields[string(dec.Key())] = string(dec.Value())
				}
			}
			if err := dec.Err(); err != nil {
				t.Fatalf("not a logfmt line: %v\n%s", err, line)
			}
		}
		lines = append(lines, fields)
	}
	return lines
}

// checkTimeKey asserts that every line has a level, a message and its time under ts, UTC
// RFC 3339, and no other time key.
func checkTimeKey(t *testing.T, format string, lines []map[string]string) {
	t.Helper()
	for _, fields := range lines {
		ts, err := time.Parse(time.RFC3339Nano, fields["ts"])
		if err != nil || !strings.HasSuffix(fields["ts"], "Z") || ts.Location() != time.UTC {
			t.Errorf("%s: ts %q is not a UTC RFC 3339 time: %v\n%v", format, fields["ts"], err, fields)
		}
		if _, found := fields["time"]; found {
			t.Errorf("%s: a line with a time key besides ts: %v", format, fields)
		}
		if fields["level"] == "" || fields["msg"] == "" {
			t.Errorf("%s: a line without level or msg: %v", format, fields)
		}
	}
}

func TestEveryLogLineHasTheSameTimeKey(t *testing.T) {
	for _, format := range []string{"logfmt", "json"} {
		base, logs := startExporter(t, "--demo", "--log.format="+format)
		scrape(t, base+"/metrics")
		if code, _ := probe(t, base, "cloud=absent"); code != http.StatusBadRequest {
			t.Errorf("probe of an absent cloud: %d", code)
		}
		lines := logLines(t, format, logs.String())
		checkTimeKey(t, format, lines)
		toolkit := 0
		for _, fields := range lines {
			if fields["msg"] == "Listening on" || strings.HasPrefix(fields["msg"], "TLS is") {
				toolkit++
			}
		}
		if toolkit != 2 {
			t.Errorf("%s: %d lines of the exporter toolkit (Listening on, TLS is disabled), want 2:\n%s", format, toolkit, logs)
		}
	}
}

func TestFatalStartupErrorIsOneLogLine(t *testing.T) {
	t.Setenv("OS_CLIENT_CONFIG_FILE", writeClouds(t, "clouds: [broken"))
	for _, format := range []string{"logfmt", "json"} {
		var stderr testlog.Buffer
		err := run(t.Context(), time.Now, []string{"--cloud=any", "--log.format=" + format, "--web.listen-address=" + freeAddress(t)}, nil, &stderr)
		if err == nil || !errors.As(err, new(loggedError)) {
			t.Fatalf("%s: run = %v, want an error it has logged", format, err)
		}
		lines := logLines(t, format, stderr.String())
		checkTimeKey(t, format, lines)
		last := lines[len(lines)-1]
		if last["level"] != "error" || last["err"] != err.Error() {
			t.Errorf("%s: the last line is not the error at level error: %v, want err %q", format, last, err)
		}
		if n := strings.Count(stderr.String(), err.Error()); n != 1 {
			t.Errorf("%s: the error is in %d lines, want 1:\n%s", format, n, stderr.String())
		}
	}
}

// The HTTP server's own errors (here a TLS handshake that fails) are log lines like the others.
func TestHTTPServerErrorsAreLogLines(t *testing.T) {
	dir := t.TempDir()
	selfSignedCert(t, filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	webConfig := filepath.Join(dir, "web-config.yml")
	if err := os.WriteFile(webConfig, []byte("tls_server_config: {cert_file: cert.pem, key_file: key.pem}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, logs := startExporter(t, "--demo", "--log.format=json", "--web.config.file="+webConfig)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = conn.Write([]byte("not a TLS handshake\r\n"))
	_, _ = io.ReadAll(conn) // the server logs the failed handshake, then closes the connection
	conn.Close()
	if !strings.Contains(logs.String(), "TLS handshake error") {
		t.Fatalf("no log line about the failed TLS handshake:\n%s", logs)
	}
	checkTimeKey(t, "json", logLines(t, "json", logs.String()))
}
