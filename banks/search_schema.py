"""The full-text index schema per database backend, kept in one place so the migration that
creates it and the post-migrate check that repairs it say the same thing.

SQLite: an FTS5 table (``content`` plus ``keys``, tokens for the bank, tags and document id, so
the index itself applies those filters) kept in sync by triggers on ``banks_memory``: every write
path -- the retain chunk's inserts, the cascade delete of a bank -- updates it in the same
transaction. FTS rows
are keyed through a small map table, not by ``banks_memory.rowid``: that table has a UUID
primary key, and VACUUM may renumber the rowids of such tables.

PostgreSQL: a generated ``tsvector`` column (in sync by construction) with a GIN index.

Both tokenise the same way -- words, case-folded, no stemming, accents kept (``simple`` has no
unaccent) -- so a recall finds the same memories on either backend.
"""

from __future__ import annotations

from typing import Any

# The ``keys`` column: one token per filter value -- ``b<bank pk>``, ``t<hex of each tag>``,
# ``d<hex of the document id>`` -- so bank, tag and document filters are posting-list
# intersections inside FTS5 instead of a join and a JSON scan per candidate. Hex keeps every
# tag one exact, case-sensitive token (``banks.fulltext.tag_token``).
KEYS_SQL = (
    "'b' || {row}.bank_id"
    " || COALESCE((SELECT ' ' || group_concat('t' || lower(hex(value)), ' ')"
    " FROM json_each({row}.tags)), '')"
    " || CASE WHEN {row}.document_id IS NULL THEN ''"
    " ELSE ' d' || lower(hex({row}.document_id)) END"
)
SQLITE_TABLES = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS banks_memory_fts USING fts5("
    "content, keys, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TABLE IF NOT EXISTS banks_memory_fts_map ("
    "rowid INTEGER PRIMARY KEY, memory_id char(32) NOT NULL UNIQUE)",
    SQLITE_VOCAB := (
        # Per-column document frequencies, read by recall to plan its query (banks.fulltext).
        "CREATE VIRTUAL TABLE IF NOT EXISTS banks_memory_fts_vocab "
        "USING fts5vocab(banks_memory_fts, 'col')"
    ),
]
SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS banks_memory_fts_ai AFTER INSERT ON banks_memory BEGIN
        INSERT INTO banks_memory_fts_map(memory_id) VALUES (new.id);
        INSERT INTO banks_memory_fts(rowid, content, keys)
            VALUES (last_insert_rowid(), new.content, """ + KEYS_SQL.format(row="new") + """);
    END""",
    """CREATE TRIGGER IF NOT EXISTS banks_memory_fts_ad AFTER DELETE ON banks_memory BEGIN
        DELETE FROM banks_memory_fts WHERE rowid =
            (SELECT rowid FROM banks_memory_fts_map WHERE memory_id = old.id);
        DELETE FROM banks_memory_fts_map WHERE memory_id = old.id;
    END""",
    """CREATE TRIGGER IF NOT EXISTS banks_memory_fts_au
        AFTER UPDATE OF content, bank_id, tags, document_id ON banks_memory BEGIN
        DELETE FROM banks_memory_fts WHERE rowid =
            (SELECT rowid FROM banks_memory_fts_map WHERE memory_id = old.id);
        INSERT INTO banks_memory_fts(rowid, content, keys)
            SELECT rowid, new.content, """ + KEYS_SQL.format(row="new") + """
            FROM banks_memory_fts_map WHERE memory_id = old.id;
    END""",
]
SQLITE_BACKFILL = [
    "INSERT INTO banks_memory_fts_map(memory_id) SELECT id FROM banks_memory",
    "INSERT INTO banks_memory_fts(rowid, content, keys) SELECT map.rowid, m.content, "
    + KEYS_SQL.format(row="m")
    + " FROM banks_memory_fts_map map JOIN banks_memory m ON m.id = map.memory_id",
]
SQLITE_DROP = [
    "DROP TABLE IF EXISTS banks_memory_fts_vocab",
    "DROP TRIGGER IF EXISTS banks_memory_fts_au",
    "DROP TRIGGER IF EXISTS banks_memory_fts_ad",
    "DROP TRIGGER IF EXISTS banks_memory_fts_ai",
    "DROP TABLE IF EXISTS banks_memory_fts_map",
    "DROP TABLE IF EXISTS banks_memory_fts",
]
POSTGRES_CREATE = [
    "ALTER TABLE banks_memory ADD COLUMN IF NOT EXISTS search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED",
    "CREATE INDEX IF NOT EXISTS banks_memory_search ON banks_memory USING GIN (search_vector)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS banks_memory_search",
    "ALTER TABLE banks_memory DROP COLUMN IF EXISTS search_vector",
]


def create_search_schema(schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in [*SQLITE_TABLES, *SQLITE_TRIGGERS, *SQLITE_BACKFILL]:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        for statement in POSTGRES_CREATE:
            schema_editor.execute(statement)


def drop_search_schema(schema_editor: Any) -> None:
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}.get(vendor, [])
    for statement in statements:
        schema_editor.execute(statement)


def ensure_sqlite_triggers(connection: Any) -> None:
    """Re-create the sync triggers (and the vocabulary view) if missing. A later migration that
    alters ``Memory`` makes Django rebuild the table on SQLite (copy, drop, rename), which drops
    its triggers; the rows keep their ids, so the map and the FTS rows stay valid and only the
    triggers need restoring.
    """
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'banks_memory_fts'"
        )
        if not cursor.fetchone()[0]:
            return  # the search migration has not run yet
        for statement in [SQLITE_VOCAB, *SQLITE_TRIGGERS]:
            cursor.execute(statement)
