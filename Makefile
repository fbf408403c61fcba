# Concord: `make run` to try it, `make test` to check it. Needs only Python 3.11.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := run

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Newer than pyproject.toml once its dependencies are installed; `make` reinstalls otherwise.
STAMP := $(VENV)/.concord-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml clients/python/pyproject.toml | $(BIN)/python
	# torch first and pinned exactly: a looser spec pulls gigabytes of CUDA packages.
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e '.[dev]'
	# The Python client (clients/python), whose tests run against a live server in the suite.
	$(BIN)/pip install -e './clients/python[datasets]'
	touch $(STAMP)

install: $(STAMP)

# Embedded mode: SQLite and a filesystem Celery broker under var/ unless DATABASE_URL and
# CELERY_BROKER_URL say otherwise. The worker (with an embedded beat for periodic work, such as
# releasing expired leases) runs in the background; the trap stops it
# (warm shutdown, then SIGKILL after 15 s) whenever the web server ends, Ctrl-C included.
run: $(STAMP)
	@export CONCORD_DEBUG="$${CONCORD_DEBUG:-1}"; \
	$(BIN)/python manage.py migrate --noinput; \
	$(BIN)/python manage.py seed_demo --url http://$(HOST):$(PORT)/; \
	$(BIN)/python manage.py seed_feedback_demo --url http://$(HOST):$(PORT)/; \
	$(BIN)/celery -A concord worker -Q default,gpu --pool=solo --beat \
		--schedule "$${CONCORD_DATA_DIR:-var}/celerybeat-schedule" --loglevel=INFO & worker=$$!; \
	$(BIN)/python manage.py runserver $(HOST):$(PORT) & web=$$!; \
	stop() { \
		trap - INT TERM EXIT; \
		echo; echo "Stopping the web server and the worker..."; \
		kill -TERM $$web $$worker 2>/dev/null || true; \
		for _ in $$(seq 30); do \
			kill -0 $$web 2>/dev/null || kill -0 $$worker 2>/dev/null || break; sleep 0.5; \
		done; \
		kill -KILL $$web $$worker 2>/dev/null || true; \
		wait 2>/dev/null || true; \
	}; \
	trap 'stop; exit 0' INT TERM; trap stop EXIT; \
	sleep 2; \
	echo; \
	echo "  Concord is running at http://$(HOST):$(PORT)/"; \
	echo "  Log in at http://$(HOST):$(PORT)/accounts/login/ with a login printed above by seed_demo;"; \
	echo "  leads manage sprints at http://$(HOST):$(PORT)/admin/, API docs at http://$(HOST):$(PORT)/api/docs/"; \
	echo "  Press Ctrl-C to stop the web server and the worker."; \
	echo; \
	while kill -0 $$web 2>/dev/null && kill -0 $$worker 2>/dev/null; do sleep 1; done; \
	echo "The web server or the worker stopped."; \
	exit 1

# pytest's own exit status is the recipe's: 5 (no tests collected) fails like any other.
test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
