"""The delays of an RQ worker probing a lost Redis: doubling from the initial delay up to the cap,
each drawn with jitter so that workers that lost Redis together do not reconnect in lockstep."""

from __future__ import annotations

from itertools import islice

from operations.rq_worker import backoff


def test_redis_backoff_doubles_from_half_a_second_up_to_thirty_with_jitter():
    delays = list(islice(backoff(0.5, 30.0), 12))
    for attempt, delay in enumerate(delays):
        nominal = min(30.0, 0.5 * 2**attempt)
        assert nominal / 2 <= delay <= nominal
    assert max(delays) <= 30.0 and delays[-1] >= 15.0  # capped, and stays at the cap


def test_two_workers_do_not_probe_in_lockstep():
    first, second = (list(islice(backoff(0.5, 30.0), 8)) for _ in range(2))
    assert first != second
