# Two commands do all the set-up: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# The first interpreter that is Python 3.12 or newer: plain names first, then pyenv's
# installed versions (its shims fail unless a version is selected).
PYTHON ?= $(shell for c in python3.13 python3.12 python3 \
	  $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV); do \
	  if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	    command -v "$$c" || echo "$$c"; break; fi; done)

.PHONY: run test lint format install migrate bench clean mutate axe

$(VENV)/.installed: pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Latchkey needs Python 3.12 or newer; none was found." >&2; exit 1; fi
	@echo "Using $(PYTHON)"
	"$(PYTHON)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

migrate: install
	DEBUG=true $(PY) manage.py migrate --noinput

run: migrate
	DEBUG=true $(PY) manage.py firstrun
	DEBUG=true $(PY) manage.py runserver $(HOST):$(PORT)

# The reference client (soracom-api 0.0.2 pins urllib3<2): its own virtual environment,
# driven by tests/api/test_soracom_client.py in a subprocess.
SORACOM_VENV := .venv-soracom
$(SORACOM_VENV)/.installed: $(VENV)/.installed
	$(PY) -m venv $(SORACOM_VENV)
	$(SORACOM_VENV)/bin/python -m pip install --quiet 'soracom-api==0.0.2'
	touch $@

# axe-core for the accessibility browser tests (tests/browser/test_accessibility.py), the
# exact version of package.json / package-lock.json, into the ignored node_modules/.
# Without npm the step says so and those tests skip, saying why.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else echo "npm not found: the axe-core accessibility tests will be skipped"; fi

axe: node_modules/.installed

test: install $(SORACOM_VENV)/.installed axe
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports  # the layers: security > accounts > console (docs/architecture.md)

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The side-by-side benchmark (bench/peers.py): PostgreSQL by default; for SQLite,
# `make bench BENCH_ARGS="--database sqlite"`. Needs wrk (apt-get install -y wrk); creates
# bench/.venv-peers (the DRF peers) from PyPI on first use.
BENCH_ARGS ?= --database postgres
bench: install
	$(PY) bench/peers.py $(BENCH_ARGS)

# Mutation testing (docs/testing.md "Mutation testing"): mutmut over the security-critical
# modules of [tool.mutmut] in pyproject.toml, then the score per module. Slow, so not part of
# `make test` or .ci/run. Always SQLite in memory (never a shared database), from scratch
# (a survivor's cached verdict would not see a test added since). One module only:
# `make mutate MUTATE_ARGS='"accounts.throttle*"'`.
MUTATE_ARGS ?=
mutate: install
	rm -rf mutants
	@start=$$(date +%s); \
	env -u DATABASE_URL -u REDIS_URL nice -n 10 $(VENV)/bin/mutmut run $(MUTATE_ARGS) > .mutmut-run.log 2>&1; \
	status=$$?; tr '\r' '\n' < .mutmut-run.log | grep -v '^[^ ]* Generating\|^[^ ]* Running \|also copying' | tail -n 4; \
	echo "mutmut ran for $$(( $$(date +%s) - start )) s (log: .mutmut-run.log)"; exit $$status
	$(PY) -m tests.mutation_score

clean:
	rm -rf mutants $(VENV) $(SORACOM_VENV) bench/.venv-peers db.sqlite3 screenshots node_modules
