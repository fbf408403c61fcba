"""Judgments and audit events are append-only: the database itself refuses UPDATE on them, so
no code path (an ORM ``save()`` on an existing row, a raw query, an admin slip) can rewrite
history. Deletes are already refused by the PROTECT foreign keys that point at both."""

from django.db import migrations

TABLES = ("annotation_judgment", "annotation_auditevent")


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(
                f"""
                CREATE OR REPLACE FUNCTION {table}_refuse_update() RETURNS trigger AS $$
                BEGIN
                    RAISE EXCEPTION '{table} is append-only: rows are never updated';
                END;
                $$ LANGUAGE plpgsql;
                CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}
                    FOR EACH ROW EXECUTE FUNCTION {table}_refuse_update();
                """
            )
        elif vendor == "sqlite":
            schema_editor.execute(
                f"""
                CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never updated'); END;
                """
            )


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for table in TABLES:
        if vendor == "postgresql":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {table}_refuse_update();")
        elif vendor == "sqlite":
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only;")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
