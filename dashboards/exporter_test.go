package dashboards

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nova-image-exporter/nova_image_exporter/internal/testlog"
)

const (
	dashboardPath = "nova-image-capacity.json"
	rulesPath     = "../alerts/nova_image_exporter.rules.yml"
	ruleTestsPath = "../alerts/tests/nova_image_exporter.rules.test.yml"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// exporterBinary builds ./cmd/nova_image_exporter of the parent module (with its own go.mod) once
// per test run and returns the binary's path.
func exporterBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "nova-image-exporter-dashboards-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "nova_image_exporter")
		goTool := "go"
		if p, err := exec.LookPath("go"); err == nil {
			goTool = p
		} else if root := os.Getenv("GOROOT"); root != "" {
			goTool = filepath.Join(root, "bin", "go")
		}
		started := time.Now()
		cmd := exec.Command(goTool, "build", "-o", binPath, "./cmd/nova_image_exporter")
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build ./cmd/nova_image_exporter: %w\n%s", err, out)
			return
		}
		fmt.Printf("built the exporter in %s\n", time.Since(started).Round(time.Millisecond))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// process is a started program whose output is kept for failure messages.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *testlog.Buffer
	done chan struct{}
}

// startProcess starts bin with args (and env added to the test's), and ends it when the test ends.
func startProcess(t *testing.T, name, bin string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, out: &testlog.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout = p.out
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitHTTP waits (bounded) until url answers 200.
func (p *process) waitHTTP(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before %s answered; its output:\n%s", p.name, p.cmd.ProcessState, url, p.out)
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not answer %s with 200 within %s (last: %s); its output:\n%s", p.name, url, timeout, last, p.out)
}

// startExporter runs the built exporter on a free loopback port with args and returns its base URL.
func startExporter(t *testing.T, env []string, args ...string) (string, *process) {
	t.Helper()
	bin := exporterBinary(t)
	addr := freeAddr(t)
	p := startProcess(t, "nova_image_exporter", bin, env, append([]string{"--web.listen-address=" + addr}, args...)...)
	base := "http://" + addr
	p.waitHTTP(t, base+"/", 20*time.Second)
	return base, p
}

// fetch GETs url (bounded) and returns the body; anything but 200 fails the test.
func fetch(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", url, resp.Status, body)
	}
	return string(body)
}

// exposed describes what an exposition holds: each sample name (histograms expanded to
// _bucket/_sum/_count) with the label names it carries.
type exposed map[string]map[string]bool

func (e exposed) add(text string) error {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return err
	}
	for name, f := range families {
		var names []string
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names = []string{name + "_bucket", name + "_sum", name + "_count"}
		case dto.MetricType_SUMMARY:
			names = []string{name, name + "_sum", name + "_count"}
		default:
			names = []string{name}
		}
		for _, n := range names {
			if e[n] == nil {
				e[n] = map[string]bool{}
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					e[n][l.GetName()] = true
				}
			}
			switch {
			case strings.HasSuffix(n, "_bucket"):
				e[n]["le"] = true
			case f.GetType() == dto.MetricType_SUMMARY && n == name:
				e[n]["quantile"] = true
			}
		}
	}
	return nil
}
