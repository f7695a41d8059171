"""Scheduling (issue 16): fair dispatch, automatic retry with backoff."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("operations", "0002_webhooks"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="dispatched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="operation",
            name="retry_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="operation",
            name="next_retry_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="operation",
            name="last_error",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddIndex(
            model_name="operation",
            index=models.Index(
                fields=["status", "bank", "created_at"], name="op_status_bank_created"
            ),
        ),
    ]
