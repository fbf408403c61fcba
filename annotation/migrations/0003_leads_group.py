"""The "Leads" group with the model permissions a sprint lead needs in the admin.

Which rows a lead sees is decided in the admin (the sprints they lead); these permissions only
open the pages. The list is a frozen copy of ``annotation.admin.leads.LEAD_PERMISSIONS`` as it
was when this migration was written; later changes go in a later migration.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

LEADS_GROUP = "Leads"

# Delete on criteria and members only: a lead removes a member who left or a criterion from a
# rubric no judgment answers yet (frozen rubrics refuse it); sprints, rubrics and history stay.
LEAD_PERMISSIONS = {
    ("annotation", "rubric"): ("view", "add", "change"),
    ("annotation", "criterion"): ("view", "add", "change", "delete"),
    ("annotation", "sprint"): ("view", "add", "change"),
    ("annotation", "sprintmember"): ("view", "add", "change", "delete"),
    ("annotation", "item"): ("view",),
    ("annotation", "response"): ("view",),
    ("annotation", "goldanswer"): ("view",),
    ("annotation", "assignment"): ("view",),
    ("annotation", "judgment"): ("view",),
    ("annotation", "auditevent"): ("view",),
    ("auth", "user"): ("view", "add", "change"),
}


def create_leads_group(apps, schema_editor):
    # Permissions are normally created by post_migrate, after all migrations have run; on a
    # fresh database they do not exist yet at this point, so create them now.
    alias = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.using(alias).get_or_create(name=LEADS_GROUP)
    permissions = []
    for (app_label, model), actions in LEAD_PERMISSIONS.items():
        permissions += Permission.objects.using(alias).filter(
            content_type__app_label=app_label,
            content_type__model=model,
            codename__in=[f"{action}_{model}" for action in actions],
        )
    group.permissions.add(*permissions)


def remove_leads_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.using(schema_editor.connection.alias).filter(name=LEADS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0002_append_only_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_leads_group, remove_leads_group)]
