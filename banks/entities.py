"""Entities: the deterministic extractor, storing a retain chunk's mentions, and the read
functions other surfaces call (the compatible API included).

Extractor (``extract``), applied to a memory's content, in this order:
1. emails (``bob@example.com``), type ``email``, normalised to lower case;
2. @handles (``@alice_b``, not part of an email), type ``handle``, kept with their ``@``;
3. #tags (``#roadmap``, starting with a letter), type ``hashtag``, kept with their ``#``;
4. capitalised names: runs of capitalised words on one line, not across punctuation
   ("Alice", "Bob Jones", "New York", "NASA"), type ``name``. Leading words of a run that are
   in ``STOPWORDS`` (sentence starters such as "The", "Yesterday", "She", weekdays, months) are
   dropped, so "Yesterday Alice met Bob" gives "Alice" and "Bob"; a trailing possessive "'s" is
   dropped ("Alice's" -> "Alice").
Caller-supplied entities (``entities: [{"text", "type"?}]``) come first, then the extracted ones;
a memory keeps at most ``MAX_ENTITIES_PER_MEMORY``, each once.

Normalisation (``normalise``): Unicode NFKC, case-folded, inner whitespace collapsed, surrounding
punctuation stripped. The normalised form is the entity's key, unique per bank, so "Alice",
"alice" and "ALICE" are one entity; its display name is the spelling first seen.

Read functions (stable names, used by the compatible API):
- ``entity_names_for(memory_ids) -> {memory_id: [display name, ...]}`` in order of mention;
  every id asked for is a key (``[]`` when the memory mentions nothing).
- ``entity_details(bank, names) -> {name: {"entity_id": str, "canonical_name": str,
  "observations": [{"text": str, "mentioned_at": iso str | None}]}}`` for the names (any
  spelling) that are entities of ``bank``; unknown names are left out. ``observations`` holds the
  entity's observation from the last ``regenerate_observations`` run (``[]`` before one).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from .bulk import insert_rows
from .models import Bank, Entity, MemoryEntity, Observation

MAX_ENTITIES_PER_MEMORY = 32
MAX_NAME_LENGTH = 256
_IN_BATCH = 500  # ids per IN (...) list: well under SQLite's bound-variable limit

STOPWORDS = frozenset(
    """a an the this that these those there here it its i i'm i've i'd i'll me my we our us you
    your he his him she her they them their and or but so if then when while after before as at
    by for from in into of on onto to with without about above below over under up down out off
    not no yes is are was were be been am do does did has have had will would can could should
    may might must shall also just only very too all any some each every both either neither
    what which who whom whose why how where today yesterday tomorrow tonight now later soon
    monday tuesday wednesday thursday friday saturday sunday january february march april june
    july august september october november december mr mrs ms dr please thanks thank hi hello
    dear ok okay re fw fwd""".split()  # noqa: SIM905  (a word list reads better as text)
)

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_]{1,39}\b")
_HASHTAG = re.compile(r"(?<![\w&#])#[^\W\d_][\w-]{0,63}")
_CAP_WORD = r"[A-ZÀ-ÖØ-Þ][\w'\u2019-]*"
# No lookbehind: it would be tried at every position of the text and defeat the regex engine's
# fast scan for the leading capital; the preceding character is checked in Python instead.
_NAME_RUN = re.compile(_CAP_WORD + r"(?:[ \t]+" + _CAP_WORD + ")*")
_INSIDE_WORD = re.compile(r"[\w'\u2019-]")
_POSSESSIVE = re.compile(r"['\u2019]s$")
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # PostgreSQL text refuses NUL
# ASCII punctuation plus typographic quotes and dashes (\u2018-\u201d, \u2013, \u2014).
_EDGE_PUNCT = " \t\r\n.,;:!?\"'()[]{}<>/\\|*_~`-\u2018\u2019\u201c\u201d\u2013\u2014\u00ab\u00bb"


class Mention(NamedTuple):  # a tuple: built for every mention of every retained item
    key: str  # normalised name: the entity's identity within a bank
    display: str  # as written
    type: str


@lru_cache(maxsize=65_536)  # names repeat across a bank's memories; this runs per mention
def normalise(text: str) -> str:
    """The entity key: NFKC, case-folded, whitespace collapsed, surrounding punctuation off."""
    text = unicodedata.normalize("NFKC", _CONTROL.sub("", text))
    text = _SPACES.sub(" ", text).strip(_EDGE_PUNCT)
    return text.casefold()[:MAX_NAME_LENGTH]


def _name_mentions(text: str) -> list[Mention]:
    # Each distinct run is turned into a mention once (names repeat within a text and across a
    # bank's texts): the per-match work is the preceding-character check and a dict insert.
    runs: dict[str, None] = {}
    for match in _NAME_RUN.finditer(text):
        start = match.start()
        if start and _INSIDE_WORD.match(text, start - 1):
            continue  # "iPhone", "l'Alice": not the start of a name
        runs[match.group()] = None
    return [mention for run in runs if (mention := _name_of_run(run)) is not None]


@lru_cache(maxsize=65_536)
def _name_of_run(run: str) -> Mention | None:
    words = run.split()
    while words and _POSSESSIVE.sub("", words[0]).casefold() in STOPWORDS:
        words.pop(0)
    if not words:
        return None
    words[-1] = _POSSESSIVE.sub("", words[-1])
    display = " ".join(words).strip(_EDGE_PUNCT)
    key = normalise(display)
    if key and key not in STOPWORDS:
        return Mention(key, display[:MAX_NAME_LENGTH], "name")
    return None


def extract(text: str) -> list[Mention]:
    """The entities a text mentions, in the documented order, each key once."""
    mentions: list[Mention] = []
    rest = text
    # Extraction runs on every retained item, inside the retain chunk: texts without "@"/"#"
    # (most) skip the symbol scan altogether.
    if "@" in text or "#" in text:
        mentions, rest = _symbol_mentions(text)
    mentions.extend(_name_mentions(rest))
    return _unique(mentions)


# A whitespace-delimited token holding "@" or "#". Emails, handles and hashtags never span
# whitespace and their look-behinds never match it, so scanning only these tokens finds exactly
# what scanning the whole text would -- at the cost of one scan instead of six.
_SYMBOL_TOKEN = re.compile(r"(?<!\S)[^\s@#]*+[@#]\S*")


def _symbol_mentions(text: str) -> tuple[list[Mention], str]:
    """Emails, then handles, then hashtags (each in text order), and the text with each of
    them replaced by a space (so a name is never read out of an email's domain)."""
    emails: list[Mention] = []
    handles: list[Mention] = []
    hashtags: list[Mention] = []
    pieces: list[str] = []
    last = 0
    for match in _SYMBOL_TOKEN.finditer(text):
        token = match.group()
        rest = token
        if "@" in rest:
            emails.extend(Mention(email.lower(), email, "email") for email in _EMAIL.findall(rest))
            rest = _EMAIL.sub(" ", rest)
            handles.extend(Mention(normalise(h), h, "handle") for h in _HANDLE.findall(rest))
            rest = _HANDLE.sub(" ", rest)
        if "#" in rest:
            hashtags.extend(Mention(normalise(t), t, "hashtag") for t in _HASHTAG.findall(rest))
            rest = _HASHTAG.sub(" ", rest)
        if rest != token:
            pieces += (text[last : match.start()], rest)
            last = match.end()
    pieces.append(text[last:])
    return [*emails, *handles, *hashtags], "".join(pieces)


def _unique(mentions: Iterable[Mention]) -> list[Mention]:
    seen: set[str] = set()
    kept = []
    for mention in mentions:
        if mention.key and mention.key not in seen:
            seen.add(mention.key)
            kept.append(mention)
    return kept[:MAX_ENTITIES_PER_MEMORY]


def mentions_for(content: str, supplied: Sequence[dict] | None = None) -> list[Mention]:
    """Caller-supplied entities first (validated by ``banks.items``), then extracted ones."""
    if not supplied:
        return extract(content)  # already unique and capped
    given = []
    for entity in supplied:
        text = entity["text"].strip()
        key = normalise(text)
        if key:
            given.append(Mention(key, text[:MAX_NAME_LENGTH], entity.get("type") or "other"))
    return _unique([*given, *extract(content)])


MAX_KNOWN_ENTITIES = 100_000  # ids a retain run keeps between chunks (~10 MB at most)


def link_mentions(bank_pk: int, memory_ids: Sequence[Any],
                  mentions: Sequence[Sequence[Mention]], known: dict[str, int] | None = None
                  ) -> None:
    """Create a chunk's missing entities and its memory-entity rows, in bulk. ``memory_ids``
    are as the database stores them (``banks.bulk.uuid_adapter``), one per list of mentions.

    Runs inside the retain chunk's transaction: a handful of queries per chunk whatever its size
    (look up the chunk's keys, insert the new ones, insert the links). ``ignore_conflicts`` plus
    a re-read covers two chunks of the same bank creating one entity concurrently (PostgreSQL).

    ``known`` maps keys to ids of ``bank_pk``'s entities already seen by the caller's run, and
    is extended here: a run meets the same names chunk after chunk, and looking them up again
    cost more than inserting the links (bench/ingest.py --corpus names). Entities are deleted
    only with their bank, whose operations are cancelled first, so a known id stays valid for
    the run; ids created by a chunk that rolls back end with the run, which stops there.
    """
    known = {} if known is None else known
    if len(known) > MAX_KNOWN_ENTITIES:
        known.clear()
    wanted: dict[str, Mention] = {}
    for found in mentions:
        for mention in found:
            if mention.key not in known:
                wanted.setdefault(mention.key, mention)
    if wanted:
        known.update(_entity_ids(bank_pk, wanted))
    insert_rows(MemoryEntity, ("memory", "entity", "position"), [
        (memory_id, known[mention.key], position)
        for memory_id, found in zip(memory_ids, mentions, strict=True)
        for position, mention in enumerate(found)
    ], adapted=True)


def _entity_ids(bank_pk: int, wanted: dict[str, Mention]) -> dict[str, int]:
    keys = list(wanted)
    ids = dict(_lookup(bank_pk, keys))
    missing = [key for key in keys if key not in ids]
    if missing:
        Entity.objects.bulk_create(
            [Entity(bank_id=bank_pk, name=key, display_name=wanted[key].display,
                    type=wanted[key].type[:32]) for key in missing],
            batch_size=_IN_BATCH, ignore_conflicts=True,
        )
        ids.update(_lookup(bank_pk, missing))
    return ids


def _lookup(bank_pk: int, keys: list[str]) -> list[tuple[str, int]]:
    rows: list[tuple[str, int]] = []
    for start in range(0, len(keys), _IN_BATCH):
        batch = keys[start : start + _IN_BATCH]
        rows.extend(
            Entity.objects.filter(bank_id=bank_pk, name__in=batch).values_list("name", "id")
        )
    return rows


def entity_names_for(memory_ids: Iterable[Any]) -> dict[Any, list[str]]:
    """``{memory_id: [display name, ...]}`` in extraction order; ids are returned as given."""
    asked = list(memory_ids)
    by_uuid = {_as_uuid(memory_id): memory_id for memory_id in asked}
    names: dict[Any, list[str]] = {memory_id: [] for memory_id in asked}
    keys = [key for key in by_uuid if key is not None]
    for start in range(0, len(keys), _IN_BATCH):
        rows = (
            MemoryEntity.objects.filter(memory_id__in=keys[start : start + _IN_BATCH])
            .order_by("memory_id", "position")
            .values_list("memory_id", "entity__display_name")
        )
        for memory_id, display in rows:
            names[by_uuid[memory_id]].append(display)
    return names


def _as_uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


def entity_details(bank: Bank, names: Iterable[str]) -> dict[str, dict]:
    """Entity id, canonical (display) name and observation for each known name of ``bank``."""
    wanted: dict[str, list[str]] = {}
    for name in names:
        wanted.setdefault(normalise(name), []).append(name)
    entities = Entity.objects.filter(bank=bank, name__in=[k for k in wanted if k])
    observations = {
        obs.entity_id: obs for obs in Observation.objects.filter(entity__in=entities)
    }
    details: dict[str, dict] = {}
    for entity in entities:
        observation = observations.get(entity.pk)
        seen = observation.last_seen if observation else None
        value = {
            "entity_id": str(entity.pk),
            "canonical_name": entity.display_name,
            "observations": [
                {"text": observation.text,
                 "mentioned_at": seen.isoformat().replace("+00:00", "Z") if seen else None}
            ] if observation else [],
        }
        for asked in wanted[entity.name]:
            details[asked] = value
    return details
