# berth — build, test and demo. Run as root on Debian 12 with Go installed.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:/usr/sbin:/sbin

GO      ?= go
BIN     := bin/berth
SHIM    := $(dir $(BIN))berth-shim
ROOT    ?= /var/lib/berth
PKGS    := runc iptables nftables busybox-static iproute2 gcc musl-tools docker.io
# The shim: C, static (it runs inside containers as their init), against
# musl: 90 KB instead of glibc's 870, and its resident memory with it.
SHIM_CC     ?= $(shell command -v musl-gcc || echo cc)
SHIM_CFLAGS := -static -Os -s -std=gnu11 -Wall -Wextra -Werror

.PHONY: all build test unit tidy e2e fuzz bench lint deps demo demo-down demo-pyapp image clean

all: build

# The shim and container init are a small C program of their own
# (cmd/berth-shim), embedded into berth (internal/shimbin): still one file
# to install, and a shim of well under 1 MiB RSS. The overlay puts the
# built shim where the embed looks for it without writing into the source
# tree; -X passes its digest.
build:
	@mkdir -p $(dir $(SHIM))
	$(SHIM_CC) $(SHIM_CFLAGS) -o $(SHIM) cmd/berth-shim/*.c
	printf '{"Replace":{"%s":"%s"}}\n' "$(CURDIR)/internal/shimbin/berth-shim" "$(abspath $(SHIM))" > $(SHIM).overlay.json
	CGO_ENABLED=0 $(GO) build -trimpath -tags shimembed -overlay $(SHIM).overlay.json \
	  -ldflags="-X github.com/berth-dev/berth/internal/shimbin.sum=$$(sha256sum $(SHIM) | cut -c1-64)" \
	  -o $(BIN) ./cmd/berth

# Install with apt-get only what is missing.
deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all present"; fi

# Unit tests (privileged package tests run too: this needs root), then e2e.
test: deps unit e2e fuzz

unit: tidy
	$(GO) test -count=1 ./...

# go.mod and go.sum are what `go mod tidy` makes of them; CI fails otherwise.
tidy:
	@$(GO) mod tidy -diff || { echo "go.mod is not tidy: run go mod tidy"; exit 1; }
	@cd e2e/testcontainers && $(GO) mod tidy -diff || { echo "e2e/testcontainers/go.mod is not tidy: run go mod tidy there"; exit 1; }

e2e: build
	GO=$(GO) bash hack/e2e.sh

# Each native Go fuzz target for FUZZTIME (default 20s); fails on a
# failing input, which it writes under the package's testdata/fuzz.
fuzz:
	GO=$(GO) bash hack/fuzz.sh

# Figures: the packages' micro-benchmarks, image pull beside skopeo, and
# Compose projects beside Docker Compose and podman-compose (bench/RESULTS.md;
# image builds beside BuildKit and podman build: bench/BUILD-RESULTS.md;
# about 15 minutes, most of it podman-compose).
bench: deps build
	# BERTH_TEST_EXE: the engine's shim benchmark measures the real berth binary.
	BERTH_TEST_EXE=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 3x ./...
	BERTH=$(BIN) bash hack/bench-pull.sh
	BERTH=$(BIN) bash hack/bench-shim.sh
	BERTH=$(BIN) bash hack/bench-develop.sh
	bash hack/bench-deploy.sh
	bash hack/bench-serve.sh $(BIN)
	bash hack/bench-compose.sh
	bash hack/bench-build.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./e2e/
	cd e2e/testcontainers && $(GO) vet -tags e2e .

# The example's image: Debian's busybox-static as a one-layer image.
image: build
	sh hack/busybox-rootfs.sh bin/busybox-rootfs.tar
	$(BIN) --root $(ROOT) image import bin/busybox-rootfs.tar busybox:latest

demo: deps build image
	$(BIN) --root $(ROOT) -f examples/hello/compose.yaml up -d
	@echo
	@$(BIN) --root $(ROOT) -f examples/hello/compose.yaml ps
	@echo
	@echo "The client fetches http://web:8080/ every 2 seconds. Look at:"
	@echo "  $(BIN) -f examples/hello/compose.yaml logs client     # the page, as the client got it"
	@echo "  $(BIN) -f examples/hello/compose.yaml ps              # the containers"
	@echo "  $(BIN) network ls; ip link show type bridge           # the project's bridge"
	@echo "  $(BIN) -f examples/hello/compose.yaml down -v         # remove everything"

# The second example: a Python web app with Redis, PostgreSQL and a worker,
# built by berth from examples/pyapp/Dockerfile on a base made once with
# debootstrap from the Debian mirror (a few minutes; cached under
# /var/cache/berth-examples).
demo-pyapp: deps build
	$(BIN) --root $(ROOT) image inspect pyapp-base:bookworm >/dev/null 2>&1 || \
	  $(BIN) --root $(ROOT) image import "$$(bash examples/pyapp/base.sh)" pyapp-base:bookworm
	$(BIN) --root $(ROOT) -f examples/pyapp/compose.yaml up -d --wait
	@echo
	@echo "http://127.0.0.1:8000/ counts your visits. The development loop:"
	@echo "  $(BIN) -f examples/pyapp/compose.yaml watch      # then edit examples/pyapp/app/views.py"
	@echo "  $(BIN) -f examples/pyapp/compose.yaml down -v     # remove everything"

demo-down: build
	$(BIN) --root $(ROOT) -f examples/hello/compose.yaml down -v

clean:
	rm -rf bin
