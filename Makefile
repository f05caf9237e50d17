# One word for each thing a newcomer does. `make run` and `make test` are all you need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt constraints.txt package.json 2>/dev/null | cksum | cut -d' ' -f1)

.PHONY: setup run test lint format constraints clean-data backup restore

$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@if [ -f package.json ] && command -v npm >/dev/null; then npm ci --no-audit --no-fund --silent || npm install --no-audit --no-fund --silent; fi
	@rm -f $(VENV)/.installed-*; touch $@

## setup: install the virtualenv and the node packages (run and test do it themselves)
setup: $(STAMP)

## run: set everything up and run web + worker + beat with demo data (Ctrl-C stops it all)
run: $(STAMP)
	$(PY) scripts/stack.py run

## test: the whole suite against real PostgreSQL, Redis, Celery and a regtest node
test: $(STAMP)
	$(PY) -m pytest

## lint: ruff (lint + format check) and mypy
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## constraints: re-pin every transitive package after a change to requirements*.txt
constraints: $(STAMP)
	(head -2 constraints.txt; $(PY) -m pip freeze) > constraints.txt.new && mv constraints.txt.new constraints.txt

## backup: a consistent dump of the books with its manifest (log size, root, signed head); FILE=path optional
backup: $(STAMP)
	$(PY) manage.py ledger_backup $(FILE)

## restore: FILE=path into an EMPTY database, refused unless the journal reproduces the manifest's signed root
restore: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make restore FILE=path/to/backup.sql"; exit 2; }
	$(PY) manage.py ledger_restore $(FILE)

## clean-data: stop the embedded servers and delete .data/
clean-data: $(STAMP)
	$(PY) -c "from config import embedded as e; e.postgres_stop(); e.redis_stop()"
	rm -rf .data
