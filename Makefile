# `make demo`: set up and dub a sample clip hi -> ur with the embedded defaults.
# `make test`: set up and run the whole test suite.
VENV := .venv
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-tests

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
	$(VENV)/bin/python -m pytest -q -ra

clean-store:
	rm -rf artifacts/objects artifacts/tmp artifacts/prefect-results artifacts/locks
