# Vigil: one inventory -> a whole observability stack. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
INVENTORY ?= inventory.yml
VIGIL := $(VENV)/bin/vigil
STAMP := $(VENV)/.installed-stamp
LOGQL := tests/logql/node_modules/.package-lock.json

.PHONY: help venv logql tools validate generate check test bench clean-venv

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(STAMP): requirements.txt requirements-test.txt generator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e generator
	touch $@

venv: $(STAMP)  ## set up .venv from the pinned requirements

# Grafana's LogQL grammar (tests/logql.py). npm ci writes $(LOGQL), its record of what it installed;
# the touch keeps it newer than the lock for make whatever npm does with its time.
$(LOGQL): tests/logql/package.json tests/logql/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is not on PATH: make tools (Debian as root) or apt-get install nodejs npm" >&2; exit 1; }
	npm ci --prefix tests/logql --no-audit --no-fund --silent
	touch $@

logql: $(LOGQL)  ## install Grafana's LogQL grammar for the tests (npm ci in tests/logql)

tools:  ## make sure promtool/amtool and node/npm are here (installs them on Debian as root)
	@scripts/need-tools.sh

validate: venv  ## check inventory.yml
	$(VIGIL) validate -i $(INVENTORY)

generate: venv  ## render every config from inventory.yml
	$(VIGIL) generate -i $(INVENTORY)

check: venv tools  ## validate, check freshness, then promtool and amtool over the rendered files
	$(VIGIL) validate -i $(INVENTORY)
	$(VIGIL) generate -i $(INVENTORY) --check
	$(VIGIL) check

test: venv tools $(LOGQL)  ## the whole test suite (unit, golden, promtool-checked, LogQL-parsed, property-based)
	$(VENV)/bin/python -m pytest -q tests

bench: venv tools  ## benchmarks: generate at 100 / 1,000 / 10,000 services; alert latency
	$(VENV)/bin/python benchmarks/generate.py
	$(VENV)/bin/python benchmarks/alert_latency.py

clean-venv:  ## remove the virtualenv
	rm -rf $(VENV)
