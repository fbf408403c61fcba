"""Writing computed consensus labels in bulk, never over an adjudicated one.

``INSERT ... ON CONFLICT (item_id) DO UPDATE ... WHERE``, on PostgreSQL and SQLite alike. The
``WHERE`` does two things:

- an adjudicated label is never replaced: the condition is checked on the row as it stands
  when the statement reaches it (PostgreSQL locks the conflicting row and re-checks), so a
  reviewer's resolution that commits while a recompute runs still wins;
- a label whose content is unchanged is not rewritten, so ``updated_at`` moves only when the
  answer does (the retraining schedule counts labels by ``updated_at``) and a recompute of a
  settled sprint writes nothing.
"""

from django.db import connection, transaction
from django.utils import timezone

from reviews.models import ConsensusLabel, ConsensusMethod

CONTENT = (
    "ranking",
    "tie",
    "strength",
    "answers",
    "method",
    "confidence",
    "agreement",
    "judgment_ids",
)
BATCH_ROWS = 1000


def _params(row: dict, sprint_id: int, now) -> list:
    fields = {field.name: field for field in ConsensusLabel._meta.concrete_fields}
    values = [sprint_id, row["item_id"]]
    for name in CONTENT:
        values.append(fields[name].get_db_prep_save(row[name], connection))
    values.append(fields["updated_at"].get_db_prep_save(now, connection))
    return values


def upsert_labels(rows: list[dict], sprint_id: int) -> int:
    """Insert or refresh computed labels (dicts with ``item_id`` and the :data:`CONTENT`
    fields) of one sprint. Returns how many rows were inserted or changed; unchanged and
    adjudicated labels are left alone. One single-row statement run with ``executemany``
    (psycopg pipelines it), a batch per transaction: a statement of a thousand rows' worth of
    placeholders would cost more to prepare than to run."""
    if not rows:
        return 0
    quote = connection.ops.quote_name
    table = quote(ConsensusLabel._meta.db_table)
    columns = ["sprint_id", "item_id", *CONTENT, "updated_at"]
    assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in (*CONTENT, "updated_at"))
    current = ", ".join(f"{table}.{quote(c)}" for c in CONTENT)
    proposed = ", ".join(f"excluded.{quote(c)}" for c in CONTENT)
    placeholders = ", ".join(["%s"] * len(columns))
    # Table and column names come from the model; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({placeholders}) ON CONFLICT (item_id) DO UPDATE SET {assignments} "
        f"WHERE {table}.method <> '{ConsensusMethod.ADJUDICATED.value}' "
        f"AND ({current}) IS DISTINCT FROM ({proposed})"
    )
    now = timezone.now()
    written = 0
    for start in range(0, len(rows), BATCH_ROWS):
        params = [_params(row, sprint_id, now) for row in rows[start : start + BATCH_ROWS]]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)
            written += max(cursor.rowcount, 0)
    return written
