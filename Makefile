# The two commands of README.md: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PORT ?= 5000
FLASK := $(BIN)/flask --app app
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TEST_POSTGRES_URL

# Every installed version and its hashes, generated from pyproject.toml by `make lock`: the runtime tree, and the
# runtime tree plus the dev extra (what this venv holds). An upstream release changes nothing without a commit.
LOCK := requirements.lock
DEV_LOCK := requirements-dev.lock
PIP_COMPILE := $(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --annotation-style=line \
	--no-emit-index-url --no-emit-find-links --no-emit-trusted-host $(if $(UPGRADE),--upgrade)
# Every benchmark script; `bench-smoke` runs each in a small size (BENCH_SMOKE=1) so that none can rot.
BENCHES = $(sort $(wildcard bench/bench_*.py))

.PHONY: run test lint check pytest bench bench-smoke lock chromium translations clean
# Prerequisites run in the order written (install, chromium, lint, checks, tests, benchmark smoke).
.NOTPARALLEL:

# Install exactly the dev lock: pip-sync removes what the lock does not list (the project too, installed again
# last without touching its dependencies, and built with the locked setuptools).
$(STAMP): pyproject.toml $(LOCK) $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip-sync --quiet $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# After changing dependencies in pyproject.toml; `make lock UPGRADE=1` also moves unpinned transitive ones on.
lock: $(STAMP)
	export CUSTOM_COMPILE_COMMAND='make lock'; \
	$(PIP_COMPILE) --output-file=$(LOCK) pyproject.toml && \
	$(PIP_COMPILE) --extra=dev --constraint=$(LOCK) --output-file=$(DEV_LOCK) pyproject.toml

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core fonts-dejavu-core >/dev/null; \
	fi

# No control socket: gunicorn's default one is a single path shared by every instance on the machine.
run: $(STAMP)
	DEMO_MODE=1 $(FLASK) db upgrade
	DEMO_MODE=1 $(FLASK) seed
	@DEMO_MODE=1 $(FLASK) print-logins
	@echo "Serving on http://127.0.0.1:$(PORT) (Ctrl+C to stop)"
	DEMO_MODE=1 $(BIN)/gunicorn --workers 2 --bind 127.0.0.1:$(PORT) --no-control-socket --access-logfile - \
	  'app:create_app()'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: $(STAMP)
	$(FLASK) processes check

pytest: $(STAMP)
	@if $(BIN)/python -c "import sqlalchemy as s; s.create_engine('$(TEST_POSTGRES_URL)', connect_args={'connect_timeout': 3}).connect().close()" 2>/dev/null; then \
	  echo "PostgreSQL answers at $(TEST_POSTGRES_URL): tests run on SQLite and on PostgreSQL"; \
	else \
	  echo "PostgreSQL does not answer at $(TEST_POSTGRES_URL): tests run on SQLite only (PostgreSQL ones are skipped)"; \
	fi
	$(BIN)/pytest

test: $(STAMP) chromium lint check pytest bench-smoke

bench: $(STAMP)
	@set -e; for script in $(BENCHES); do echo "# $$script"; $(BIN)/python $$script; done

bench-smoke: $(STAMP)
	@set -e; for script in $(BENCHES); do echo "# $$script (smoke size)"; BENCH_SMOKE=1 $(BIN)/python $$script; done

# After adding user-visible strings: refresh the catalogue, then translate the new entries in the .po file.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o webui/translations/messages.pot .
	$(BIN)/pybabel update -i webui/translations/messages.pot -d webui/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance test-artifacts
