# Vigil: one inventory -> a whole observability stack. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
INVENTORY ?= inventory.yml
VIGIL := $(VENV)/bin/vigil
DOCKER ?= docker
# Two stamps: running the stack needs only the generator's runtime (requirements.txt);
# the test dependencies (pytest, hypothesis, the preset apps' libraries) come with `make test`.
RUNTIME := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
LOGQL := tests/logql/node_modules/.package-lock.json
SCHEMA := tests/grafana_schema/node_modules/.package-lock.json
# Bugsink (the error tracker the tests run natively) in its own virtualenv: a server, not a library the
# tests import, with its own pins (requirements-bugsink.txt) that need not agree with the test venv's.
BUGSINK_VENV ?= .venv-bugsink
BUGSINK := $(BUGSINK_VENV)/.installed-stamp
# Alertmanager runs as you, so it can read the 0600 secret files `vigil secrets` writes.
export VIGIL_UID := $(shell id -u)
export VIGIL_GID := $(shell id -g)

.PHONY: help venv runtime docker bugsink logql grafana-schema tools validate generate check test bench clean-venv \
        up down reload status logs clean demo-break demo-fix smoke screenshots status-page

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(RUNTIME): requirements.txt generator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e generator
	touch $@

$(STAMP): $(RUNTIME) requirements-test.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	touch $@

runtime: $(RUNTIME)  ## set up .venv with what running the stack needs (the generator)
venv: $(STAMP)  ## set up .venv for development and tests (the generator and the test dependencies)

# The one Docker check every target that runs Compose starts with (before anything is installed).
docker:
	@DOCKER=$(DOCKER) scripts/need-docker.sh

# Grafana's LogQL grammar (tests/logql.py). npm ci writes $(LOGQL), its record of what it installed;
# the touch keeps it newer than the lock for make whatever npm does with its time.
$(LOGQL): tests/logql/package.json tests/logql/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is not on PATH: make tools (Debian as root) or apt-get install nodejs npm" >&2; exit 1; }
	npm ci --prefix tests/logql --no-audit --no-fund --silent
	touch $@

