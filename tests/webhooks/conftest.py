from __future__ import annotations

import pytest

from operations.executor import get_executor


@pytest.fixture
def fast_webhooks(settings):
    """Loopback receivers allowed, retries after 0.2 s, loops polling every 50 ms."""
    settings.HINDSIGHT_WEBHOOK_ALLOW_PRIVATE = True
    settings.HINDSIGHT_WEBHOOK_RETRY_SCHEDULE = [0.2, 0.2]
    settings.HINDSIGHT_WEBHOOK_POLL_INTERVAL = 0.05
    settings.HINDSIGHT_WEBHOOK_TIMEOUT = 10.0
    return settings


@pytest.fixture
def delivering(fast_webhooks):
    """The embedded executor started: its operation pool, sweeper and delivery loop."""
    get_executor().start()
    return fast_webhooks
