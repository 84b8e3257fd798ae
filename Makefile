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

.PHONY: all build test lint vet demo
all: vet lint test build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o nova_image_exporter ./cmd/nova_image_exporter

test:
	$(GO) test -race ./...

vet:
	$(GO) vet ./...

lint:
	$(GOLANGCI_LINT) run ./...

demo:
	$(GO) run ./cmd/nova_image_exporter --demo
