"""Property tests (hypothesis) on the two parsers every request's input goes through: the retain
payload validator and the cursor decoder. Whatever the input, they answer or raise the one
exception the API maps to 400/413, never anything that would become a 500."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from banks.items import ItemError, build_memory, validate_contents
from hindsight_project.pagination import decode_cursor, encode_cursor
from operations.exceptions import InvalidInput, LimitExceeded

# Every code point, lone surrogates included (hypothesis leaves them out by default, but JSON
# can carry them: "\ud800").
SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
ANY_TEXT = st.text(st.characters(codec=None) | SURROGATES, max_size=40)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=20,
)
FIELDS = ("content", "context", "timestamp", "metadata", "tags", "document_id")
ITEM = st.dictionaries(st.sampled_from(FIELDS) | ANY_TEXT, JSON, max_size=6)
# What any database stores as UTF-8: every code point but NUL (PostgreSQL refuses "\x00" in
# text) and lone surrogates (category Cs, which the validator rightly refuses with a 400).
STORABLE = st.characters(exclude_characters="\x00", exclude_categories=("Cs",))
WELL_FORMED_ITEM = st.fixed_dictionaries(
    {"content": st.text(STORABLE, min_size=1, max_size=50)},
    optional={
        "context": st.none() | st.text(STORABLE, max_size=20),
        "timestamp": st.none() | st.just("unset") | st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
            timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        "metadata": st.none() | st.dictionaries(st.text(STORABLE, max_size=10),
                                                st.text(STORABLE, max_size=10), max_size=5),
        "tags": st.none() | st.lists(st.text(STORABLE, max_size=10), max_size=5),
        "document_id": st.none() | st.text(STORABLE, max_size=20),
    },
)
FAST = hsettings(max_examples=200, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def small_limits(settings):
    # Small limits so generated inputs cross them too.
    settings.HINDSIGHT_MAX_BATCH_ITEMS = 5
    settings.HINDSIGHT_MAX_CONTENT_BYTES = 30
    settings.HINDSIGHT_MAX_METADATA_BYTES = 40
    settings.HINDSIGHT_MAX_TAGS = 3


class TestValidateContents:
    @FAST
    @given(JSON | st.lists(ITEM, max_size=7))
    def test_any_json_is_accepted_unchanged_or_rejected_as_400_or_413(self, contents):
        with contextlib.suppress(InvalidInput, LimitExceeded):
            assert validate_contents(contents) is contents

    @FAST
    @given(st.lists(WELL_FORMED_ITEM, min_size=1, max_size=5))
    def test_accepted_items_become_memories_or_item_errors(self, contents):
        try:
            validate_contents(contents)
        except LimitExceeded:
            return
        for index, item in enumerate(contents):
            try:
                memory = build_memory(item, index)
            except ItemError:
                assert not item["content"].strip()
                continue
            assert memory.content == item["content"]
            memory.content.encode("utf-8")  # storable in any database

    @FAST
    @given(st.lists(WELL_FORMED_ITEM, min_size=1, max_size=5))
    def test_rejections_name_the_field_or_the_limit(self, contents):
        contents[0]["tags"] = [1]
        with pytest.raises((InvalidInput, LimitExceeded)) as caught:
            validate_contents(contents)
        if isinstance(caught.value, InvalidInput):
            assert "tags" in caught.value.errors["contents"]["0"]


class TestDecodeCursor:
    @FAST
    @given(ANY_TEXT | st.text(alphabet="abcdefXYZ0123456789:._-", max_size=120))
    def test_any_string_decodes_or_is_rejected_as_400(self, raw):
        try:
            created_at, pk = decode_cursor(raw, "bank:1")
        except ValidationError as exc:
            assert "cursor" in exc.detail
        else:
            assert isinstance(created_at, datetime) and isinstance(pk, uuid.UUID)

    @FAST
    # Scopes are minted by the server from decoded URL paths and key prefixes: valid Unicode,
    # never lone surrogates (which JSON would re-pair on the way back).
    @given(st.datetimes(timezones=st.just(UTC)), st.uuids(), st.text(max_size=40),
           st.text(max_size=40))
    def test_cursor_round_trips_only_within_its_own_scope(self, created_at, pk, scope, other):
        raw = encode_cursor(created_at, pk, scope)
        assert decode_cursor(raw, scope) == (created_at, pk)
        if other != scope:
            with pytest.raises(ValidationError):
                decode_cursor(raw, other)

    @FAST
    @given(st.datetimes(timezones=st.just(UTC)), st.uuids(), st.integers(0, 200),
           st.characters(codec="ascii"))
    def test_tampered_cursor_is_rejected(self, created_at, pk, position, char):
        raw = encode_cursor(created_at, pk, "s")
        position %= len(raw)
        tampered = raw[:position] + char + raw[position + 1:]
        if tampered == raw:
            return
        with pytest.raises(ValidationError):
            decode_cursor(tampered, "s")
