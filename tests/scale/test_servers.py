"""The suite's own servers: a real redis-server and a real PostgreSQL cluster answer queries."""

from __future__ import annotations

import psycopg
import redis


def test_redis_server_answers_and_survives_a_restart(redis_server, redis_url):
    client = redis.Redis.from_url(redis_url)
    assert client.ping()
    redis_server.stop()
    assert not redis_server.ping()
    redis_server.start()
    assert redis.Redis.from_url(redis_url).ping()


def test_postgres_cluster_serves_the_session_database(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        assert int(version) >= 150000
        assert conn.execute("SELECT current_database()").fetchone()[0] == "hindsight"
