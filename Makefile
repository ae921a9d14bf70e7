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

.PHONY: run test lint bench chromium check translations clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core fonts-dejavu-core >/dev/null; \
	fi

run: $(STAMP)
	DEMO_MODE=1 $(FLASK) db upgrade
	DEMO_MODE=1 $(FLASK) seed
	@DEMO_MODE=1 $(FLASK) print-logins
	@echo "Serving on http://127.0.0.1:$(PORT) (Ctrl+C to stop)"
	DEMO_MODE=1 $(BIN)/gunicorn --workers 2 --bind 127.0.0.1:$(PORT) --access-logfile - 'app:create_app()'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: $(STAMP)
	$(FLASK) processes check

test: $(STAMP) chromium lint
	@if $(BIN)/python -c "import sqlalchemy as s; s.create_engine('$(TEST_POSTGRES_URL)', connect_args={'connect_timeout': 3}).connect().close()" 2>/dev/null; then \
	  echo "PostgreSQL answers at $(TEST_POSTGRES_URL): tests run on SQLite and on PostgreSQL"; \
	else \
	  echo "PostgreSQL does not answer at $(TEST_POSTGRES_URL): tests run on SQLite only (PostgreSQL ones are skipped)"; \
	fi
	$(FLASK) processes check
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/bench_engine.py
	$(BIN)/python bench/bench_scoring.py
	$(BIN)/python bench/bench_rescore.py

# After adding user-visible strings: refresh the catalogue, then translate the new entries in the .po file.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o webui/translations/messages.pot .
	$(BIN)/pybabel update -i webui/translations/messages.pot -d webui/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance test-artifacts
