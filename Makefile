# Vigil: one inventory -> a whole observability stack. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
INVENTORY ?= inventory.yml
VIGIL := $(VENV)/bin/vigil
STAMP := $(VENV)/.installed-stamp

.PHONY: help venv tools validate generate check test bench clean-venv

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 14

$(STAMP): requirements.txt requirements-test.txt generator/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r requirements-test.txt
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps -e generator
	touch $@

venv: $(STAMP)  ## set up .venv from the pinned requirements

tools:  ## make sure promtool/amtool are installed (installs them on Debian as root)
	@scripts/need-tools.sh

validate: venv  ## check inventory.yml
	$(VIGIL) validate -i $(INVENTORY)

generate: venv  ## render every config from inventory.yml
	$(VIGIL) generate -i $(INVENTORY)

check: venv tools  ## validate, check freshness, then promtool and amtool over the rendered files
	$(VIGIL) validate -i $(INVENTORY)
	$(VIGIL) generate -i $(INVENTORY) --check
	$(VIGIL) check

test: venv tools  ## the whole test suite (unit, golden, promtool-checked, property-based)
	$(VENV)/bin/python -m pytest -q tests

bench: venv tools  ## benchmarks: generate at 100 / 1,000 / 10,000 services; alert latency
	$(VENV)/bin/python benchmarks/generate.py
	$(VENV)/bin/python benchmarks/alert_latency.py

clean-venv:  ## remove the virtualenv
	rm -rf $(VENV)
