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

# Embedded default: SQLite + in-process executor, on gunicorn with one process per core
# (HINDSIGHT_WEB_PROCESSES overrides), each with threads and its own executor threads; the
# settings are in hindsight_project/gunicorn_conf.py.
run: migrate $(SECRET_FILE)
	@$(PY) manage.py collectstatic --noinput -v0
	@if [ -z "$${SECRET_KEY}$${SECRET_KEY_FILE}" ]; then \
		export SECRET_KEY_FILE="$(abspath $(SECRET_FILE))"; fi; \
	echo "Hindsight on http://$(HOST):$(PORT)  (API docs /api/docs/, admin /admin/; Ctrl-C stops)"; \
	exec $(VENV)/bin/gunicorn -c python:hindsight_project.gunicorn_conf \
		hindsight_project.wsgi:application --bind $(HOST):$(PORT)

# Scale-out on one machine, for trying it: a throwaway redis-server (unless REDIS_URL is given),
# the database of DATABASE_URL (SQLite file by default), the API on gunicorn and $(WORKERS) RQ
# workers (settings.RQ["WORKER_CLASS"] adds the liveness sweeper). A worker or the throwaway
# redis-server that dies is started again, with a line saying so (the other workers ride a Redis
# outage out by themselves); only the API exiting, or Ctrl-C, stops everything.
# Production layout (systemd units with Restart=always): docs/scale-out.md.
WORKERS ?= 2
REDIS_PORT ?= 6380
run-scale: migrate $(SECRET_FILE)
	@set -uo pipefail; \
	export HINDSIGHT_EXECUTOR=rq; \
	if [ -z "$${SECRET_KEY:-}$${SECRET_KEY_FILE:-}" ]; then \
		export SECRET_KEY_FILE="$(abspath $(SECRET_FILE))"; fi; \
	export REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:$(REDIS_PORT)/0}"; \
	redis_pid=""; api_pid=""; workers=(); \
	trap 'trap - EXIT INT TERM; kill $$redis_pid $$api_pid $${workers[@]} 2>/dev/null || true; \
		wait || true; exit' EXIT INT TERM; \
	start_redis() { redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir data/redis \
		--save "" --appendonly no --loglevel warning & redis_pid=$$!; }; \
	if [ "$$REDIS_URL" = "redis://127.0.0.1:$(REDIS_PORT)/0" ]; then \
		mkdir -p data/redis; start_redis; fi; \
	$(PY) manage.py collectstatic --noinput -v0 || exit 1; \
	for i in $$(seq 1 $(WORKERS)); do $(PY) manage.py rqworker default & workers[$$i]=$$!; done; \
	$(VENV)/bin/gunicorn hindsight_project.wsgi:application --bind $(HOST):$(PORT) \
		--workers 2 --worker-class gthread --threads 16 --timeout 120 --access-logfile - \
		& api_pid=$$!; \
	echo "scale-out: API http://$(HOST):$(PORT)  Redis $$REDIS_URL  workers $(WORKERS)"; \
	while true; do \
		wait -n || true; \
		if ! kill -0 $$api_pid 2>/dev/null; then \
			echo "scale-out: the API (pid $$api_pid) exited; stopping everything"; exit 1; fi; \
		if [ -n "$$redis_pid" ] && ! kill -0 $$redis_pid 2>/dev/null; then \
			echo "scale-out: redis-server (pid $$redis_pid) exited; starting it again (empty)"; \
			sleep 1; start_redis; fi; \
		for i in "$${!workers[@]}"; do \
			if ! kill -0 $${workers[$$i]} 2>/dev/null; then \
				echo "scale-out: worker $$i (pid $${workers[$$i]}) exited; restarting it"; \
				sleep 1; $(PY) manage.py rqworker default & workers[$$i]=$$!; \
				echo "scale-out: worker $$i restarted as pid $${workers[$$i]}"; fi; \
		done; \
	done

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
