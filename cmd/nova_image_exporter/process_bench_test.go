package main

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nova-image-exporter/nova_image_exporter/simulator"
)

// BenchmarkExporterProcess measures the exporter as it runs: the binary, built here, in a
// process of its own, lists a generated image set (simulator.Generated: made on demand, never
// held, here or in the simulator) from the simulator served by this process through Glance,
// with per-image series only for the images not ACTIVE and the aggregates of every image,
// and is scraped gzipped as Prometheus asks. It reports, read from /proc/<pid> of the
// exporter alone: its CPU (user+system) per scrape and per listed image, its peak resident
// set (VmHWM, since it started) and its resident set before the first scrape; the gzipped
// answer's size and its series. EXPORTER_BENCH_IMAGES (comma-separated) sets the sizes;
// scripts/bench-million.sh runs it at 100 000 and 1 000 000 images and prints the table.
func BenchmarkExporterProcess(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if env := os.Getenv("EXPORTER_BENCH_IMAGES"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n <= 0 {
				b.Fatalf("EXPORTER_BENCH_IMAGES: %q is no number of images", f)
			}
			sizes = append(sizes, n)
		}
	}
	bin := buildExporter(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("images=%d", n), func(b *testing.B) { benchExporterProcess(b, bin, n) })
	}
}

// exporterBenchArgs are the exporter's flags in the benchmark, beside its address and cloud:
// per-image series for the images not ACTIVE, and room for a listing of minutes.
var exporterBenchArgs = []string{
	"--images.per-image-status=!ACTIVE",
	"--scrape.timeout=30m",
	"--client.timeout=5m",
	"--log.level=warn",
	"--listings.max-bytes=160MiB",
	"--client.max-listing-bytes=160MiB",
}

func benchExporterProcess(b *testing.B, bin string, n int) {
	sim := simulator.New(simulator.Options{
		Generated: simulator.Generated{N: n, Seed: 1, Now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
	})
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	clouds := filepath.Join(b.TempDir(), "clouds.yaml")
	yaml := "clouds:\n  million:\n    image_api: glance\n" + passwordAuth(srv.URL)
	if err := os.WriteFile(clouds, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	addr := loopbackAddress(b)
	var logs bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr, "--cloud=million"}, exporterBenchArgs...)...)
	cmd.Env = append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+clouds, "OS_CLOUD=")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if b.Failed() {
			b.Logf("exporter's log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitServing(b, base)
	pid := cmd.Process.Pid
	startRSS := procStatusBytes(b, pid, "VmRSS")
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	var answer int64
	series := 0
	b.ResetTimer()
	cpu0 := procCPU(b, pid)
	for i := range b.N {
		body := scrapeGzip(b, client, base+"/metrics")
		answer = int64(len(body))
		if i == 0 {
			b.StopTimer()
			series = checkAnswer(b, body)
			b.StartTimer()
		}
	}
	cpu := procCPU(b, pid) - cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(cpu)/float64(b.N)/float64(n), "cpu-ns/image")
	b.ReportMetric(float64(procStatusBytes(b, pid, "VmHWM")), "peak-rss-B")
	b.ReportMetric(float64(startRSS), "start-rss-B")
	b.ReportMetric(float64(answer), "answer-B")
	b.ReportMetric(float64(series), "series")
}

// buildExporter builds the exporter's binary into a temporary directory.
func buildExporter(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "nova_image_exporter")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// loopbackAddress is a free address on 127.0.0.1.
func loopbackAddress(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitServing waits, for at most 30s, until the exporter at base answers.
func waitServing(b *testing.B, base string) {
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("the exporter does not answer: %v", err)
		}
	}
}

// scrapeGzip scrapes u as Prometheus does, gzip asked, and returns the answer as sent.
func scrapeGzip(b *testing.B, client *http.Client, u string) []byte {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1800")
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
		b.Fatalf("scrape: %d %q %v", resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
	}
	return body
}

// checkAnswer decodes a gzipped answer, checks that the listing succeeded, and returns its
// number of series.
func checkAnswer(b *testing.B, body []byte) int {
	zr, err := stdgzip.NewReader(bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	series, up := 0, false
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		series++
		up = up || line == "nova_up 1"
	}
	if err := sc.Err(); err != nil {
		b.Fatal(err)
	}
	if !up {
		b.Fatal("the answer has no nova_up 1: the listing failed")
	}
	return series
}

// procCPU is the user+system CPU time of process pid so far, in nanoseconds.
func procCPU(b *testing.B, pid int) int64 {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command name, which is in parentheses: utime and stime are
	// the 14th and 15th of the whole line, in clock ticks of 1/100 s.
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("/proc/%d/stat: %s", pid, stat)
	}
	return (utime + stime) * int64(10*time.Millisecond)
}

// procStatusBytes is the field (VmRSS, VmHWM) of /proc/<pid>/status, in bytes.
func procStatusBytes(b *testing.B, pid int, field string) int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("/proc/%d/status: %q", pid, line)
			}
			return kb << 10
		}
	}
	b.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}
