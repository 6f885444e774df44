# The targets people and CI both use. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test test-unit lint bench curves clean chaos browser promtool

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,local]'
	touch $(STAMP)

# checkov (scans the rendered prod manifests in `make test`) in a venv of its own: it pins
# packages that conflict with the project's. tests/integration/test_checkov.py finds it here.
CHECKOV_VENV := $(VENV)/checkov
CHECKOV_REQUIREMENTS := deploy/k8s/checkov-requirements.txt
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-stamp

$(CHECKOV_STAMP): $(CHECKOV_REQUIREMENTS) | $(BIN)/python
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r $(CHECKOV_REQUIREMENTS)
	touch $(CHECKOV_STAMP)

# Node tools the suite runs over the published API documents (redocly lint, the AsyncAPI
# parser), pinned by tools/contracts/package-lock.json; tests find them in its node_modules.
CONTRACT_TOOLS := tools/contracts
CONTRACT_STAMP := $(CONTRACT_TOOLS)/node_modules/.installed-stamp

$(CONTRACT_STAMP): $(CONTRACT_TOOLS)/package.json $(CONTRACT_TOOLS)/package-lock.json
	cd $(CONTRACT_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(CONTRACT_STAMP)

# Debian's chromium for tests/browser (Playwright drives it by path: no `playwright install`,
# which downloads a browser build of its own). Installed only when missing; needs root (CI is).
CHROMIUM := /usr/bin/chromium

browser:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "chromium could not be installed (needs root and Debian's packages): run 'sudo apt-get install -y chromium' for the browser tests"

# Debian's prometheus package for promtool (tests/integration/test_alert_rules.py runs
# `promtool test rules` on the shipped alerts) and `ticketflow dev --with-prometheus`.
# Installed only when missing; needs root (CI is). Its service is not started.
PROMTOOL := /usr/bin/promtool

promtool:
	@test -x $(PROMTOOL) || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } || \
		echo "promtool could not be installed (needs root and Debian's packages): run 'sudo apt-get install -y prometheus' for the alert rule tests"

install: $(STAMP) $(CHECKOV_STAMP) $(CONTRACT_STAMP) browser promtool

## run: the whole stack on embedded PostgreSQL and the Tansu broker (Ctrl-C stops everything)
run: $(STAMP)
	$(BIN)/ticketflow dev

## test: the whole suite (unit, integration on real Postgres + broker, e2e, checkov on the prod
## manifests, the console in a real Chromium) with the coverage gate
test: $(STAMP) $(CHECKOV_STAMP) $(CONTRACT_STAMP) browser promtool
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

test-unit: $(STAMP)
	$(BIN)/pytest -m unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## bench: every benchmark into bench/results/; the SLA ones at three sizes each, with their
## scaling curves (bench/curves.py: JSON + SVG charts). Chaos has its own target.
CURVED := sla_timers sla_replay sla_core business_time
bench: $(STAMP)
	mkdir -p bench/results
	@for b in bench/*.py; do \
		name=$$(basename $$b .py); \
		case " $(CURVED) curves chaos faust_decode_agent " in *" $$name "*) continue;; esac; \
		echo "== $$name"; \
		$(BIN)/python $$b | tee bench/results/$$name.log | tail -n 1 > bench/results/$$name.json || exit 1; \
	done
	$(BIN)/python bench/curves.py --out bench/results/curves.json

## curves: only the scaling curves (about 45 minutes)
curves: $(STAMP)
	$(BIN)/python bench/curves.py --out bench/results/curves.json

## chaos: the full chaos suite (every fault at least twice a round, 2 rounds) -> bench/results/chaos.json
chaos: $(STAMP)
	mkdir -p bench/results
	$(BIN)/python bench/chaos.py --out bench/results/chaos.json 2>&1 | tee bench/results/chaos.log

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .coverage
