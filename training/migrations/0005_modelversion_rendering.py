from django.db import migrations, models

DEFAULT_DOCUMENT_TEMPLATE = "[{number}] {title} (id: {id})\n{text}"
DEFAULT_CONTEXT_TEMPLATE = "Context documents:\n{documents}"


def record_legacy_renderings(apps, schema_editor):
    """Versions registered before renderings were recorded: their dataset's manifest rendering
    when it has one, else its filters' (an export made before renderings has only ``form``
    there, and its rows left the context out); the chat template is unknown (null)."""
    ModelVersion = apps.get_model("training", "ModelVersion")
    for model in ModelVersion.objects.select_related("run__dataset").filter(rendering={}):
        dataset = model.run.dataset
        filters = dataset.filters or {}
        rendering = (dataset.manifest or {}).get("rendering") or {
            "form": filters.get("form") or "standard",
            "context": filters.get("context") or "none",
            "context_template": filters.get("context_template") or DEFAULT_CONTEXT_TEMPLATE,
            "document_template": filters.get("document_template") or DEFAULT_DOCUMENT_TEMPLATE,
        }
        model.rendering = {**rendering, "chat_template": None}
        model.save(update_fields=["rendering"])


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0004_trainingrun_artifacts_sha256"),
        ("exports", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="rendering",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text="How the training rows were written (form, context and templates) "
                "and the tokenizer's chat template (null: none): every score renders its prompt "
                "this way (training.services.model_rendering).",
            ),
        ),
        migrations.RunPython(record_legacy_renderings, migrations.RunPython.noop),
    ]
