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
CONTROLLER_GEN_VERSION ?= v0.23.0
CONTROLLER_GEN         := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
# promtool runs the chart's alert rule tests (charts/pgbackup/testdata);
# built from the Go module proxy (about 12 min cold, seconds when cached).
PROMTOOL_VERSION       ?= v0.316.0
PROMTOOL               := $(BIN)/promtool-$(PROMTOOL_VERSION)
SETUP_ENVTEST_VERSION  ?= v0.25.1
SETUP_ENVTEST          := $(BIN)/setup-envtest-$(SETUP_ENVTEST_VERSION)
# envtest (the controller tests) needs kube-apiserver and etcd of this
# version. KUBEBUILDER_ASSETS is honoured when set (../shared/ci/provision
# prints it); setup-envtest is only for machines that can download them.
ENVTEST_K8S_VERSION    ?= 1.37.2

# Where `make manifests` writes the CRD and the ClusterRole.
CHART_GENERATED := charts/pgbackup/generated

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

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate the API's DeepCopy methods (controller-gen)
	$(CONTROLLER_GEN) object paths=./controller/api/...

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate the CRD and the controller's ClusterRole into the chart
	rm -rf $(CHART_GENERATED)/crds $(CHART_GENERATED)/rbac
	$(CONTROLLER_GEN) crd rbac:roleName=pgbackup-controller paths=./controller/... \
		output:crd:artifacts:config=$(CHART_GENERATED)/crds \
		output:rbac:artifacts:config=$(CHART_GENERATED)/rbac
	$(MAKE) --no-print-directory chart-manifests

.PHONY: verify
verify: generate manifests tidy fmt vet lint ## Regenerate, tidy, lint, then fail if anything changed
	@if [ -n "$$(git status --porcelain)" ]; then \
		echo "verify: the tree changed or has untracked files; commit the regenerated files:"; \
		git status --porcelain; git --no-pager diff --stat; exit 1; \
	fi

.PHONY: test
# Every suite runs against its real parts; hack/noskip fails the run when
# any test skips instead (only `go test -short`, the unit tests alone,
# skips the container suites).
test: test-images envtest-assets $(PROMTOOL) ## Run unit, envtest, chart and integration tests (needs Docker, the test images, KUBEBUILDER_ASSETS); a skipped test fails it
	PROMTOOL=$(PROMTOOL) $(GO) test -json $(GO_TEST_FLAGS) ./... | $(GO) run ./hack/noskip

.PHONY: test-faults
test-faults: test-images ## Run the fault matrix (test/faults: S3 and network faults, about 5 min) into build/faults.json and print the table
	mkdir -p $(BUILD)
	status=0; $(GO) test -json -count=1 -timeout 15m ./test/faults/ > $(BUILD)/faults.json || status=$$?; \
	$(GO) run ./hack/faultstable -out - $(BUILD)/faults.json; exit $$status

.PHONY: faults-table
faults-table: ## Run test-faults and the rows' tests of other packages, then regenerate docs/faults.md (also when a row fails: the table says so)
	status=0; $(MAKE) --no-print-directory test-faults || status=$$?; \
	others=$$($(GO) run ./hack/faultstable -other-tests); \
	$(GO) test -json -count=1 -timeout 15m -run "$$(head -1 <<<"$$others")" $$(tail -1 <<<"$$others") > $(BUILD)/faults-other.json || status=$$?; \
	$(GO) run ./hack/faultstable -out docs/faults.md $(BUILD)/faults.json $(BUILD)/faults-other.json; exit $$status

.PHONY: envtest-assets
envtest-assets: ## Check that KUBEBUILDER_ASSETS names the envtest binaries
	@if [ -z "$$KUBEBUILDER_ASSETS" ] || [ ! -x "$$KUBEBUILDER_ASSETS/kube-apiserver" ]; then \
		echo "KUBEBUILDER_ASSETS is unset or has no kube-apiserver. Without a registry: run ../shared/ci/provision and"; \
		echo "  source /var/cache/pgbackup-ci/env.sh. With internet: make $(SETUP_ENVTEST) and"; \
		echo "  export KUBEBUILDER_ASSETS=\$$($(SETUP_ENVTEST) use -p path $(ENVTEST_K8S_VERSION))"; \
		exit 1; \
	fi

.PHONY: test-clean
test-clean: ## Remove containers and networks a killed test run left behind
	-docker ps -aq --filter label=org.pgbackup.test=true | xargs -r docker rm -f
	-docker network ls -q --filter label=org.pgbackup.test=true | xargs -r docker network rm

##@ Build

.PHONY: build
build: ## Build bin/pgbackup (static, version stamped)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/pgbackup ./cmd/pgbackup

