# `make demo`: set up and dub a sample clip hi -> ur with the embedded defaults.
# `make test`: set up and run the whole test suite.
VENV := .venv
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-tests
# Two pytest workers (pytest-xdist): most of the suite's time is subprocess start-up, Prefect
# servers and single-threaded Python, so two share two cores well (the whole suite on the 2-core
# Xeon: 25:45 in one process, 13:46 in two). `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2

.PHONY: setup demo test clean-store

$(STAMP): requirements.lock pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $@

$(TEST_STAMP): $(STAMP)
	bash scripts/setup.sh --tests
	touch $@

setup: $(STAMP)

demo: setup
	$(VENV)/bin/lipsync-sts demo

test: $(TEST_STAMP)
	$(VENV)/bin/python -m pytest -q -ra -n $(TEST_WORKERS) --dist worksteal

clean-store:
	rm -rf artifacts/objects artifacts/tmp artifacts/prefect-results artifacts/locks
