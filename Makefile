# tinynet developer commands. `make test` is what CI runs (.ci/run); it builds its own virtualenv.
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
DIGITS  := $(abspath ../shared/Data/digits20x20.mat)

# Tests and benchmarks that need real digits read TINYNET_DIGITS; point it at the shared file when it exists.
ifeq ($(origin TINYNET_DIGITS), undefined)
ifneq ($(wildcard $(DIGITS)),)
export TINYNET_DIGITS := $(DIGITS)
endif
endif
export TF_ENABLE_ONEDNN_OPTS := 0
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: test lint train bench bench-quick mutate mutate-with-tf clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test: lint
	$(PY) -m pytest

train: $(STAMP)
	$(VENV)/bin/tinynet train

# Mutation testing (mutmut 3, configured in pyproject.toml); not part of `make test`. See docs/testing.md.
# The fast selection, NumPy only (the TensorFlow tests skip themselves): what a contributor without TensorFlow has.
mutate: $(STAMP)
	rm -rf mutants
	OPENBLAS_NUM_THREADS=1 TINYNET_TESTS_WITHOUT_TF=1 $(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

# The same selection with its TensorFlow parity tests too (slower: a worker running one imports TensorFlow).
mutate-with-tf: $(STAMP)
	rm -rf mutants
	OPENBLAS_NUM_THREADS=1 $(VENV)/bin/mutmut run --max-children 2
	$(VENV)/bin/mutmut results

bench: $(STAMP)
	$(PY) benchmarks/run.py

bench-quick: $(STAMP)
	$(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info mutants
