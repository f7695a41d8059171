"""Drop Memory's single-column FK indexes: (bank, created_at, id) and the unique (operation,
item_index) already serve lookups by bank and by operation, and every index more is one more
B-tree insert per retained item.

Dropped with DROP INDEX rather than ``AlterField``'s database side, which on SQLite rebuilds the
whole memory table (and its full-text triggers) to remove an index. Django names these indexes
the same on every backend.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "banks_memory_bank_id_848e1846": "bank_id",
    "banks_memory_operation_id_67b8bdc1": "operation_id",
}


class Migration(migrations.Migration):

    dependencies = [
        ("banks", "0005_apikey"),
        ("operations", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="memory",
                    name="bank",
                    field=models.ForeignKey(db_index=False,
                                            on_delete=django.db.models.deletion.CASCADE,
                                            related_name="memories", to="banks.bank"),
                ),
                migrations.AlterField(
                    model_name="memory",
                    name="operation",
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.SET_NULL,
                                            related_name="memories", to="operations.operation"),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}",
                    reverse_sql=f"CREATE INDEX IF NOT EXISTS {name} ON banks_memory ({column})",
                )
                for name, column in INDEXES.items()
            ],
        ),
    ]
