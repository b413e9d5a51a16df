# The two commands a fresh machine needs: `make demo` and `make test`.
# Both build FerretDB (the test server) once into ~/.cache/tidelog; test also builds MinIO (S3)
# and promtool (checks deploy/prometheus's alert rules).

GO ?= go

.PHONY: demo test build bench fuzz ferretdb minio promtool clean

demo: ferretdb
	$(GO) run ./internal/demo

test: ferretdb minio promtool
	scripts/test.sh

build:
	$(GO) build -o bin/ ./cmd/tailerd ./cmd/replayer

# Segment pipeline vs raw lz4, replay engine vs serial baseline (100k entries: long),
# tail/put to a directory, S3 (MinIO) and Kafka (kfake) on the same oplog, and the standby's
# write→segment and write→applied latency at 500 writes/s.
bench: ferretdb minio
	@scripts/postgres.sh
	$(GO) test -run='^$$' -bench='SegmentPipeline|RawLZ4' -benchmem -count=3 ./bench
	$(GO) test -run='^$$' -bench=Replay -benchtime=1x -timeout=3h ./bench
	$(GO) test -run='^$$' -bench='TailTo|PutSegment' -benchmem -benchtime=3x -timeout=1h ./bench
	$(GO) test -run='^$$' -bench=Lag -benchtime=1x -timeout=30m ./bench

# Short fuzz runs of every decoder; FUZZTIME=5m for a longer one.
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzReader -fuzztime=$(FUZZTIME) ./segment
	$(GO) test -run='^$$' -fuzz=FuzzParseName -fuzztime=$(FUZZTIME) ./segment
	$(GO) test -run='^$$' -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./oplog
	$(GO) test -run='^$$' -fuzz=FuzzApply -fuzztime=$(FUZZTIME) ./replay/diff
	$(GO) test -run='^$$' -fuzz=FuzzBuffer -fuzztime=$(FUZZTIME) ./replay/txn
	$(GO) test -run='^$$' -fuzz=FuzzArchive -fuzztime=$(FUZZTIME) -fuzzminimizetime=5s ./dump

ferretdb:
	@scripts/ferretdb.sh >/dev/null

minio:
	@scripts/minio.sh >/dev/null

promtool:
	@scripts/promtool.sh >/dev/null

clean:
	rm -rf bin demo-data
