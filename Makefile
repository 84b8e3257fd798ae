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

# Release builds, Prometheus style: .build/$(GOOS)-$(GOARCH)/nova_image_exporter (what the
# Dockerfile copies), tarballs in .tarballs/, images $(DOCKER_REPO)/$(DOCKER_IMAGE_NAME)-linux-ARCH.
GOOS                 ?= $(shell $(GO) env GOOS)
GOARCH               ?= $(shell $(GO) env GOARCH)
EXE                  := $(if $(filter windows,$(GOOS)),.exe,)
BUILD_DIR            := .build
TARBALL_DIR          := .tarballs
TARBALL_NAME          = nova_image_exporter-$(VERSION).$(GOOS)-$(GOARCH)
# What the tarball holds beside the binary, as .promu.yml's tarball files (each copied whole):
# the rules and their tests, the dashboard, the docs and the examples that README links to.
TARBALL_FILES        := LICENSE README.md CHANGELOG.md CONTRIBUTING.md alerts dashboards docs examples
CROSSBUILD_PLATFORMS ?= linux/amd64 linux/arm64 linux/ppc64le linux/s390x darwin/amd64 darwin/arm64 windows/amd64 freebsd/amd64
DOCKER               ?= docker
DOCKER_ARCH          ?= $(GOARCH)
DOCKER_REPO          ?= localhost
DOCKER_IMAGE_NAME    ?= nova-image-exporter
DOCKER_IMAGE_TAG     ?= $(VERSION)

.PHONY: all build test lint vet demo realstack-up realstack-down test-integration prometheus test-rules test-dashboards bench bench-million
.PHONY: build-platform crossbuild tarball tarball-pack docker prometheusrule test-examples clean
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
	  $(GO) test -race -count=1 -timeout 30m -tags integration -run Integration -v ./cmd/nova_image_exporter/

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

# The exporter as a process of its own at 100 000 and 1 000 000 generated images: CPU per image
# and peak resident set (minutes).
bench-million:
	bash scripts/bench-million.sh

# A static binary for $(GOOS)-$(GOARCH) (e.g. `make build-platform GOOS=linux GOARCH=arm64`) at
# .build/$(GOOS)-$(GOARCH)/nova_image_exporter, with the same version ldflags as `build`.
build-platform:
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -trimpath -tags netgo,osusergo -ldflags "$(LDFLAGS)" \
	  -o $(BUILD_DIR)/$(GOOS)-$(GOARCH)/nova_image_exporter$(EXE) ./cmd/nova_image_exporter

# build-platform for every platform of CROSSBUILD_PLATFORMS (.promu.yml's crossbuild list).
crossbuild:
	@set -e; for p in $(CROSSBUILD_PLATFORMS); do \
	  echo ">> building $$p"; \
	  $(MAKE) --no-print-directory build-platform GOOS=$${p%/*} GOARCH=$${p#*/}; \
	done

# .tarballs/nova_image_exporter-$(VERSION).$(GOOS)-$(GOARCH).tar.gz: the binary and TARBALL_FILES
# at the paths they have here, so that every path README names is there too.
tarball: build-platform
	$(MAKE) --no-print-directory tarball-pack

# The tarball of the binary build-platform made; a test packs one with a stand-in binary.
tarball-pack:
	rm -rf $(TARBALL_DIR)/$(TARBALL_NAME)
	mkdir -p $(TARBALL_DIR)/$(TARBALL_NAME)
	cp $(BUILD_DIR)/$(GOOS)-$(GOARCH)/nova_image_exporter$(EXE) $(TARBALL_DIR)/$(TARBALL_NAME)/
	cp -R $(TARBALL_FILES) $(TARBALL_DIR)/$(TARBALL_NAME)/
	tar -C $(TARBALL_DIR) --owner=0 --group=0 --sort=name -czf $(TARBALL_DIR)/$(TARBALL_NAME).tar.gz $(TARBALL_NAME)
	rm -rf $(TARBALL_DIR)/$(TARBALL_NAME)
	@echo ">> $(TARBALL_DIR)/$(TARBALL_NAME).tar.gz"

# The container image for linux-$(DOCKER_ARCH), from the Dockerfile. Needs a Docker engine (the
# project's CI machine has the CLI only, so CI does not build images).
docker:
	$(MAKE) --no-print-directory build-platform GOOS=linux GOARCH=$(DOCKER_ARCH)
	$(DOCKER) build -t "$(DOCKER_REPO)/$(DOCKER_IMAGE_NAME)-linux-$(DOCKER_ARCH):$(DOCKER_IMAGE_TAG)" \
	  --build-arg ARCH=$(DOCKER_ARCH) --build-arg OS=linux .

# Regenerate examples/kubernetes/prometheusrule.yaml from alerts/nova_image_exporter.rules.yml
# (a test fails when it is out of date).
prometheusrule:
	bash scripts/prometheusrule.sh > examples/kubernetes/prometheusrule.yaml.tmp
	mv examples/kubernetes/prometheusrule.yaml.tmp examples/kubernetes/prometheusrule.yaml

# The example files: YAML, web-config.yml against the exporter, promtool check config, systemd-analyze
# verify, the PrometheusRule, clouds.yaml. Skips what is missing unless E2E_REQUIRED=1.
test-examples:
	$(GO) test -count=1 -run 'TestExample' -v ./cmd/nova_image_exporter/

clean:
	rm -rf $(BUILD_DIR) $(TARBALL_DIR) nova_image_exporter
