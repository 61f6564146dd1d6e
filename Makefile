# The README's commands: `make run` (a local cluster) and `make test` (everything, on a private PostgreSQL).
SHELL := /bin/bash
SWIFT ?= swift

.PHONY: deps build test format chaos run release image bench bench-enqueue bench-http bench-drain bench-batch fuzz

deps:
	@scripts/ensure-deps.sh

build: deps
	$(SWIFT) build

test: deps
	scripts/with-postgres.sh scripts/run-tests.sh

# Applies the committed .swift-format to every Swift file; `make test` fails on any file it would change.
format:
	$(SWIFT) format --in-place --recursive --parallel Sources Tests Package.swift

# The chaos suite alone: 5 nodes under kills, SIGSTOPs, PostgreSQL restarts, a webhook outage and a flaky target,
# then a checker's table (stdout and artifacts/chaos-report.txt). CHAOS_SECONDS=600 for a longer run (default 150);
# CHAOS_SEED repeats a run's choices.
chaos: deps
	scripts/with-postgres.sh bash -c 'swift build --build-tests && swift test --skip-build --filter ChaosTests'

# The release binary (static Swift runtime) in dist/: the same script the Dockerfile's build stage runs.
release: deps
	SWIFT=$(SWIFT) scripts/build-release.sh dist

# The container image (needs a Docker engine; not part of `make test`).
image:
	docker build -t asynctask:local .

# Every throughput figure of the README's Capacity section, on a durable PostgreSQL (fsync, full_page_writes and
# synchronous_commit on, as users run it). `make bench NONDURABLE=1` runs with durability off instead; every
# figure is then labelled NOT DURABLE. pg_stat_statements is loaded to count claim and flush statements.
BENCH_PG_SETTINGS = $(if $(NONDURABLE),-c fsync=off -c synchronous_commit=off -c full_page_writes=off,-c fsync=on -c synchronous_commit=on -c full_page_writes=on) -c shared_preload_libraries=pg_stat_statements
bench: bench-enqueue bench-http bench-drain bench-batch

bench-enqueue: deps
	$(SWIFT) build -c release --product asynctask
	PG_SETTINGS="$(BENCH_PG_SETTINGS)" scripts/with-postgres.sh scripts/bench-enqueue.sh

# The libcurl engine against wrk on a loopback nginx (needs nginx-light and wrk).
bench-http:
	@scripts/ensure-deps.sh nginx-light wrk gcc
	$(SWIFT) build -c release --product asynctask
	scripts/bench-http.sh

# A local cluster: embedded PostgreSQL, example target, 3 nodes, a producer; Ctrl-C stops it.
run: deps
	$(SWIFT) build --product asynctask
	scripts/run-local.sh

# The worker benchmark: drain 200k attempts with 1 and 2 nodes (default and tuned settings) beside the bare-SQL
# ceiling, pickup latency, RSS. BASELINE_BIN=path also runs another build with default settings, in the same run.
bench-drain: deps
	@scripts/ensure-deps.sh nginx-light
	$(SWIFT) build -c release --product asynctask
	PG_SETTINGS="$(BENCH_PG_SETTINGS)" scripts/with-postgres.sh scripts/bench-drain.sh

# Batched delivery (max 100) with 2 nodes beside the bare-SQL ceiling, on a durable PostgreSQL; where the time goes.
bench-batch: deps
	$(SWIFT) build -c release --product asynctask
	PG_SETTINGS="$(BENCH_PG_SETTINGS)" scripts/with-postgres.sh scripts/bench-batch.sh

# The libFuzzer targets of Fuzz/ (config, envelope, JSON-RPC, Retry-After, durations), 5 minutes each;
# `make test` runs them for 10 s each.
fuzz: deps
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} scripts/fuzz.sh
