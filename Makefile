# adclick: `make run` starts the whole system locally, `make test` runs every
# test. No cloud account is needed for either.

GO       ?= go
BIN      := bin
SERVICES := redirect cmd/local cmd/clickbench
FUZZTIME ?= 10s
# Packages whose tests are fast enough to run under the race detector.
RACE_PKGS := ./internal/... ./redirect/... ./e2e/...

.PHONY: all build run test unit fuzz lint bench clean-state help

all: build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./redirect ./pipelines/streaming ./cmd/local ./cmd/clickbench ./cmd/btdump ./cmd/streambench

run: build ## start the whole system locally (Ctrl-C stops it)
	$(BIN)/local -bin-dir=$(BIN)

test: lint unit fuzz ## everything CI runs: lint, all tests, a short fuzz

unit: ## go test, with the race detector where it is affordable (not under Beam)
	$(GO) test -count=1 -race $(RACE_PKGS)
	$(GO) test -count=1 ./pipelines/...

fuzz: ## fuzz the token parser briefly (FUZZTIME=10s)
	$(GO) test -run='^$$' -fuzz=FuzzVerify -fuzztime=$(FUZZTIME) ./internal/token

lint: ## go vet, gofmt and go.mod tidiness
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) mod tidy -diff

bench: build ## load tests that print numbers: the click service vs a bare Gin redirect, then the streaming job
	$(BIN)/clickbench
	$(BIN)/streambench -rate=1000 -duration=60s
	$(BIN)/streambench -rate=2000 -duration=60s

clean-state: ## forget local secrets and the spool (.run/)
	rm -rf .run
