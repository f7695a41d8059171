"""New memories get time-ordered (UUIDv7) ids. A Python-side default only: nothing changes in the
database, so the state alone is updated (``AlterField`` would rebuild the whole memory table on
SQLite for it). Existing uuid4 ids stay valid."""

import uuid_utils.compat
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("banks", "0006_memory_fk_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="memory",
                    name="id",
                    field=models.UUIDField(default=uuid_utils.compat.uuid7, editable=False,
                                           primary_key=True, serialize=False),
                ),
            ],
        ),
    ]
