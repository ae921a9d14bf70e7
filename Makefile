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
# The browser-side code: bpmn-js, dmn-js, dexie and workbox exactly as package-lock.json lists them, bundled by esbuild into
# webui/static/build/ (never committed), one script and one stylesheet per page kind.
NODE_STAMP := node_modules/.installed-stamp
ASSETS := webui/static/build
ASSETS_STAMP := $(ASSETS)/.built-stamp
ASSET_ENTRIES := $(addprefix webui/static/src/,process-viewer.js process-modeler.js dmn-editor.js text-editor.js \
  field-app.js field-sw.js)

.PHONY: run test lint check pytest bench bench-smoke lock assets chromium fonts translations clean
# Prerequisites run in the order written (install, assets, chromium, lint, checks, tests, benchmark smoke).
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

# `npm ci` installs exactly the lock, again only when it changes. Install scripts stay off (allowScripts in
# package.json): none of these packages needs one.
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20 or newer with npm is needed to build the diagram editors"; exit 1; }
	npm ci --include=dev --no-audit --no-fund
	touch $(NODE_STAMP)

# Minified bundles with their stylesheets and the icon fonts these name; esbuild prints each file's size.
$(ASSETS_STAMP): $(NODE_STAMP) $(wildcard webui/static/src/*)
	rm -rf $(ASSETS)
	node_modules/.bin/esbuild $(ASSET_ENTRIES) --bundle --minify --format=iife --target=es2020 --outdir=$(ASSETS) \
	  --loader:.woff2=file --loader:.woff=file --loader:.ttf=file --loader:.eot=file --loader:.svg=file \
	  --asset-names=fonts/[name]-[hash]
	touch $(ASSETS_STAMP)

assets: $(ASSETS_STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core fonts-dejavu-core >/dev/null; \
	fi

# The decision letters' PDF font (DejaVu Sans shapes Arabic and Latin alike). Without it the PDF link says so.
LETTER_FONT := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
fonts:
	@if [ ! -f $(LETTER_FONT) ]; then \
	  echo "installing Debian's fonts-dejavu-core for the decision letters"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >/dev/null) \
	    || echo "fonts-dejavu-core could not be installed: letters are served as pages, not as PDF"; \
	fi

# No control socket: gunicorn's default one is a single path shared by every instance on the machine.
run: $(STAMP) assets fonts
	DEMO_MODE=1 $(FLASK) db upgrade
	@# Deploys the shipped files when they pass the checks and differ from the latest version; broken files
	@# are listed and the server still starts, with new cases on the last good version.
	DEMO_MODE=1 $(FLASK) processes deploy || echo "The process files were not deployed (see above)."
	DEMO_MODE=1 $(FLASK) seed
	@DEMO_MODE=1 $(FLASK) print-logins
	@echo "Serving on http://127.0.0.1:$(PORT) with one timer worker (Ctrl+C stops both)"
	@# The worker fires BPMN timers and sends due messages beside the server; the trap stops it with the server.
	DEMO_MODE=1 $(FLASK) worker & worker=$$!; trap 'kill -TERM $$worker 2>/dev/null; wait $$worker' EXIT; \
	DEMO_MODE=1 $(BIN)/gunicorn --workers 2 --bind 127.0.0.1:$(PORT) --no-control-socket --access-logfile - \
	  'app:create_app()'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

check: $(STAMP)
	$(FLASK) processes check

pytest: $(STAMP) assets
	@if $(BIN)/python -c "import sqlalchemy as s; s.create_engine('$(TEST_POSTGRES_URL)', connect_args={'connect_timeout': 3}).connect().close()" 2>/dev/null; then \
	  echo "PostgreSQL answers at $(TEST_POSTGRES_URL): tests run on SQLite and on PostgreSQL"; \
	else \
	  echo "PostgreSQL does not answer at $(TEST_POSTGRES_URL): tests run on SQLite only (PostgreSQL ones are skipped)"; \
	fi
	$(BIN)/pytest

test: $(STAMP) assets chromium fonts lint check pytest bench-smoke

# Every figure of issue 14 for the configured database. With DATABASE_URL on PostgreSQL the registry-size data is
# generated once, into a new database on that server, handed to the scripts as BENCH_REGISTRY_URL and dropped at
# the end whatever happened (BENCH_REGISTRY_HOUSEHOLDS=2000 shrinks it for a quick check of this recipe; an
# existing BENCH_REGISTRY_URL is reused and kept). A failed script does not stop the others; the run fails at the end.
bench: $(STAMP)
	@registry=$$($(BIN)/python bench/registry_db.py create) || exit 1; \
	if [ -n "$$registry" ]; then \
	  trap '$(BIN)/python bench/registry_db.py drop "$$registry"' EXIT; trap 'exit 130' INT TERM; \
	  echo "# bench/generate_registry.py"; \
	  $(BIN)/python bench/generate_registry.py $(if $(BENCH_REGISTRY_HOUSEHOLDS),--households $(BENCH_REGISTRY_HOUSEHOLDS)) \
	    "$$registry" || exit 1; \
	  export BENCH_REGISTRY_URL="$$registry"; \
	fi; \
	failed=""; \
	for script in $(BENCHES); do echo "# $$script"; $(BIN)/python $$script || failed="$$failed $$script"; done; \
	if [ -n "$$failed" ]; then echo "# failed:$$failed"; exit 1; fi

bench-smoke: $(STAMP)
	@set -e; for script in $(BENCHES); do echo "# $$script (smoke size)"; BENCH_SMOKE=1 $(BIN)/python $$script; done

# After adding user-visible strings: refresh the catalogue, then translate the new entries in the .po file.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -o webui/translations/messages.pot .
	$(BIN)/pybabel update -i webui/translations/messages.pot -d webui/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance test-artifacts node_modules $(ASSETS)