$(BUGSINK): requirements-bugsink.txt
	$(PYTHON) -m venv $(BUGSINK_VENV)
	$(BUGSINK_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-bugsink.txt
	touch $@

bugsink: $(BUGSINK)  ## install Bugsink (the error tracker the tests run) into .venv-bugsink

logql: $(LOGQL)  ## install Grafana's LogQL grammar for the tests (npm ci in tests/logql)

# The pinned Grafana's dashboard and panel types, with TypeScript (tests/test_grafana_schema.py).
$(SCHEMA): tests/grafana_schema/package.json tests/grafana_schema/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is not on PATH: make tools (Debian as root) or apt-get install nodejs npm" >&2; exit 1; }
	npm ci --prefix tests/grafana_schema --no-audit --no-fund --silent
	touch $@

grafana-schema: $(SCHEMA)  ## install @grafana/schema and TypeScript for the tests (npm ci in tests/grafana_schema)

tools:  ## make sure promtool/amtool and node/npm are here (installs them on Debian as root)
	@scripts/need-tools.sh

validate: runtime  ## check inventory.yml
	$(VIGIL) validate -i $(INVENTORY)

generate: runtime  ## render every config from inventory.yml
	$(VIGIL) generate -i $(INVENTORY)

check: runtime tools  ## validate, check freshness, then promtool and amtool over the rendered files
	$(VIGIL) validate -i $(INVENTORY)
	$(VIGIL) generate -i $(INVENTORY) --check
	$(VIGIL) check

test: venv tools $(LOGQL) $(SCHEMA) $(BUGSINK)  ## the whole test suite (unit, golden, promtool-checked, LogQL-parsed, property-based)
	$(VENV)/bin/python -m pytest -q tests

up: docker runtime  ## start the stack: .env on first run, generate, start, wait until healthy, print the URLs
	DOCKER=$(DOCKER) VIGIL=$(VIGIL) INVENTORY=$(INVENTORY) scripts/up.sh

down: docker  ## stop the stack (keeps its data: metrics, silences, dashboards, logs)
	$(DOCKER) compose down

reload: docker runtime  ## apply inventory changes to the running stack in place (no restart, no data lost)
	@# secrets first: Alertmanager reads a new receiver's secret file when it reloads (secrets needs
	@# the inventory and .env, not the rendered tree). `vigil reload` renders, checks, and only then
	@# writes the tree and reloads: a refused change stops here with the files as they were.
	$(VIGIL) secrets -i $(INVENTORY) --inbox
	$(VIGIL) reload -i $(INVENTORY)
	$(DOCKER) compose up -d --build --remove-orphans --wait   # new or changed services only
	DOCKER=$(DOCKER) VIGIL=$(VIGIL) INVENTORY=$(INVENTORY) scripts/tracker.sh   # new reporting services: projects, DSNs
	@# Alloy (the log shipper: which team owns which container) reloads on POST /-/reload; its port is
	@# not published and its image has no curl, hence bash's /dev/tcp.
	$(DOCKER) compose exec -T alloy bash -c 'exec 3<>/dev/tcp/127.0.0.1/12345 && \
	  printf "POST /-/reload HTTP/1.0\r\nContent-Length: 0\r\n\r\n" >&3 && head -n 1 <&3'

screenshots: venv tools  ## refresh docs/status-page-*.png (the status page in headless Chromium)
	VIGIL_SCREENSHOTS=docs $(VENV)/bin/python -m pytest -q tests/test_status_page.py -k chromium

status-page: runtime  ## export the status page of the running stack as static files to site/
	$(VIGIL) status-page --out site

status: runtime  ## targets down, firing alerts and silences of the running stack (exit codes: README)
	@if DOCKER=$(DOCKER) scripts/need-docker.sh 2>/dev/null; then $(DOCKER) compose ps; fi
	$(VIGIL) status -i $(INVENTORY)

logs: docker  ## follow the stack's logs (SERVICE=name for one)
	$(DOCKER) compose logs -f --tail=100 $(SERVICE)

clean: docker  ## stop the stack and DELETE its data (asks first)
	@read -r -p "Delete all metrics, silences, dashboards state and logs of this stack? [y/N] " answer; \
	  [ "$$answer" = y ] || [ "$$answer" = Y ] || { echo "nothing deleted"; exit 1; }
	$(DOCKER) compose down --volumes --remove-orphans

MODE ?= errors
demo-break: docker  ## break the demo service: MODE=errors (default), latency or down
	$(DOCKER) compose exec demo python app.py mode $(MODE)

demo-fix: docker  ## make the demo service healthy again
	$(DOCKER) compose exec demo python app.py mode ok

smoke: docker runtime  ## the real stack under Docker: up, healthy, dashboard, alert, logs, down (not part of make test)
	VIGIL=$(VIGIL) scripts/smoke.sh

# BENCH_RULES: arguments of benchmarks/rules.py, e.g. --quick (a few minutes) or --sizes 10,100.
BENCH_RULES ?=
bench: venv tools $(BUGSINK)  ## benchmarks: generate at 1,000 / 3,000 / 10,000 services, and 10,000 like ones; how many are one shape renamed; promtool's rule tests at 100; alert latency; the overview at 1,000; errors; rule evaluation
	$(VENV)/bin/python benchmarks/generate.py
	$(VENV)/bin/python benchmarks/generate.py --inventory fleet --sizes 10000
	$(VENV)/bin/python benchmarks/shapes.py
	$(VENV)/bin/python benchmarks/check.py
	$(VENV)/bin/python benchmarks/alert_latency.py
	$(VENV)/bin/python benchmarks/dashboards.py
	$(VENV)/bin/python benchmarks/errors.py
	$(VENV)/bin/python benchmarks/rules.py $(BENCH_RULES)

clean-venv:  ## remove the virtualenv
	rm -rf $(VENV)
