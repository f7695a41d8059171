from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("operations", "0006_outages"),
    ]

    operations = [
        migrations.AddField(
            model_name="operation",
            name="result_rendering",
            field=models.TextField(blank=True, editable=False, null=True),
        ),
    ]
