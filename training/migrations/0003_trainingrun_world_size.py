from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_selection_run"),
    ]

    operations = [
        migrations.AddField(
            model_name="trainingrun",
            name="world_size",
            field=models.PositiveSmallIntegerField(
                default=1,
                help_text=(
                    "Processes the run trained in (DistributedDataParallel; 1: a single process)."
                ),
            ),
        ),
    ]
