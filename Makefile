# Build, test and lint nova_image_exporter. Tools are run with `go run` at pinned versions:
# nothing is downloaded but Go modules.
GO            ?= go
GOLANGCI_LINT ?= $(GO) run github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
PKG           := github.com/prometheus/common/version
VERSION       ?= $(shell cat VERSION 2>/dev/null || echo dev)
REVISION      ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH        ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
LDFLAGS       := -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
                 -X $(PKG).BuildUser=$(shell id -un)@$(shell hostname) -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

REALSTACK_DIR ?= /tmp/nova-image-exporter-realstack
export REALSTACK_DIR
PROMETHEUS_DIR ?= /tmp/nova-image-exporter-prometheus
PROMTOOL       ?= $(PROMETHEUS_DIR)/usr/bin/promtool
export PROMETHEUS_DIR

.PHONY: all build test lint vet demo realstack-up realstack-down test-integration prometheus test-rules test-dashboards bench
all: vet lint test build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o nova_image_exporter ./cmd/nova_image_exporter

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

lint:
	$(GOLANGCI_LINT) run ./...
	cd dashboards && $(GOLANGCI_LINT) run --config ../.golangci.yml ./...

demo:
	$(GO) run ./cmd/nova_image_exporter --demo

# A real Keystone + Glance + Nova API (OpenStack Zed from Debian) on loopback; the first run
# installs the packages (apt-get, a minute or two).
realstack-up:
	bash scripts/realstack/up.sh >/dev/null

realstack-down:
	bash scripts/realstack/down.sh

# The integration test against the real stack; it must be up (make realstack-up).
test-integration:
	set -a && . $(REALSTACK_DIR)/env.sh && . $(REALSTACK_DIR)/images.env && set +a && \
	  $(GO) test -race -count=1 -tags integration -run Integration -v ./cmd/nova_image_exporter/

# Debian's prometheus + promtool, unpacked into $(PROMETHEUS_DIR); starts nothing (apt-get: root).
prometheus:
	bash scripts/prometheus/install.sh >/dev/null

test-rules:
	$(PROMTOOL) check rules alerts/nova_image_exporter.rules.yml
	$(PROMTOOL) test rules alerts/tests/*.yml

# Metric names of every dashboard/rule query against the real exporter, and the real-Prometheus
# end-to-end test (skips without `make prometheus` unless E2E_REQUIRED=1).
test-dashboards:
	cd dashboards && $(GO) test -count=1 -v ./...

# Scrape cost at 1 000, 10 000 and 100 000 images against the floor of decoding the bodies.
bench:
	bash scripts/bench.sh
