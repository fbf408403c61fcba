"""A fresh PostgreSQL database for a benchmark: the one named in DATABASE_URL, dropped, created,
migrated, with Django set up on it. Shared by the bench scripts, which import it by name (a
script's own folder is first on its import path)."""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def setup_fresh_database(script: str, keep: bool = False) -> str:
    """Recreate the database of DATABASE_URL, set Django up on it and migrate; returns the URL.
    With ``keep``, a database of that name that already exists is kept as it is (only migrated),
    for a script that can reuse what an earlier run filled. Exits with a message when
    DATABASE_URL is not PostgreSQL, since the figures are for it."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"{script} needs DATABASE_URL pointing at PostgreSQL (it recreates that database)")
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key")
    os.environ.setdefault("CONCORD_DATA_DIR", tempfile.mkdtemp(prefix="concord-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "concord.settings")
    os.environ.setdefault("CONCORD_LOG_LEVEL", "WARNING")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))

    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not (keep and exists):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url
