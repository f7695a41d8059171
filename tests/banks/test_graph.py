"""graph_update on the hand-made corpus: the links, their weights, top-K, idempotent re-runs,
the fan-out cap and bank isolation."""

from __future__ import annotations

import pytest

from banks.models import Memory, MemoryLink
from operations.runner import run_operation
from operations.states import OperationStatus, OperationType
from operations.submission import submit
from tests.banks.corpus import CORPUS

pytestmark = pytest.mark.django_db
W2_OF_6 = 0.816497  # 2 / sqrt(3 * 2)
W1_OF_6 = 0.408248  # 1 / sqrt(3 * 2)


def retain(bank, contents):
    operation = submit(bank, OperationType.BATCH_RETAIN, {"contents": contents},
                       dispatch=False).operation
    run_operation(operation.pk)
    return list(Memory.objects.filter(operation=operation).order_by("item_index"))


def graph_update(bank):
    operation = submit(bank, OperationType.GRAPH_UPDATE, {}, dispatch=False).operation
    assert run_operation(operation.pk) == OperationStatus.COMPLETED
    operation.refresh_from_db()
    return operation


def links_of(memory):
    return [(link.target_id, link.weight, link.shared_entities)
            for link in MemoryLink.objects.filter(source=memory).order_by("-weight",
                                                                          "target_id")]


def test_links_weigh_shared_entities_by_cosine(bank):
    m = retain(bank, CORPUS)
    operation = graph_update(bank)
    assert (operation.progress, operation.total) == (5, 5)
    assert links_of(m[1]) == [(m[0].pk, W2_OF_6, ["Bob", "Paris"])]
    assert links_of(m[2]) == [(m[3].pk, 1.0, ["Alice", "Carol"]), (m[0].pk, W1_OF_6, ["Alice"])]
    assert links_of(m[3]) == [(m[2].pk, 1.0, ["Alice", "Carol"]), (m[0].pk, W1_OF_6, ["Alice"])]
    first = links_of(m[0])
    assert first[0] == (m[1].pk, W2_OF_6, ["Bob", "Paris"])
    assert sorted(first[1:]) == sorted([(m[2].pk, W1_OF_6, ["Alice"]),
                                        (m[3].pk, W1_OF_6, ["Alice"])])
    assert links_of(m[4]) == []  # mentions no entity
    assert MemoryLink.objects.filter(bank=bank).count() == 8


def test_top_k_keeps_the_heaviest_links(bank, settings):
    settings.HINDSIGHT_GRAPH_TOP_K = 1
    m = retain(bank, CORPUS)
    graph_update(bank)
    assert links_of(m[0]) == [(m[1].pk, W2_OF_6, ["Bob", "Paris"])]
    assert MemoryLink.objects.filter(bank=bank).count() == 4


def test_rerun_replaces_links_and_is_idempotent(bank):
    m = retain(bank, CORPUS)
    graph_update(bank)
    before = {(s, t, w) for s, t, w in MemoryLink.objects.values_list("source", "target",
                                                                      "weight")}
    second = graph_update(bank)
    after = set(MemoryLink.objects.values_list("source", "target", "weight"))
    assert before == after
    assert set(MemoryLink.objects.values_list("operation", flat=True)) == {second.pk}
    assert links_of(m[1]) == [(m[0].pk, W2_OF_6, ["Bob", "Paris"])]


def test_entities_above_the_fanout_cap_do_not_link(bank, settings):
    settings.HINDSIGHT_GRAPH_MAX_FANOUT = 2
    m = retain(bank, CORPUS)  # Alice is in 3 memories: above the cap
    graph_update(bank)
    assert links_of(m[2]) == [(m[3].pk, 0.5, ["Carol"])]  # 1 / sqrt(2 * 2)
    assert links_of(m[1]) == [(m[0].pk, W2_OF_6, ["Bob", "Paris"])]


def test_links_never_cross_banks(bank, other_bank):
    retain(bank, CORPUS)
    others = retain(other_bank, [{"content": "Alice and Bob in Paris."}])
    graph_update(bank)
    graph_update(other_bank)
    assert not MemoryLink.objects.filter(bank=bank, target__bank=other_bank).exists()
    assert not MemoryLink.objects.filter(source=others[0]).exists()
