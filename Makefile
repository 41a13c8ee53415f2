# skillchain — every entry point a newcomer, CI or a benchmark needs.
# Only Python 3.11+ and make are assumed; the first target run builds .venv.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: test test-slow demo lint sim chaos bench bench-state bench-contracts bench-crypto bench-replay bench-catchup bench-hostile bench-tls bench-wan clean help

help:
	@echo "make demo             run a local validator network with a realistic workload"
	@echo "make test             lint + the whole test suite (what CI runs)"
	@echo "make test-slow        the long tests left out of make test (100,000 bad requests, ...)"
	@echo "make sim SEEDS=N      consensus simulator over N seeds (default 20000) and the node-shell simulator (SHELL_SEEDS=500)"
	@echo "make chaos MINUTES=N VALIDATORS=n   long fault-injection run (JSON on the last line)"
	@echo "make bench-state      state tree and storage benchmarks (JSON on the last line)"
	@echo "make bench            4-, 7- and 12-validator cluster throughput and latency (JSON)"
	@echo "make bench-contracts  contract execution benchmark (JSON on the last line)"
	@echo "make bench-crypto     Ed25519/SHA-256 vs SM2/SM3, and a 4-validator SM2 cluster (JSON)"
	@echo "make bench-replay     audit replay of a >= 100,000-tx chain, credential size/time (JSON)"
	@echo "make bench-catchup    a wiped validator rebuilt from its peers: seconds back to the tip (JSON)"
	@echo "make bench-hostile    connection floods, bad requests, huge bodies, a Byzantine peer (JSON)"
	@echo "make bench-tls        4-validator tx/s with and without TLS in one run: tls_share (JSON)"
	@echo "make bench-wan        12 validators in network namespaces over an emulated WAN (root; ~25 min, BENCH_WAN_QUICK=1 ~6; JSON)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required; set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) lint
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

demo: $(STAMP)
	$(BIN)/python -m cli.main demo $(DEMO_ARGS)

SEEDS ?= 20000
SHELL_SEEDS ?= 500
sim: $(STAMP)
	$(BIN)/python -m tests.consensus.run_sim --seeds $(SEEDS) --n 4,7,10,12 --mutants --shell-seeds $(SHELL_SEEDS)

MINUTES ?= 30
VALIDATORS ?= 4
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos --minutes $(MINUTES) --validators $(VALIDATORS)

BENCH_ARGS ?=
bench: $(STAMP)
	$(BIN)/python -m bench.bench_cluster $(BENCH_ARGS)

bench-state: $(STAMP)
	$(BIN)/python -m bench.bench_state

bench-contracts: $(STAMP)
	$(BIN)/python -m bench.bench_contracts

bench-crypto: $(STAMP)
	$(BIN)/python -m bench.bench_crypto $(BENCH_ARGS)

bench-replay: $(STAMP)
	$(BIN)/python -m bench.bench_replay $(BENCH_ARGS)

bench-catchup: $(STAMP)
	$(BIN)/python -m bench.bench_catchup $(BENCH_ARGS)

bench-hostile: $(STAMP)
	$(BIN)/python -m bench.bench_hostile $(BENCH_ARGS)

bench-tls: $(STAMP)
	$(BIN)/python -m bench.bench_tls $(BENCH_ARGS)

bench-wan: $(STAMP)
	$(BIN)/python -m bench.bench_wan $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis .ruff_cache *.egg-info
