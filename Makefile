# make demo  - create .venv, install ember with every backend this machine can run, run the main job
# make test  - same set-up plus the test tools, then the whole suite (conformance on every available device)
# make bench - same set-up, then the benchmarks
# make coverage-docs - regenerate docs/coverage.md (tests/test_coverage_docs.py fails when it is stale)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# a stamp per set of inputs: editing pyproject.toml re-installs, nothing else does
BASE := $(VENV)/.base-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TOOLS := $(VENV)/.tools-$(shell cat pyproject.toml examples/plugin-template/pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test bench clean coverage-docs

$(BASE): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[cpu,demo,opencl,mps]"
	rm -f $(VENV)/.base-*
	touch $@

$(TOOLS): $(BASE) examples/plugin-template/pyproject.toml
	$(PY) -m pip install --quiet -e ".[test,bench,distributed]"
	# CuPy without its CUDA toolkit wheels: on a machine with no GPU the cuda plugin is tested
	# reporting why it is unavailable (ember[cuda] adds the toolkit for real GPUs)
	$(PY) -m pip install --quiet "cupy-cuda12x>=14"
	# the out-of-tree plugin template, so the conformance suite also proves a third-party backend
	$(PY) -m pip install --quiet -e examples/plugin-template
	rm -f $(VENV)/.tools-*
	touch $@

demo: $(BASE)
	EMBER_MPS_DEVICE=$${EMBER_MPS_DEVICE:-cpu} $(PY) -m ember.examples.digits

test: $(TOOLS)
	# one BLAS thread: the suite is thousands of tiny products, where a second thread only spins
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} EMBER_MPS_DEVICE=$${EMBER_MPS_DEVICE:-cpu} $(PY) -m pytest tests

bench: $(TOOLS)
	$(PY) -m pytest benchmarks --benchmark-only --benchmark-columns=min,median,mean,rounds

coverage-docs: $(BASE)
	EMBER_MPS_DEVICE=$${EMBER_MPS_DEVICE:-cpu} $(PY) -m ember coverage --markdown > docs/coverage.md.tmp
	mv docs/coverage.md.tmp docs/coverage.md

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
