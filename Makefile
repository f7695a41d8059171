# Two commands matter: `make run` (embedded default on http://127.0.0.1:8888) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8888
HOST ?= 127.0.0.1
STAMP := $(VENV)/.installed

.PHONY: run test lint system-deps migrate bench clean run-scale install

$(STAMP): pyproject.toml
	@echo "installing into $(VENV) (first run only)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

migrate: $(STAMP)
	@$(PY) manage.py migrate --noinput -v0

# The `hindsight` command for your user: a link to $(VENV)/bin/hindsight in $(BINDIR), where
# `pip install --user` puts commands (on the PATH of most shells); it follows this checkout.
BINDIR ?= $(HOME)/.local/bin
install: $(STAMP)
	@mkdir -p "$(BINDIR)"
	@ln -sf "$(abspath $(VENV))/bin/hindsight" "$(BINDIR)/hindsight"
	@echo "installed $(BINDIR)/hindsight"
	@case ":$$PATH:" in *":$(BINDIR):"*) ;; \
		*) echo "$(BINDIR) is not on your PATH: export PATH=\"$(BINDIR):\$$PATH\"";; esac

# Security (issue 9): with DEBUG off the server refuses the built-in SECRET_KEY, so a fresh
# checkout gets a random one generated once into $(SECRET_FILE) (git-ignored, mode 600). An
# explicit SECRET_KEY or SECRET_KEY_FILE in the environment wins.
SECRET_FILE := $(or $(HINDSIGHT_DATA_DIR),data)/secret_key

$(SECRET_FILE):
	@mkdir -p $(dir $@)
	@(umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(50))' > $@)

# Embedded default: SQLite + in-process executor, on gunicorn (one process, threads: the
# executor's thread pool lives in that process; long-polls hold a thread each).
run: migrate $(SECRET_FILE)
	@$(PY) manage.py collectstatic --noinput -v0
	@if [ -z "$${SECRET_KEY}$${SECRET_KEY_FILE}" ]; then \
		export SECRET_KEY_FILE="$(abspath $(SECRET_FILE))"; fi; \
	echo "Hindsight on http://$(HOST):$(PORT)  (API docs /api/docs/, admin /admin/; Ctrl-C stops)"; \
	exec $(VENV)/bin/gunicorn hindsight_project.wsgi:application \
		--bind $(HOST):$(PORT) --workers 1 --worker-class gthread --threads 16 \
		--timeout 120 --graceful-timeout 30

# Scale-out on one machine, for trying it: a throwaway redis-server (unless REDIS_URL is given),
# the database of DATABASE_URL (SQLite file by default), the API on gunicorn and $(WORKERS) RQ
# workers (settings.RQ["WORKER_CLASS"] adds the liveness sweeper). Ctrl-C stops everything.
# Production layout: docs/scale-out.md.
WORKERS ?= 2
REDIS_PORT ?= 6380
run-scale: migrate $(SECRET_FILE)
	@set -euo pipefail; \
	export HINDSIGHT_EXECUTOR=rq; \
	if [ -z "$${SECRET_KEY:-}$${SECRET_KEY_FILE:-}" ]; then \
		export SECRET_KEY_FILE="$(abspath $(SECRET_FILE))"; fi; \
	export REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$(REDIS_PORT)/0}"; \
	pids=(); \
	trap 'trap - EXIT INT TERM; kill $${pids[@]} 2>/dev/null || true; wait || true' EXIT INT TERM; \
	if [ "$$REDIS_URL" = "redis://127.0.0.1:$(REDIS_PORT)/0" ]; then \
		mkdir -p data/redis; \
		redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir data/redis \
			--save "" --appendonly no --loglevel warning & pids+=($$!); \
	fi; \
	$(PY) manage.py collectstatic --noinput -v0; \
	for _ in $$(seq 1 $(WORKERS)); do $(PY) manage.py rqworker default & pids+=($$!); done; \
	$(VENV)/bin/gunicorn hindsight_project.wsgi:application --bind $(HOST):$(PORT) \
		--workers 2 --worker-class gthread --threads 16 --timeout 120 --access-logfile - \
		& pids+=($$!); \
	echo "scale-out: API http://$(HOST):$(PORT)  Redis $$REDIS_URL  workers $(WORKERS)"; \
	wait -n

# Debian packages the suite starts for real: redis-server, PostgreSQL, chromium.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

test: $(STAMP) system-deps lint
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(PY) bench/ingest.py

clean:
	rm -rf $(VENV) data .pytest_cache
