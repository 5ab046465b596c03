# pgbackup — build, test and verify.
#
# Every tool is pinned and installed into ./bin with `go install`; nothing is
# assumed on PATH but Go, git, make and (for images and integration tests)
# Docker. `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

PKG      := github.com/pgbackup/pgbackup
BIN      := $(CURDIR)/bin
BUILD    := $(CURDIR)/build
GO       ?= go

VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT   ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X $(PKG)/internal/version.Version=$(VERSION) -X $(PKG)/internal/version.Commit=$(COMMIT)

# ---- pinned tools ------------------------------------------------------------
GOLANGCI_LINT_VERSION ?= v2.15.0
GOLANGCI_LINT         := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)

# ---- test images -------------------------------------------------------------
# Built locally: nothing is pulled. The Dockerfiles start FROM debian:*-slim,
# which machines without registry access build first (../shared/ci/provision).
POSTGRES_TEST_IMAGE := pgbackup-test/postgres
VERSITYGW_VERSION    = $(shell cd images/testing/s3/tools && $(GO) list -m -f '{{.Version}}' github.com/versity/versitygw)
S3_TEST_IMAGE        = pgbackup-test/s3:$(VERSITYGW_VERSION)

# No Ryuk image can be pulled without a registry; the fixtures clean up with
# t.Cleanup instead. Export TESTCONTAINERS_RYUK_DISABLED=false to use Ryuk.
export TESTCONTAINERS_RYUK_DISABLED ?= true
GO_TEST_FLAGS ?= -count=1 -timeout 30m

##@ General

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: fmt
fmt: $(GOLANGCI_LINT) ## Format the code (gofmt, goimports)
	$(GOLANGCI_LINT) fmt ./...

.PHONY: vet
vet: ## Run go vet
	$(GO) vet ./...

.PHONY: lint
lint: $(GOLANGCI_LINT) ## Run golangci-lint (config: .golangci.yml)
	$(GOLANGCI_LINT) run ./...

.PHONY: tidy
tidy: ## Tidy go.mod and go.sum (the main and the tools modules)
	$(GO) mod tidy
	cd images/testing/s3/tools && $(GO) mod tidy

.PHONY: verify
verify: tidy fmt vet lint ## Regenerate, tidy, lint, then fail if anything changed
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "verify: the tree changed or has untracked files; commit the regenerated files:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

.PHONY: test
test: test-images ## Run unit and integration tests (needs Docker and the test images)
	$(GO) test $(GO_TEST_FLAGS) ./...

.PHONY: test-clean
test-clean: ## Remove containers and networks a killed test run left behind
	-docker ps -aq --filter label=org.pgbackup.test=true | xargs -r docker rm -f
	-docker network ls -q --filter label=org.pgbackup.test=true | xargs -r docker network rm

##@ Build

.PHONY: build
build: ## Build bin/pgbackup (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pgbackup ./cmd/pgbackup

.PHONY: test-images
test-images: ## Build the PostgreSQL 15 and 17 and the S3 (versitygw) test images
	docker build -q --build-arg SUITE=bookworm -t $(POSTGRES_TEST_IMAGE):15 images/testing/postgres
	docker build -q --build-arg SUITE=trixie -t $(POSTGRES_TEST_IMAGE):17 images/testing/postgres
	rm -rf $(BUILD)/s3 && mkdir -p $(BUILD)/s3
	images/testing/s3/build.sh $(BUILD)/s3
	cp images/testing/s3/Dockerfile $(BUILD)/s3/
	docker build -q -t $(S3_TEST_IMAGE) $(BUILD)/s3

.PHONY: clean
clean: ## Remove build output and installed tools
	rm -rf $(BIN) $(BUILD)

##@ Benchmarks

.PHONY: bench-image
bench-image: test-images ## Build the benchmark image pgbackup-test/bench:17 (PostgreSQL 17 image + awscli, GNU time)
	docker build -q -t pgbackup-test/bench:17 images/testing/bench

.PHONY: bench
bench: bench-image ## Time pg_dump, pg_dump+aws s3 cp and the agent (BENCH_SIZE_MB=1024 BENCH_RUNS=1)
	$(GO) test -tags bench -run TestBench -v -count=1 -timeout 60m ./test/bench/

##@ Tools

$(GOLANGCI_LINT):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@
