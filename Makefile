# The two set-up commands of the README: `make demo` and `make test`.
SHELL := /bin/bash
GO ?= go
BIN := bin/cryptoshred
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

VAULT_BIN ?= $(shell tools/vault/ensure.sh)
COSIGN = $(shell tools/ensure-tool.sh cosign github.com/sigstore/cosign/v3/cmd/cosign@v3.1.2)
AGE = $(shell tools/ensure-tool.sh age filippo.io/age/cmd/age@v1.3.2)
VERSITYGW = $(shell tools/ensure-tool.sh versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0)
TSA = $(shell tools/ensure-tool.sh timestamp-server github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@v2.1.3)
CHROMIUM = $(shell tools/ensure-chromium.sh)
FUZZTIME ?= 10s

.PHONY: all build vault tools demo test test-go fuzz fuzz-short bench lint clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/cryptoshred
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/age-plugin-cryptoshred ./cmd/age-plugin-cryptoshred

# vault builds the pinned Vault server once into the cache (or finds one).
vault:
	@echo "vault server: $(VAULT_BIN)"

tools: vault
	@echo "cosign: $(COSIGN)"; echo "age: $(AGE)"; echo "versitygw: $(VERSITYGW)"; echo "timestamp-server: $(TSA)"; echo "chromium: $(CHROMIUM)"

# demo runs the whole lifecycle against a local dev Vault.
demo: build
	VAULT_BIN=$(VAULT_BIN) COSIGN_BIN=$(COSIGN) VERSITYGW_BIN=$(VERSITYGW) TSA_BIN=$(TSA) examples/demo/demo.sh

# test runs every test against real Vault servers, then each fuzz target briefly.
test: lint test-go fuzz-short

test-go: tools
	VAULT_BIN=$(VAULT_BIN) COSIGN_BIN=$(COSIGN) AGE_BIN=$(AGE) VERSITYGW_BIN=$(VERSITYGW) TSA_BIN=$(TSA) CHROMIUM_BIN=$(CHROMIUM) CI=$${CI:-1} \
		$(GO) test -count=1 -timeout 30m ./...

lint:
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...

fuzz-short:
	tools/fuzz.sh $(FUZZTIME)

fuzz:
	tools/fuzz.sh $${FUZZTIME:-5m}

# bench measures against references taken in the same run (the age CLI,
# Vault's raw capacity on dev and Raft storage) and takes one case of 1k,
# 10k and 100k backups through the whole lifecycle (SCALE_BENCH_MAX=10000
# for a quicker run); on 2 cores it takes about two hours.
SCALE_BENCH_MAX ?= 100000
bench: tools
	VAULT_BIN=$(VAULT_BIN) AGE_BIN=$(AGE) VERSITYGW_BIN=$(VERSITYGW) SCALE_BENCH_MAX=$(SCALE_BENCH_MAX) \
		$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 180m ./...

clean:
	rm -rf bin
