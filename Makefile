# kubetune: the two commands a newcomer needs are `make demo` and `make test`.
SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: venv demo test docs browser mlflow-server unit lint format crds manifests images bench bench-mo bench-tracking bench-tuner bench-pbt clean cluster-build cluster-up cluster-down prometheus-up bench-operator

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP)

## demo: set up, then tune an SVC on digits locally (examples/quickstart.yaml)
demo: venv
	$(BIN)/kubetune run examples/quickstart.yaml --fresh

## test: lint, build the local cluster's binaries (cached after the first run), install
## Debian's chromium for the dashboard's browser tests and the MLflow server the tracking
## tests log to when missing, every test
test: lint docs cluster-build browser mlflow-server
	$(BIN)/python -m pytest

mlflow-server:
	hack/mlflow-server.sh >/dev/null

browser:
	hack/browser.sh >/dev/null

unit: venv
	$(BIN)/python -m pytest tests/unit

lint: venv
	$(BIN)/ruff check operator tests benchmarks examples hack docs
	$(BIN)/ruff format --check operator tests benchmarks examples hack docs
	$(BIN)/mypy
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix operator tests benchmarks examples hack
	$(BIN)/ruff format operator tests benchmarks examples hack

## crds: regenerate crds/ from the pydantic models
crds: venv
	$(BIN)/kubetune crds --out crds
	$(BIN)/kubetune crds --out charts/kubetune/crds

## manifests: regenerate manifests/ (kubectl apply -k) from the Helm chart
manifests: venv cluster-build
	. <(hack/env.sh) && $(BIN)/python hack/gen-manifests.py "$$KUBETUNE_BIN_DIR/helm"

## images: the kubetune image (operator + sidecar) from the Dockerfile, with Debian's docker.io
## on a debootstrap base (cached in ~/.cache/kubetune/images); no registry needed
images:
	hack/images.sh

## bench: kubetune's samplers against Optuna (GP, TPE) and Katib's scikit-optimize, in a
## separate virtual environment (.venv-bench: the peers bring torch, about 6 GB with its CUDA
## wheels from PyPI); peers' runs are cached in ~/.cache/kubetune/bench
BENCH_VENV  := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
$(BENCH_STAMP):
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[bench]'
	@rm -f $(BENCH_VENV)/.installed-* && touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) bench-mo
	$(BENCH_VENV)/bin/python benchmarks/run.py --out benchmarks/results/latest.json

## bench-mo: several objectives and constraints against Optuna's TPE, NSGA-II and GP (20 seeds,
## one at a time and 4 at once), early stopping with two objectives, warm starts
bench-mo: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/multi_objective.py --out benchmarks/results/multi-objective.json
	$(BENCH_VENV)/bin/python benchmarks/mo_stopping.py --out benchmarks/results/mo-stopping.json
	$(BENCH_VENV)/bin/python benchmarks/warm_start.py --out benchmarks/results/warm-start.json

## bench-tracking: what MLflow tracking adds to a 200-trial kubetune run (instant trials and
## 2-second ones; with, without, and with the server down; a real mlflow server)
bench-tracking: venv mlflow-server
	$(BIN)/python benchmarks/tracking.py --out benchmarks/results/tracking-instant.json
	$(BIN)/python benchmarks/tracking.py --trial-seconds 2 --out benchmarks/results/tracking-2s.json

## bench-tuner: what one more trial costs a long study: the ask/tell Tuner driven for 10,000
## trials per sampler, and one decision over 500-10,000 finished trials (about 4 minutes)
bench-tuner: venv
	$(BIN)/python benchmarks/tuner_bench.py --out benchmarks/results/tuner.json

## bench-pbt: population-based training's decisions on a toy whose best learning rate falls
## and on an MLP trained epoch by epoch on digits, against the best fixed hyperparameters
## bayesian and random find with the same steps (20 seeds, about 2 minutes)
bench-pbt: venv
	$(BIN)/python benchmarks/pbt_toy.py --out benchmarks/results/pbt-toy.json
	$(BIN)/python benchmarks/pbt_digits.py --out benchmarks/results/pbt-digits.json

## cluster-up: the local Kubernetes cluster (etcd, apiserver, controller manager, scheduler,
## kwok with 2 CPU + 2 GPU fake nodes, and one real node: containerd, kubelet, kube-proxy,
## CoreDNS; KUBETUNE_REAL_NODE=0 leaves it out). The first run builds it from the module proxy.
cluster-build:
	hack/build.sh

cluster-up:
	hack/cluster-up.sh

cluster-down:
	hack/cluster-down.sh

## prometheus-up: Prometheus and the Pushgateway (Debian's packages) on 127.0.0.1
prometheus-up:
	hack/prometheus-up.sh

## bench-operator: 60 studies x 20 in parallel x 60 trials, then 120 x 30 x 60, on kwok nodes:
## pod-ended-to-next-Job latency, API requests and CPU per trial, operator memory (60x20x60:
## 19 min on 2 cores; 120x30x60 needs more cores than that, see the README)
bench-operator: venv cluster-build
	$(BIN)/python benchmarks/operator_bench.py --out benchmarks/results/operator.json

clean:
	rm -rf $(VENV) kubetune-runs .mypy_cache .ruff_cache .pytest_cache

## docs: the documentation site (MkDocs with Material) into site/, warnings as errors: a broken
## link or anchor between pages fails it
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
