"""Leads keep only the view permission on users.

Since invitations, a lead adds nobody through the user admin and changes no account; the user
admin refused both anyway, and this takes the permissions away so no other door can rely on
them. A frozen copy of the rule, as migration 0003 is.
"""

from django.db import migrations

LEADS_GROUP = "Leads"
TAKEN = ("add_user", "change_user")


def take_user_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=LEADS_GROUP).first()
    if group is None:
        return
    taken = Permission.objects.filter(content_type__app_label="auth", codename__in=TAKEN)
    group.permissions.remove(*taken)


def give_user_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=LEADS_GROUP).first()
    if group is None:
        return
    given = Permission.objects.filter(content_type__app_label="auth", codename__in=TAKEN)
    group.permissions.add(*given)


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0007_merge_0006_background_job_0006_invitation"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(take_user_permissions, give_user_permissions)]
