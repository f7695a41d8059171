"""The state machine: every legal transition, every illegal one refused with the current
state, and terminal states that never change except by an explicit retry."""

from __future__ import annotations

import pytest
from django.db import transaction

from operations import transitions
from operations.exceptions import InvalidTransition
from operations.models import Operation
from operations.states import ACTIVE, TERMINAL, OperationStatus
from tests.factories import submit_retain

S = OperationStatus
pytestmark = pytest.mark.django_db


def status_of(op) -> str:
    return Operation.objects.get(pk=op.pk).status


def put_in(op, status: str) -> None:
    """Walk ``op`` to ``status`` through legal transitions only."""
    if status == S.PENDING:
        return
    assert transitions.claim(op.pk, "w1")
    if status == S.COMPLETED:
        assert transitions.complete(op.pk, "w1")
    elif status == S.FAILED:
        assert transitions.fail(op.pk, "w1", "boom")
    elif status == S.CANCELLED:
        transitions.cancel(op.pk)


def test_claim_moves_pending_to_running_and_counts_the_attempt(bank):
    op = submit_retain(bank)
    assert transitions.claim(op.pk, "w1")
    op.refresh_from_db()
    assert (op.status, op.worker_id, op.attempt) == (S.RUNNING, "w1", 1)
    assert op.started_at is not None and op.heartbeat_at is not None


def test_second_claim_loses(bank):
    op = submit_retain(bank)
    assert transitions.claim(op.pk, "w1")
    assert not transitions.claim(op.pk, "w2")
    assert Operation.objects.get(pk=op.pk).worker_id == "w1"


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_claim_of_terminal_operation_is_refused(bank, status):
    op = submit_retain(bank)
    put_in(op, status)
    assert not transitions.claim(op.pk, "w2")
    assert status_of(op) == status


def test_complete_and_fail_need_the_owning_worker(bank):
    op = submit_retain(bank)
    transitions.claim(op.pk, "w1")
    assert not transitions.complete(op.pk, "intruder")
    assert not transitions.fail(op.pk, "intruder", "x")
    assert status_of(op) == S.RUNNING
    assert transitions.complete(op.pk, "w1")
    assert status_of(op) == S.COMPLETED


@pytest.mark.parametrize("status", sorted(ACTIVE))
def test_cancel_of_active_operation_sets_cancelled_and_completed_at(bank, status):
    op = submit_retain(bank)
    put_in(op, status)
    assert transitions.cancel(op.pk) == S.CANCELLED
    op.refresh_from_db()
    assert op.status == S.CANCELLED and op.completed_at is not None


def test_cancel_of_cancelled_operation_is_a_noop(bank):
    op = submit_retain(bank)
    transitions.cancel(op.pk)
    assert transitions.cancel(op.pk) == S.CANCELLED


@pytest.mark.parametrize("status", [S.COMPLETED, S.FAILED])
def test_cancel_of_finished_operation_is_refused_with_current_status(bank, status):
    op = submit_retain(bank)
    put_in(op, status)
    with pytest.raises(InvalidTransition) as err:
        transitions.cancel(op.pk)
    assert err.value.status == status
    assert status_of(op) == status


@pytest.mark.parametrize("status", [S.FAILED, S.CANCELLED])
def test_retry_moves_failed_or_cancelled_back_to_pending(bank, status):
    op = submit_retain(bank)
    put_in(op, status)
    transitions.retry(op.pk)
    op.refresh_from_db()
    assert (op.status, op.completed_at, op.error, op.worker_id) == (S.PENDING, None, None, "")


@pytest.mark.parametrize("status", [S.PENDING, S.RUNNING, S.COMPLETED])
def test_retry_is_refused_unless_failed_or_cancelled(bank, status):
    op = submit_retain(bank)
    put_in(op, status)
    with pytest.raises(InvalidTransition) as err:
        transitions.retry(op.pk)
    assert err.value.status == status


def test_progress_commit_only_matches_running_operation_of_this_worker(bank):
    op = submit_retain(bank)
    transitions.claim(op.pk, "w1")
    with transaction.atomic():
        assert transitions.commit_progress(op.pk, "w1", 5, failed=1)
        assert not transitions.commit_progress(op.pk, "w2", 5)
    transitions.cancel(op.pk)
    with transaction.atomic():
        assert not transitions.commit_progress(op.pk, "w1", 5)
    op.refresh_from_db()
    assert (op.progress, op.failed_items_count) == (5, 1)


def test_terminal_states_never_change_without_retry(bank):
    for status in TERMINAL:
        op = submit_retain(bank)
        put_in(op, status)
        assert not transitions.claim(op.pk, "w9")
        assert not transitions.complete(op.pk, "w1")
        assert not transitions.fail(op.pk, "w1", "late")
        assert status_of(op) == status


def test_requeue_lost_resets_to_pending_then_fails_after_max_attempts(bank):
    op = submit_retain(bank)
    for attempt in (1, 2):
        transitions.claim(op.pk, f"w{attempt}")
        assert transitions.requeue_lost(op.pk, f"w{attempt}", max_attempts=3) == S.PENDING
    transitions.claim(op.pk, "w3")
    assert transitions.requeue_lost(op.pk, "w3", max_attempts=3) == S.FAILED
    op.refresh_from_db()
    assert op.error == "worker lost after 3 attempts"


def test_delete_refuses_active_operation(bank):
    op = submit_retain(bank)
    with pytest.raises(InvalidTransition):
        transitions.delete_terminal(op.pk)
    transitions.cancel(op.pk)
    transitions.delete_terminal(op.pk)
    assert not Operation.objects.filter(pk=op.pk).exists()
