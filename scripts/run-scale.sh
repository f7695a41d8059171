#!/usr/bin/env bash
# Scale-out on one machine, for trying it (`make run-scale`): a local redis-server, the database
# named by DATABASE_URL (PostgreSQL) or the SQLite file by default, the API on gunicorn and
# $WORKERS RQ workers. Ctrl-C stops everything. Production layout: docs/scale-out.md.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8888}
WORKERS=${WORKERS:-2}
REDIS_PORT=${REDIS_PORT:-6380}
export HINDSIGHT_EXECUTOR=rq
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:${REDIS_PORT}/0}

pids=()
cleanup() {
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait || true
}
trap cleanup EXIT INT TERM

if [[ "$REDIS_URL" == "redis://127.0.0.1:${REDIS_PORT}/0" ]]; then
    mkdir -p data/redis
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir data/redis \
        --save "" --appendonly no --loglevel warning &
    pids+=($!)
fi

"$VENV/bin/python" manage.py migrate --noinput -v0
"$VENV/bin/python" manage.py collectstatic --noinput -v0

for _ in $(seq 1 "$WORKERS"); do
    # settings.RQ["WORKER_CLASS"] = operations.rq_worker.HindsightWorker (liveness sweeper).
    "$VENV/bin/python" manage.py rqworker default &
    pids+=($!)
done

# With RQ the API processes run no operations, so there can be several of them.
"$VENV/bin/gunicorn" hindsight_project.wsgi:application --bind "$HOST:$PORT" \
    --workers 2 --worker-class gthread --threads 16 --timeout 120 --access-logfile - &
pids+=($!)

echo "scale-out: API http://$HOST:$PORT  Redis $REDIS_URL  workers $WORKERS  (Ctrl-C stops)"
wait -n
