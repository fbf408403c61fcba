from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0003_trainingrun_world_size"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="artifacts_sha256",
            field=models.CharField(
                blank=True,
                default="",
                help_text="SHA-256 of the artifacts' manifest.json in the artifact store, which "
                "lists every file's SHA-256; empty for runs stored before artifacts went to the "
                "store.",
                max_length=64,
            ),
        ),
    ]
