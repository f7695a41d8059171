"""Banks and the memories they hold. Fields, constraints and indexes only; workflows live in
``banks.services``."""

from __future__ import annotations

from django.db import models
from uuid_utils.compat import uuid7


class Bank(models.Model):
    """A memory bank, addressed by the caller's own ``bank_id`` string."""

    bank_id = models.CharField(max_length=128, unique=True)
    name = models.CharField(max_length=256, blank=True, default="")
    mission = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["bank_id"]

    def __str__(self) -> str:
        return self.bank_id


class Memory(models.Model):
    """One retained item. ``(operation, item_index)`` is what makes a batch exactly-once."""

    # Time-ordered ids (UUIDv7): every index that holds memory ids -- this primary key, the
    # full-text map, the entity links' (entity, memory) -- then grows at its end instead of at
    # random places, which made the retain chunk's inserts about a quarter cheaper (uuid4 ids).
    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No single-column FK indexes: (bank, created_at, id) and the unique (operation,
    # item_index) serve every lookup by bank or by operation, and each index more is one more
    # B-tree insert per retained item.
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="memories",
                             db_index=False)
    content = models.TextField()
    context = models.TextField(blank=True, default="")
    timestamp = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    tags = models.JSONField(default=list, blank=True)
    # NULL means "no document", distinct from an empty id; the wire format has null too.
    document_id = models.CharField(max_length=512, null=True, blank=True)  # noqa: DJ001
    # Deleting an operation record keeps its memories (docs/api.md 1.2), hence SET_NULL.
    operation = models.ForeignKey(
        "operations.Operation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="memories",
        db_index=False,
    )
    item_index = models.PositiveIntegerField(null=True, blank=True)
    # How many entities the memory mentions; graph_update's link weight needs it for every
    # neighbour, and a column is cheaper than a COUNT per neighbour.
    entity_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "memories"  # not "Memorys" in the admin
        constraints = [
            models.UniqueConstraint(
                fields=["operation", "item_index"], name="memory_unique_operation_item"
            ),
        ]
        indexes = [
            # GET /api/banks/{bank}/memories/ (newest first) and ?document_id=.
            models.Index(fields=["bank", "created_at", "id"], name="memory_bank_created"),
            models.Index(fields=["bank", "document_id"], name="memory_bank_document"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_id}:{self.id}"


# --- Memory engine: entities, observations, graph links (issue 6) ------------------------------


class Entity(models.Model):
    """Something memories mention, deduplicated per bank by its normalised ``name``
    ("Alice" and "alice" are one entity; see ``banks.entities.normalise``)."""

    # No separate index on bank: the unique (bank, name) index serves every bank lookup.
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="entities",
                             db_index=False)
    name = models.CharField(max_length=256)  # normalised key, unique per bank
    display_name = models.CharField(max_length=256)  # the spelling first seen
    type = models.CharField(max_length=32, default="name")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "entities"
        constraints = [
            models.UniqueConstraint(fields=["bank", "name"], name="entity_unique_bank_name"),
        ]

    def __str__(self) -> str:
        return f"{self.bank_id}:{self.name}"


class MemoryEntity(models.Model):
    """A memory mentions an entity. ``position`` keeps the order of first mention."""

    # Both directions are served by the composite indexes below (unique (memory, entity) and
    # (entity, memory)); single-column FK indexes would only slow the retain chunk's inserts.
    memory = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="entity_links",
                               db_index=False)
    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="memory_links",
                               db_index=False)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["memory", "entity"], name="memoryentity_unique"),
        ]
        indexes = [
            # Observations and graph_update go from an entity to its memories.
            models.Index(fields=["entity", "memory"], name="memoryentity_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.memory_id}->{self.entity_id}"


class Observation(models.Model):
    """One deterministic summary per entity, written by ``regenerate_observations`` (a re-run
    replaces it)."""

    entity = models.OneToOneField(Entity, on_delete=models.CASCADE, related_name="observation")
    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="observations")
    text = models.TextField()
    mention_count = models.PositiveIntegerField(default=0)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    co_mentions = models.JSONField(default=list, blank=True)  # [{"name", "count"}]
    snippets = models.JSONField(default=list, blank=True)  # [{"memory_id", "text", "seen_at"}]
    operation = models.ForeignKey(
        "operations.Operation", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="observations",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"observation of {self.entity_id}"


class MemoryLink(models.Model):
    """A weighted link from a memory to one of its top-K neighbours by shared entities, written
    by ``graph_update`` (a re-run replaces the source's links)."""

    bank = models.ForeignKey(Bank, on_delete=models.CASCADE, related_name="memory_links")
    # Served by the unique (source, target) index; one index less on graph_update's inserts.
    source = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="links_out",
                               db_index=False)
    target = models.ForeignKey(Memory, on_delete=models.CASCADE, related_name="links_in")
    weight = models.FloatField()
    shared_entities = models.JSONField(default=list, blank=True)  # display names
    operation = models.ForeignKey(
        "operations.Operation", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="memory_links",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["source", "-weight"]
        constraints = [
            models.UniqueConstraint(fields=["source", "target"], name="memorylink_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}->{self.target_id} ({self.weight})"


PREFIX_HEX_CHARS = 8  # the clear part of a key: hs_<prefix>_<secret> (banks.apikeys)


class ApiKey(models.Model):
    """One API key. ``all_banks`` or the explicit ``bank_ids`` list decide what it may see;
    an empty list with ``all_banks=False`` sees nothing (it never falls back to "all")."""

    name = models.CharField(max_length=128)
    prefix = models.CharField(max_length=PREFIX_HEX_CHARS, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    all_banks = models.BooleanField(default=True)
    # Bank ids, not foreign keys: a key may be scoped to a bank its holder creates later by
    # retaining into it, and deleting a bank must not silently change what a key may see.
    bank_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"
        indexes = [
            # "Is any key active?" runs on every unauthenticated request (auth.py).
            models.Index(fields=["revoked_at"], name="apikey_revoked"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def bank_scope(self) -> frozenset[str] | None:
        """None means every bank; otherwise exactly these bank ids."""
        return None if self.all_banks else frozenset(self.bank_ids)

    def scope_label(self) -> str:
        return "all banks" if self.all_banks else ", ".join(sorted(self.bank_ids)) or "(none)"


# --- Files (issue 21) ----------------------------------------------------------------------------


class UploadedFile(models.Model):
    """The bytes of one uploaded file, unit ``index`` of a ``file_retain`` operation.

    In the database because every executor reads it there: the embedded threads, and RQ workers
    on other machines that share no disk with the API process. A row lives until its file is
    processed (the job deletes it in the chunk transaction that commits the file's memories) or
    until its operation record is deleted or pruned (CASCADE)."""

    operation = models.ForeignKey("operations.Operation", on_delete=models.CASCADE,
                                  related_name="uploaded_files", db_index=False)
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            # Also the index of the job's lookup by (operation, index).
            models.UniqueConstraint(fields=["operation", "index"], name="uploadedfile_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_id}[{self.index}]"
