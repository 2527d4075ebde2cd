# adclick: `make run` starts the whole system locally, `make test` runs every
# test. No cloud account is needed for either.

GO       ?= go
BIN      := bin
SERVICES := redirect cmd/local cmd/clickbench
# Fuzz budgets are execution counts, about 20 s each on the 2-core CI
# machine, not durations: Go 1.26's fuzz coordinator can fail a run whose
# -fuzztime duration ends while a worker is mid-call ("context deadline
# exceeded", no failing input; golang/go#75804, fixed in Go 1.27). A
# count has no deadline to race. FUZZTIME=10m by hand overrides them all.
FUZZTIME ?=
fuzz_budget = $(if $(FUZZTIME),$(FUZZTIME),$(1))
# Packages whose tests are fast enough to run under the race detector.
RACE_PKGS := ./internal/... ./redirect/... ./reports/... ./e2e/...

.PHONY: all build run batch test unit fuzz lint tf-check tf-test proof proof-short images bench duckbench clean-state help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./redirect ./reports ./pipelines/streaming ./pipelines/batch ./cmd/...

run: build ## start the whole system locally (Ctrl-C stops it)
	$(BIN)/local -bin-dir=$(BIN)

test: lint unit tf-check proof-short fuzz ## everything CI runs: lint, all tests, the Terraform checks, the short system proof, a short fuzz

unit: ## go test, with the race detector where it is affordable (not under Beam)
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 ./pipelines/...

fuzz: ## fuzz the token parser, the click event decoder, the streaming parse, the click-batch coder, the nightly's archive reader and the archive decoder, about 20 s each (a count of executions; longer by hand: FUZZTIME=10m)
	$(GO) test -run='^$$' -fuzz=FuzzVerify -fuzztime=$(call fuzz_budget,1500000x) ./internal/token
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(call fuzz_budget,1500000x) ./internal/clickevent
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(call fuzz_budget,90000x) ./pipelines/speed
	$(GO) test -run='^$$' -fuzz=FuzzDecode -fuzztime=$(call fuzz_budget,250000x) ./pipelines/clickbatch
	$(GO) test -run='^$$' -fuzz=FuzzReadArchive -fuzztime=$(call fuzz_budget,10000x) ./pipelines/nightly
	$(GO) test -run='^$$' -fuzz=FuzzFixedReader -fuzztime=$(call fuzz_budget,90000x) ./internal/rawarchive

# Terraform 1.5.7, built from the Go module proxy (about 3 minutes the first
# time; the Go build cache keeps it after that).
TERRAFORM_VERSION := 1.5.7
TERRAFORM := $(BIN)/terraform-$(TERRAFORM_VERSION)

$(TERRAFORM):
	@mkdir -p $(BIN)
	GOBIN=$(abspath $(BIN))/tf-$(TERRAFORM_VERSION) $(GO) install github.com/hashicorp/terraform@v$(TERRAFORM_VERSION)
	mv $(BIN)/tf-$(TERRAFORM_VERSION)/terraform $(TERRAFORM) && rmdir $(BIN)/tf-$(TERRAFORM_VERSION)

tf-check: $(TERRAFORM) ## terraform fmt, and the Go checks of flags and names between code and deployment
	TF_CLI_CONFIG_FILE=/dev/null $(TERRAFORM) fmt -check -recursive -diff terraform/
	$(GO) test -count=1 ./terraform/

# terraform validate and terraform test (mocked providers, Terraform >= 1.11)
# need the Google providers, which no registry reachable here serves: build
# them from source into a filesystem mirror and point TF_CLI_CONFIG_FILE at
# a config using it (docs/deploy.md, "What is checked here"). Without one
# the target says it skipped.
TERRAFORM_TEST ?= terraform

