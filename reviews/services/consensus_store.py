"""Writing computed consensus labels in bulk, never over an adjudicated one.

``INSERT ... ON CONFLICT (item_id) DO UPDATE ... WHERE``, on PostgreSQL and SQLite alike. The
``WHERE`` does two things:

- an adjudicated label is never replaced: the condition is checked on the row as it stands
  when the statement reaches it (PostgreSQL locks the conflicting row and re-checks), so a
  reviewer's resolution that commits while a recompute runs still wins;
- a label whose content is unchanged is not rewritten, so ``updated_at`` moves only when the
  answer does (the retraining schedule counts labels by ``updated_at``) and a recompute of a
  settled sprint writes nothing;
- given ``read_at`` (a sprint-wide recompute, which read the judgments then), a label written
  after that moment is left as it is: the per-item refresh that wrote it saw a newer judgment
  than the recompute did, and an older answer must not replace it.

On PostgreSQL the rows reach the statement through ``COPY`` into a temporary table (JSON
serialised by orjson), so a sprint's labels cost one ``COPY`` and one ``INSERT ... SELECT`` per
batch; SQLite, the embedded default, runs the single-row statement with ``executemany``.
"""

import orjson
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
COPY_BATCH_ROWS = 20_000
COPY_FROM_ROWS = 50
JSON_FIELDS = ("ranking", "answers", "judgment_ids")
NULL = "\\N"


def _copy_text(rows: list[dict]) -> str:
    """The rows as ``COPY`` text (tab-separated, ``\\N`` for null, backslashes doubled), in
    the order ``item_id`` then :data:`CONTENT`. Rows may share ranking and answers objects,
    so each object is serialised once (by identity: the rows keep them alive meanwhile)."""
    texts: dict[int, str] = {}

    def json_text(value) -> str:
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = orjson.dumps(value).decode().replace("\\", "\\\\")
        return text

    def number(value) -> str:
        return NULL if value is None else repr(float(value))

    lines = [
        f"{int(row['item_id'])}\t{json_text(row['ranking'])}\t{'t' if row['tie'] else 'f'}\t"
        f"{number(row['strength'])}\t{json_text(row['answers'])}\t{row['method']}\t"
        f"{number(row['confidence'])}\t{number(row['agreement'])}\t"
        f"{orjson.dumps(row['judgment_ids']).decode()}\n"
        for row in rows
    ]
    return "".join(lines)


def _params(row: dict, sprint_id: int, now) -> list:
    fields = {field.name: field for field in ConsensusLabel._meta.concrete_fields}
    values = [sprint_id, row["item_id"]]
    for name in CONTENT:
        values.append(fields[name].get_db_prep_save(row[name], connection))
    values.append(fields["updated_at"].get_db_prep_save(now, connection))
    return values


def _statement(fenced: bool = False) -> tuple[str, str]:
    """The upsert's ``INSERT INTO ... (columns)`` head and its ``ON CONFLICT`` clause; with
    ``fenced``, the clause ends with one more parameter, the moment the labels were read at."""
    quote = connection.ops.quote_name
    table = quote(ConsensusLabel._meta.db_table)
    columns = ["sprint_id", "item_id", *CONTENT, "updated_at"]
    assignments = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in (*CONTENT, "updated_at"))
    current = ", ".join(f"{table}.{quote(c)}" for c in CONTENT)
    proposed = ", ".join(f"excluded.{quote(c)}" for c in CONTENT)
    # Table and column names come from the model; every value is a parameter.
    head = f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)})"
    conflict = (
        f"ON CONFLICT (item_id) DO UPDATE SET {assignments} "
        f"WHERE {table}.method <> '{ConsensusMethod.ADJUDICATED.value}' "
        f"AND ({current}) IS DISTINCT FROM ({proposed})"
    )
    if fenced:
        conflict += f" AND {table}.{quote('updated_at')} < %s"
    return head, conflict


def upsert_labels(rows: list[dict], sprint_id: int, *, read_at=None) -> int:
    """Insert or refresh computed labels (dicts with ``item_id`` and the :data:`CONTENT`
    fields) of one sprint. Returns how many rows were inserted or changed; unchanged and
    adjudicated labels are left alone. A batch per transaction. A few rows (the per-item
    refresh), and every batch on SQLite: one single-row statement run with ``executemany``
    (psycopg pipelines it; a statement of a thousand rows' worth of placeholders would cost
    more to prepare than to run). More rows on PostgreSQL: ``COPY`` then one statement."""
    if not rows:
        return 0
    now = timezone.now()
    head, conflict = _statement(fenced=read_at is not None)
    fence = [] if read_at is None else [_when(read_at)]
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        return _copy_upsert(rows, sprint_id, now, head, conflict, fence)
    placeholders = ", ".join(["%s"] * (len(CONTENT) + 3))
    sql = f"{head} VALUES ({placeholders}) {conflict}"
    written = 0
    for start in range(0, len(rows), BATCH_ROWS):
        params = [
            _params(row, sprint_id, now) + fence for row in rows[start : start + BATCH_ROWS]
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, params)
            written += max(cursor.rowcount, 0)
    return written


def _when(moment):
    return ConsensusLabel._meta.get_field("updated_at").get_db_prep_save(moment, connection)


def _copy_upsert(
    rows: list[dict], sprint_id: int, now, head: str, conflict: str, fence: list
) -> int:
    """The upsert fed from a temporary table filled by ``COPY``. The table copies the label
    table's column types, so each value is read as the label stores it; it is dropped after
    each batch (``ON COMMIT DROP`` alone would keep it inside an enclosing transaction)."""
    quote = connection.ops.quote_name
    table = quote(ConsensusLabel._meta.db_table)
    names = ["item_id", *CONTENT]
    columns = ", ".join(quote(name) for name in names)
    # Table and column names come from the model; every value is a parameter.
    create = (
        f"CREATE TEMPORARY TABLE consensus_incoming ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {columns} FROM {table} WITH NO DATA"
    )
    insert = (
        f"{head} SELECT %s, {columns}, %s FROM consensus_incoming "  # noqa: S608
        f"ORDER BY item_id {conflict}"
    )
    written = 0
    for start in range(0, len(rows), COPY_BATCH_ROWS):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(create)
            with cursor.cursor.copy(f"COPY consensus_incoming ({columns}) FROM STDIN") as copy:
                copy.write(_copy_text(rows[start : start + COPY_BATCH_ROWS]))
            cursor.execute(insert, [sprint_id, now, *fence])
            written += max(cursor.rowcount, 0)
            cursor.execute("DROP TABLE consensus_incoming")
    return written
