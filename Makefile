# usmhub — build, run, test.
#   make run    builds the hub and its connectors and starts the daemon on config.example.hcl
#   make test   runs every test (vet, generated-code check, unit, CLI and end-to-end tests)
#   make install  installs usmhub, its connectors, a config and a systemd unit (PREFIX, DESTDIR)

GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
CONNECTORS := $(notdir $(wildcard connectors/*))
# Connector plugins are built static (no cgo: none needs it, and a dynamic
# binary pays the loader at every launch), without gRPC's x/net/trace
# (grpcnotrace) and without symbol table and DWARF (-s -w: a third smaller,
# so the hub's sha256 of a binary at its first launch costs a third less;
# panics still print full stack traces). A plugin process then reaches its
# handshake several ms of CPU sooner (docs/BENCHMARKS.md, "Launch to first
# call"). The hub keeps cgo: its SQLite driver (mattn/go-sqlite3) needs it.
# plugins/connectortest.BuildBinary and plugins/host's tests build the same way.
CONNECTOR_GOENV   := CGO_ENABLED=0
CONNECTOR_GOFLAGS := -tags grpcnotrace -ldflags '-s -w'

.PHONY: all build run tour test bench proto vet clean install fuzz

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/usmhub ./cmd/usmhub
	@for c in $(CONNECTORS); do \
		if ls connectors/$$c/*.go >/dev/null 2>&1; then \
			$(CONNECTOR_GOENV) $(GO) build $(CONNECTOR_GOFLAGS) -o $(BIN)/usmhub-connector-$$c ./connectors/$$c || exit 1; \
		fi; \
	done

# run: the daemon on config.example.hcl with the example spreadsheet folder
# (copied once into data/sheet) on the embedded store; Ctrl-C stops it.
run: build
	@mkdir -p data/sheet && cp -n examples/sheet/*.csv data/sheet/ 2>/dev/null || true
	$(BIN)/usmhub -config config.example.hcl serve

# tour: the five-minute CLI tour of examples/tour.sh on a scratch copy.
tour: build
	@rm -rf /tmp/usmhub-tour && mkdir -p /tmp/usmhub-tour/data/sheet && cp config.example.hcl /tmp/usmhub-tour/usmhub.hcl && cp examples/sheet/*.csv /tmp/usmhub-tour/data/sheet/
	./examples/tour.sh $(BIN)/usmhub /tmp/usmhub-tour/usmhub.hcl

# install: usmhub and every built connector into $(BINDIR) (the hub finds
# connectors next to itself), the service's config into $(SYSCONFDIR)/usmhub
# (usmhub.hcl only when there is none; the shipped one always as
# usmhub.hcl.example), the systemd unit and its sysusers.d entry. DESTDIR
# stages it all for a package. Then, as root: systemd-sysusers &&
# systemctl daemon-reload && systemctl enable --now usmhub (README.md).
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d

install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/usmhub $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 0755 $(BIN)/usmhub $(DESTDIR)$(BINDIR)/usmhub
	@for c in $(BIN)/usmhub-connector-*; do \
		[ -f "$$c" ] || continue; \
		echo "install -m 0755 $$c $(DESTDIR)$(BINDIR)/"; install -m 0755 "$$c" $(DESTDIR)$(BINDIR)/ || exit 1; \
	done
	install -m 0644 deploy/usmhub.hcl $(DESTDIR)$(SYSCONFDIR)/usmhub/usmhub.hcl.example
	@[ -e $(DESTDIR)$(SYSCONFDIR)/usmhub/usmhub.hcl ] || { echo "install -m 0644 deploy/usmhub.hcl $(DESTDIR)$(SYSCONFDIR)/usmhub/usmhub.hcl"; install -m 0644 deploy/usmhub.hcl $(DESTDIR)$(SYSCONFDIR)/usmhub/usmhub.hcl; }
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' deploy/usmhub.service.in > $(DESTDIR)$(UNITDIR)/usmhub.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/usmhub.service
	install -m 0644 deploy/usmhub.sysusers $(DESTDIR)$(SYSUSERSDIR)/usmhub.conf

# STATICCHECK: staticcheck v0.8.2 (.ci/run installs it); the checks turned
# off, each with its reason, are in staticcheck.conf.
STATICCHECK ?= $(shell command -v staticcheck 2>/dev/null || ls $$($(GO) env GOPATH)/bin/staticcheck 2>/dev/null)

vet:
	$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(GO) vet ./...
	@test -n "$(STATICCHECK)" || { echo "staticcheck is missing: go install honnef.co/go/tools/cmd/staticcheck@v0.8.2"; exit 1; }
	$(STATICCHECK) ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$'); exit 1; }

test: vet
	$(GO) test -count=1 -timeout 20m ./...

# fuzz: every fuzz target for FUZZTIME each, one after the other (docs/FUZZING.md).
FUZZTIME ?= 30s
FUZZ_TARGETS := core/config:FuzzLoad core/ingest:FuzzImport core/ingest:FuzzFormulaRoundTrip \
	core/ingest:FuzzImportXLSX core/report:FuzzText core/report:FuzzReportEscaping \
	plugins/internal/wire:FuzzRecordFromProto core/store:FuzzFieldsJSON

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn in ./$$pkg for $(FUZZTIME)"; \
		$(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s || exit 1; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -timeout 30m ./... | tee bench.txt

proto:
	./plugins/internal/proto/gen.sh

clean:
	rm -rf $(BIN) data