.PHONY: test-images
test-images: ## Build the PostgreSQL 15, 17 and 18 and the S3 (versitygw) test images (APT_CHECK_VALID_UNTIL)
	rm -rf $(BUILD)/images/postgres && mkdir -p $(BUILD)/images/postgres
	cp images/testing/postgres/* images/debian/add-suite.sh $(BUILD)/images/postgres/
	docker build -q --build-arg SUITE=bookworm -t $(POSTGRES_TEST_IMAGE):15 $(BUILD)/images/postgres
	docker build -q --build-arg SUITE=trixie -t $(POSTGRES_TEST_IMAGE):17 $(BUILD)/images/postgres
	docker build -q --build-arg SUITE=trixie --build-arg FROM_SUITE=sid --build-arg PACKAGE=postgresql-18 \
		--build-arg EXTRA_PACKAGES=postgresql-client-17 \
		--build-arg APT_CHECK_VALID_UNTIL=$(APT_CHECK_VALID_UNTIL) -t $(POSTGRES_TEST_IMAGE):18 $(BUILD)/images/postgres
	rm -rf $(BUILD)/s3 && mkdir -p $(BUILD)/s3
	images/testing/s3/build.sh $(BUILD)/s3
	cp images/testing/s3/Dockerfile $(BUILD)/s3/
	docker build -q -t $(S3_TEST_IMAGE) $(BUILD)/s3

.PHONY: clean
clean: ## Remove build output and installed tools
	rm -rf $(BIN) $(BUILD)

##@ Images and chart

# The images are named <REGISTRY>/<NAME>:<IMAGE_TAG>, or <NAME>:<IMAGE_TAG>
# when REGISTRY is empty. The tag defaults to the chart's appVersion, which
# is the tag the chart installs by default, so `make images` + `kind load` +
# `helm install` work without any --set. Never `latest`: Kubernetes pulls
# :latest images on every start, and there is no registry to pull from here.
CHART_DIR           := charts/pgbackup
CHART_APP_VERSION    = $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' $(CHART_DIR)/Chart.yaml)
REGISTRY            ?=
IMAGE_TAG           ?= $(CHART_APP_VERSION)
CONTROLLER_IMAGE_NAME ?= pgbackup-controller
AGENT_IMAGE_NAME    ?= pgbackup-agent
CONTROLLER_IMAGE    ?= $(if $(REGISTRY),$(REGISTRY)/)$(CONTROLLER_IMAGE_NAME):$(IMAGE_TAG)
AGENT_IMAGE         ?= $(if $(REGISTRY),$(REGISTRY)/)$(AGENT_IMAGE_NAME):$(IMAGE_TAG)
# PostgreSQL major of the agent's client tools and the Debian suite they come
# from (sid, pinned to those packages; trixie has 17); AGENT_PGDG=true
# installs them from apt.postgresql.org instead (any major it carries).
AGENT_PG_MAJOR      ?= 18
AGENT_PG_EXTRA_MAJORS ?= 17
AGENT_PG_SUITE      ?= sid
AGENT_PGDG          ?= false
# false: accept an expired Release file of the extra suite (sid), as a dated
# snapshot of the Debian archive has; signatures are still checked.
APT_CHECK_VALID_UNTIL ?= true

.PHONY: images
images: controller-image agent-image ## Build both images (REGISTRY, IMAGE_TAG (default: chart appVersion), *_IMAGE_NAME, AGENT_PG_MAJOR)

.PHONY: controller-image
controller-image: build ## Build the controller image [REGISTRY/]pgbackup-controller:IMAGE_TAG
	@if [ -z "$(IMAGE_TAG)" ]; then echo "IMAGE_TAG is empty (no appVersion in $(CHART_DIR)/Chart.yaml?)"; exit 1; fi
	rm -rf $(BUILD)/images/controller && mkdir -p $(BUILD)/images/controller
	cp $(BIN)/pgbackup images/controller/Dockerfile $(BUILD)/images/controller/
	docker build -q -t $(CONTROLLER_IMAGE) $(BUILD)/images/controller

.PHONY: agent-image
agent-image: build ## Build the agent image [REGISTRY/]pgbackup-agent:IMAGE_TAG (PostgreSQL AGENT_PG_MAJOR client, default 18)
	@if [ -z "$(IMAGE_TAG)" ]; then echo "IMAGE_TAG is empty (no appVersion in $(CHART_DIR)/Chart.yaml?)"; exit 1; fi
	rm -rf $(BUILD)/images/agent && mkdir -p $(BUILD)/images/agent
	cp $(BIN)/pgbackup images/agent/Dockerfile images/debian/add-suite.sh $(BUILD)/images/agent/
	docker build -q --build-arg PG_MAJOR=$(AGENT_PG_MAJOR) --build-arg PG_SUITE=$(AGENT_PG_SUITE) --build-arg PGDG=$(AGENT_PGDG) \
		--build-arg PG_EXTRA_MAJORS="$(AGENT_PG_EXTRA_MAJORS)" \
		--build-arg APT_CHECK_VALID_UNTIL=$(APT_CHECK_VALID_UNTIL) \
		-t $(AGENT_IMAGE) $(BUILD)/images/agent

.PHONY: chart-manifests
chart-manifests: ## Generate the chart's CRD and ClusterRole templates and README values table (run by manifests)
	$(GO) run ./hack/chartgen -chart $(CHART_DIR) -generated $(CHART_GENERATED)

.PHONY: helm-lint
helm-lint: ## Lint the chart with helm (helm v3 on PATH; source /var/cache/pgbackup-ci/env.sh)
	helm lint --strict $(CHART_DIR)
	helm lint --strict $(CHART_DIR) --set 'metrics.serviceMonitor.enabled=true,metrics.prometheusRule.enabled=true,watchNamespaces={a,b}'

##@ Benchmarks

.PHONY: bench-image
bench-image: test-images ## Build the benchmark image pgbackup-test/bench:17 (PostgreSQL 17 image + awscli, GNU time)
	docker build -q -t pgbackup-test/bench:17 images/testing/bench

.PHONY: bench
bench: bench-image ## Time pg_dump, pg_dump+aws s3 cp, the agent and restores (BENCH_SIZE_MB BENCH_SHAPE BENCH_RUNS BENCH_COMPRESSIONS BENCH_RESTORE_JOBS BENCH_JSON BENCH_BASELINE BENCH_PROFILE: docs/bench.md)
	$(GO) test -tags bench -run TestBench -v -count=1 -timeout 120m ./test/bench/

.PHONY: bench-controller
bench-controller: envtest-assets ## Create 1,000 PostgresBackups on envtest; time until every CronJob exists, manager peak memory (BENCH_RESOURCES=1000)
	$(GO) test -tags bench -run TestBenchController -v -count=1 -timeout 30m ./controller/reconciler/

##@ End to end

# kind and helm: the ones on PATH (../shared/ci/provision puts them there),
# else these pinned versions, installed into ./bin. kubectl must be on PATH.
KIND_VERSION    ?= v0.33.0
HELM_VERSION    ?= v3.22.0
KIND            ?= $(or $(shell command -v kind 2>/dev/null),$(BIN)/kind-$(KIND_VERSION))
HELM            ?= $(or $(shell command -v helm 2>/dev/null),$(BIN)/helm-$(HELM_VERSION))
KIND_NODE_IMAGE ?= kindest/node:v1.37.2
E2E_TIMEOUT     ?= 25m
DEMO_CLUSTER    ?= pgbackup-demo

.PHONY: test-e2e
test-e2e: images test-images $(KIND) $(HELM) ## End-to-end suite on a new kind cluster: helm install, scheduled backups, restore, trigger (E2E_KEEP=1 keeps the cluster)
	KIND=$(KIND) HELM=$(HELM) KIND_NODE_IMAGE=$(KIND_NODE_IMAGE) PGBACKUP_BIN=$(BIN)/pgbackup \
	CONTROLLER_IMAGE=$(CONTROLLER_IMAGE) AGENT_IMAGE=$(AGENT_IMAGE) \
		$(GO) test -tags e2e -count=1 -v -parallel 4 -timeout $(E2E_TIMEOUT) ./test/e2e/

.PHONY: demo
demo: images test-images $(KIND) $(HELM) ## Create (or reuse) the kind cluster pgbackup-demo, back up a sample database, restore it, compare
	KIND=$(KIND) HELM=$(HELM) KIND_NODE_IMAGE=$(KIND_NODE_IMAGE) PGBACKUP_BIN=$(BIN)/pgbackup \
	CONTROLLER_IMAGE=$(CONTROLLER_IMAGE) AGENT_IMAGE=$(AGENT_IMAGE) S3_TEST_IMAGE=$(S3_TEST_IMAGE) \
	DEMO_CLUSTER=$(DEMO_CLUSTER) DEMO_KUBECONFIG=$(BUILD)/demo/kubeconfig \
		hack/demo/demo.sh up

.PHONY: demo-down
demo-down: $(KIND) ## Delete the demo's kind cluster
	KIND=$(KIND) DEMO_CLUSTER=$(DEMO_CLUSTER) DEMO_KUBECONFIG=$(BUILD)/demo/kubeconfig hack/demo/demo.sh down

##@ Tools

$(GOLANGCI_LINT):
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

$(CONTROLLER_GEN):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(PROMTOOL):
	GOBIN=$(BIN) $(GO) install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)
	mv $(BIN)/promtool $@

$(SETUP_ENVTEST):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/controller-runtime/tools/setup-envtest@$(SETUP_ENVTEST_VERSION)
	mv $(BIN)/setup-envtest $@

$(BIN)/kind-$(KIND_VERSION):
	GOBIN=$(BIN) $(GO) install sigs.k8s.io/kind@$(KIND_VERSION)
	mv $(BIN)/kind $@

$(BIN)/helm-$(HELM_VERSION):
	GOBIN=$(BIN) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv $(BIN)/helm $@
