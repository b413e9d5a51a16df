# The two commands a fresh machine needs: `make demo` and `make test`.
# Both build FerretDB (the test server) once into ~/.cache/tidelog.

GO ?= go

.PHONY: demo test build bench fuzz ferretdb clean

demo: ferretdb
	$(GO) run ./internal/demo

test: ferretdb
	scripts/test.sh

build:
	$(GO) build -o bin/ ./cmd/tailerd ./cmd/replayer

bench: ferretdb
	$(GO) test -run='^$$' -bench=. -benchmem ./bench

# Short fuzz runs of every decoder; FUZZTIME=5m for a longer one.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzReader -fuzztime=$(FUZZTIME) ./segment
	$(GO) test -run='^$$' -fuzz=FuzzParseName -fuzztime=$(FUZZTIME) ./segment
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./oplog

ferretdb:
	@scripts/ferretdb.sh >/dev/null

clean:
	rm -rf bin demo-data
