# Course operations. Every target sets up the environment first when it is missing (idempotent).
#   make course  - environment, data, student releases, then execute + grade every lab (mlbd check)
#   make test    - environment, then the pytest suite
# Use an already active environment (e.g. conda, see environment.yml) with MLBD_USE_ACTIVE_ENV=1.

SHELL := /bin/bash
ifeq ($(MLBD_USE_ACTIVE_ENV),1)
BIN :=
else
BIN := $(CURDIR)/.venv/bin/
export PATH := $(CURDIR)/.venv/bin:$(PATH)
endif
MLBD := $(BIN)mlbd
PYTHON := $(BIN)python

.PHONY: env data release release-check check course test test-fast clean

env:
	@bash scripts/setup_env.sh

data: env
	$(MLBD) data

release: env
	$(MLBD) release

release-check: env
	$(MLBD) release --check

check: data
	$(MLBD) check

course: data release check

test: env
	$(PYTHON) -m pytest

test-fast: env
	$(PYTHON) -m pytest -m "not slow"

clean:
	rm -rf .mlbd-tmp gradebook.db submitted feedback grades autograded/check-report.json .pytest_cache