tf-test: ## terraform init, validate and test (terraform/tests) against a provider mirror (TF_CLI_CONFIG_FILE)
	@if [ -z "$$TF_CLI_CONFIG_FILE" ] || [ ! -s "$$TF_CLI_CONFIG_FILE" ]; then \
		echo "tf-test: SKIPPED: no provider mirror (set TF_CLI_CONFIG_FILE; see docs/deploy.md)"; exit 0; fi; \
	cd terraform && $(TERRAFORM_TEST) init -backend=false -input=false >/dev/null && \
	$(TERRAFORM_TEST) validate && $(TERRAFORM_TEST) test

PROOF_RATE     ?= 1000
PROOF_DURATION ?= 10m

proof: build ## the system proof: load, faults and hostile input across the whole local stack, nothing lost (PROOF_RATE, PROOF_DURATION)
	$(BIN)/proof -rate=$(PROOF_RATE) -duration=$(PROOF_DURATION)

proof-short: build ## the system proof's CI form: 130 s of load, same faults and assertions
	$(BIN)/proof -short

REGISTRY ?=
TAG      ?= $(shell git rev-parse --short HEAD)
TEMPLATES ?=

images: ## build and push the images, stage the Flex Templates (REGISTRY=… TEMPLATES=gs://…/templates [TAG=…])
	@test -n "$(REGISTRY)" -a -n "$(TEMPLATES)" || { echo "usage: make images REGISTRY=REGION-docker.pkg.dev/PROJECT/REPO TEMPLATES=gs://BUCKET/templates"; exit 2; }
	for s in redirect reports streaming batch; do docker build -f deploy/$$s.Dockerfile -t $(REGISTRY)/$$s:$(TAG) . && docker push $(REGISTRY)/$$s:$(TAG) || exit 1; done
	for j in streaming batch; do gcloud dataflow flex-template build $(TEMPLATES)/$$j-$(TAG).json --image $(REGISTRY)/$$j:$(TAG) \
		--sdk-language GO --metadata-file deploy/$$j-metadata.json || exit 1; done
	@echo "deployed tag: $(TAG) (terraform: image_tag = \"$(TAG)\")"

lint: ## go vet, gofmt, go.mod tidiness, and no large file or binary committed
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff
	@bad=$$(git ls-files | while read -r f; do [ -f "$$f" ] || continue; \
		[ "$$(stat -c %s "$$f")" -gt 1048576 ] && echo "over 1 MB: $$f"; \
		[ "$$(head -c4 "$$f" | od -An -tx1 | tr -d ' \n')" = "7f454c46" ] && echo "executable: $$f"; done; true); \
	if [ -n "$$bad" ]; then echo "build outputs or large files are tracked (make build writes to bin/):"; echo "$$bad"; exit 1; fi

STREAM_RATE     ?= 10000
STREAM_DURATION ?= 10m
BATCH_CLICKS    ?= 1000000,10000000

bench: build duckbench ## load tests that print numbers: click service, streaming job (STREAM_RATE, STREAM_DURATION), batch job against DuckDB, reports queries
	$(BIN)/clickbench
	$(BIN)/streambench -rate=$(STREAM_RATE) -duration=$(STREAM_DURATION)
	$(BIN)/batchbench -clicks=$(BATCH_CLICKS)
	$(BIN)/batchbench -history=1,60
	$(BIN)/reportbench -rate=200 -duration=30s

# The nightly's anchor, DuckDB, is its own module (cgo and a large static
# library the product never carries): built for the bench only.
duckbench:
	cd bench/duckdb && $(GO) build -o $(CURDIR)/$(BIN)/duckbench .

# The local stack's Bigtable emulator, as every other local command finds it.
batch: build ## reconcile one UTC day from the local archive (DATE=YYYY-MM-DD, default yesterday; or FROM= TO=)
	BIGTABLE_EMULATOR_HOST=$${BIGTABLE_EMULATOR_HOST:-127.0.0.1:8086} GOMEMLIMIT=$${GOMEMLIMIT:-2400MiB} $(BIN)/batch --runner=prism $(if $(DATE),--date=$(DATE)) $(if $(FROM),--from=$(FROM) --to=$(TO)) \
		--archive=.run/archive --output=.run/warehouse

clean-state: ## forget local secrets and the spool (.run/)
	rm -rf .run
