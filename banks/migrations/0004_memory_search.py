"""Full-text search over memories; the schema per backend is in ``banks.search_schema``."""

from django.db import migrations


def forward(apps, schema_editor):
    from banks.search_schema import create_search_schema

    create_search_schema(schema_editor)


def backward(apps, schema_editor):
    from banks.search_schema import drop_search_schema

    drop_search_schema(schema_editor)


class Migration(migrations.Migration):

    dependencies = [
        ("banks", "0003_memory_engine"),
    ]

    operations = [
        migrations.RunPython(forward, backward),
    ]
