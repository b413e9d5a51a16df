# The two commands a fresh machine needs: `make demo` and `make test`.
# Both build FerretDB (the test server) once into ~/.cache/tidelog; test also builds MinIO (S3)
# and promtool (checks deploy/prometheus's alert rules).

GO ?= go

.PHONY: demo test build bench fuzz chaos ferretdb minio promtool clean

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

# Every fuzz target of the module (scripts/fuzz.sh finds them), FUZZTIME each; FUZZTIME=5m for a
# longer run. `make test` runs them for 10s each.
FUZZTIME ?= 30s
fuzz:
	scripts/fuzz.sh $(FUZZTIME)

# The full chaos run (20-40 min): tailerd SIGKILLed 50+ times, source restarts, MinIO outages,
# a full spool disk and oplog rollovers under a steady writer, then verify, entry count and
# restores to recorded timestamps; figures in docs/reliability.md. `go test ./chaos` is the short run.
# CHAOS_SEED=N replays a schedule.
chaos: ferretdb minio
	CHAOS=full $(GO) test -count=1 -timeout 90m -v -run '^TestChaos$$' ./chaos

ferretdb:
	@scripts/ferretdb.sh >/dev/null

minio:
	@scripts/minio.sh >/dev/null

promtool:
	@scripts/promtool.sh >/dev/null

clean:
	rm -rf bin demo-data
