"""The statements that read a sprint's live judgments for agreement, and how they are run.

See :mod:`reviews.services.agreement_rows` for what the two statements return. They are written
for PostgreSQL (jsonb operators) and SQLite (JSON1 functions); criterion names are slugs (the
model checks them, and :func:`_slug` again here), so they are written into the SQL as literals
(hence the ``noqa: S608``); values travel as parameters and response keys only ever as data, so
a key may hold any character.
"""

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.db import connections, transaction
from django.db.models import Exists, Max, OuterRef
from psycopg import pq

from annotation.models import Criterion, CriterionKind, Item, Judgment, Response, Sprint

# Ranking places read as columns of one row per judgment; longer rankings (items imported
# before CONCORD_IMPORT_MAX_RESPONSES, which defaults to this) are read a row per response.
WIDE_PLACES = 16
WIDTH_SAMPLE = 1000
JUDGMENT_COLUMNS = ("item", "annotator", "seconds", "tie", "strength")
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
Statement = tuple[str, list, list[str]]


def live_judgments(sprint: Sprint, until: datetime | None = None):
    """The judgments of ``sprint`` that were live at ``until`` (now when None): made by then and
    not yet revised by a judgment made by then."""
    judgments = Judgment.objects.filter(sprint=sprint)
    # NOT EXISTS rather than superseded_by__isnull: PostgreSQL plans it as an anti-join on the
    # few revisions, where the LEFT JOIN hashed every judgment of the table.
    revised = Judgment.objects.filter(supersedes__isnull=False, supersedes=OuterRef("pk"))
    if until is not None:
        judgments = judgments.filter(created_at__lte=until)
        revised = revised.filter(created_at__lte=until)
    return judgments.exclude(Exists(revised))


def ranking_width(sprint: Sprint) -> int:
    """How many ranking places the wide statement reads: the most responses an item of a sample
    of the sprint's items has (positions count from 0, so a gap only widens it). Only a matter
    of speed: a judgment ranking more is read by the response statement. A sample, because the
    maximum over every response of a large sprint took a fifth of the report's time."""
    sample = Item.objects.filter(sprint=sprint).order_by("-pk").values("pk")[:WIDTH_SAMPLE]
    top = Response.objects.filter(item__in=sample).aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


def wide_statement(
    sprint: Sprint, criteria: list[Criterion], width: int, until: datetime | None, using: str
) -> Statement:
    """One row per live judgment: ``judgment`` (its id), :data:`JUDGMENT_COLUMNS`, ``key_<p>``
    (the key at place p of its ranking, p < ``width``), ``longer`` (the ranking goes on past
    ``width``), then ``<answer>_<p>`` per Likert and flag criterion and place: the answer about
    the response at that place. Every path is walked with ``->`` steps, which PostgreSQL runs
    faster than a ``#>`` path array it must take apart per row."""
    dialect = _dialect(using)
    preference = _preference(criteria)
    live, params = _live(sprint, until, using)
    names, selected = _judgment_columns(dialect, preference)
    ranked = [dialect.ranked_key(preference, place) for place in range(width)]
    names = ["judgment", *names, *(f"key_{place}" for place in range(width)), "longer"]
    selected = ["j.id", *selected, *ranked, dialect.ranked_beyond(preference, width)]
    for name, criterion in _answer_criteria(criteria):
        for place in range(width):
            names.append(f"{name}_{place}")
            selected.append(dialect.answer(criterion, ranked[place]))
    sql = f"SELECT {', '.join(selected)} FROM ({live}) j"  # noqa: S608
    return sql, params, names


def response_statement(
    sprint: Sprint,
    criteria: list[Criterion],
    until: datetime | None,
    using: str,
    judgments: list[int] | None = None,
) -> Statement:
    """One row per (live judgment, response of its item), for the judgments with ids
    ``judgments`` (every live one when None): ``judgment`` (its id), :data:`JUDGMENT_COLUMNS`,
    ``key``, ``place`` (0-based, NULL when unranked), then one column per Likert and flag
    criterion. A judgment of an item without responses is one row with a NULL key."""
    dialect = _dialect(using)
    preference = _preference(criteria)
    live, params = _live(sprint, until, using)
    names, selected = _judgment_columns(dialect, preference)
    names = ["judgment", *names, "key", "place"]
    place = dialect.place(preference) if preference else "NULL"
    selected = ["j.id", *selected, "r.key", place]
    for name, criterion in _answer_criteria(criteria):
        names.append(name)
        selected.append(dialect.answer(criterion, "r.key"))
    responses = connections[using].ops.quote_name(Response._meta.db_table)
    if judgments is None:
        join = f"LEFT JOIN {responses} r ON r.item_id = j.item_id"
    else:
        join = dialect.lookup_join(responses)
    sql = f"SELECT {', '.join(selected)} FROM ({live}) j {join}"  # noqa: S608
    if judgments is not None:
        sql += f" WHERE {dialect.among('j.id')}"
        params = [*params, dialect.id_list(judgments)]
    return sql, params, names


def _slug(name: str) -> str:
    """``name``, once it is known to be a slug, safe to write into SQL as a literal."""
    if not SLUG.match(name):
        raise ValueError(f"criterion name {name!r} is not a slug")
    return name


def _preference(criteria: list[Criterion]) -> str | None:
    return next((c.name for c in criteria if c.kind == CriterionKind.PREFERENCE), None)


def _answer_criteria(criteria: list[Criterion]) -> list[tuple[str, Criterion]]:
    kinds = {CriterionKind.LIKERT: "score", CriterionKind.FLAG: "flag"}
    return [(f"{kinds[c.kind]}_{c.pk}", c) for c in criteria if c.kind in kinds]


def _live(sprint: Sprint, until: datetime | None, using: str) -> tuple[str, list]:
    query = (
        live_judgments(sprint, until)
        .order_by()
        .values("id", "item_id", "annotator_id", "seconds", "answers")
    )
    sql, params = query.query.get_compiler(using=using).as_sql()
    return sql, list(params)


def _judgment_columns(dialect, preference: str | None) -> tuple[list[str], list[str]]:
    tie = dialect.truth(dialect.path(preference, "tie")) if preference else "NULL"
    strength = dialect.integer(dialect.path(preference, "strength")) if preference else "NULL"
    return list(JUDGMENT_COLUMNS), ["j.item_id", "j.annotator_id", "j.seconds", tie, strength]


def _dialect(using: str):
    return _Postgres() if connections[using].vendor == "postgresql" else _Sqlite()


class _Postgres:
    def path(self, *parts: str) -> str:
        steps = [f"'{_slug(part)}'" for part in parts]
        return f"(j.answers -> {' -> '.join(steps[:-1])} ->> {steps[-1]})"

    def integer(self, expression: str) -> str:
        return f"({expression})::integer"

    def truth(self, expression: str) -> str:
        # JSON true comes out of ->> as 'true'; the first version also took the text '1'.
        return f"({expression} IN ('true', '1'))"

    def ranking(self, name: str) -> str:
        return f"(j.answers -> '{_slug(name)}' -> 'ranking')"

    def ranked_key(self, name: str, place: int) -> str:
        return f"({self.ranking(name)} ->> {int(place)})"

    def ranked_beyond(self, name: str | None, width: int) -> str:
        return f"(({self.ranking(name)} -> {int(width)}) IS NOT NULL)" if name else "false"

    def answer(self, criterion: Criterion, key: str) -> str:
        value = f"(j.answers -> '{_slug(criterion.name)}' ->> {key})"
        return self.integer(value) if criterion.kind == CriterionKind.LIKERT else self.truth(value)

    def place(self, name: str) -> str:
        ranking = self.ranking(name)
        return (
            "(SELECT min(e.place) - 1 FROM jsonb_array_elements_text("  # noqa: S608
            f"CASE WHEN jsonb_typeof({ranking}) = 'array' THEN {ranking} END"
            ") WITH ORDINALITY e(key, place) WHERE e.key = r.key)"
        )

    def lookup_join(self, responses: str) -> str:
        # A few judgments (the ties): look their responses up by item in the (item, key) index,
        # rather than hash every response of the table (OFFSET 0 keeps the lookup per row).
        return (
            f"LEFT JOIN LATERAL (SELECT key FROM {responses} WHERE item_id = j.item_id"  # noqa: S608
            " OFFSET 0) r ON true"
        )

    def among(self, column: str) -> str:
        return f"{column} = ANY(%s::bigint[])"

    def id_list(self, ids: list[int]):
        # An array literal, one text parameter: psycopg adapts a list element by element,
        # which took a tenth of a second for the ties of a large sprint.
        return "{" + ",".join(map(str, ids)) + "}"


class _Sqlite:
    """The same in SQLite's JSON1: ``json_each`` matches a response key whatever characters it
    holds, where a JSON path would need them escaped."""

    def path(self, *parts: str) -> str:
        return f"json_extract(j.answers, '{self._path(parts)}')"

    def integer(self, expression: str) -> str:
        return f"CAST({expression} AS INTEGER)"

    def truth(self, expression: str) -> str:
        # json_extract gives JSON true as 1.
        return f"({expression} IN (1, 'true', '1'))"

    def ranked_key(self, name: str, place: int) -> str:
        return f"json_extract(j.answers, '{self._path([name, 'ranking'])}[{int(place)}]')"

    def ranked_beyond(self, name: str | None, width: int) -> str:
        if not name:
            return "0"
        beyond = f"{self._path([name, 'ranking'])}[{int(width)}]"
        return f"(json_type(j.answers, '{beyond}') IS NOT NULL)"

    def answer(self, criterion: Criterion, key: str) -> str:
        value = (
            f"(SELECT e.value FROM json_each(j.answers, '{self._path([criterion.name])}') e"  # noqa: S608
            f" WHERE e.key = {key})"
        )
        return self.integer(value) if criterion.kind == CriterionKind.LIKERT else self.truth(value)

    def place(self, name: str) -> str:
        return (
            "(SELECT MIN(CAST(e.key AS INTEGER)) FROM json_each(j.answers,"  # noqa: S608
            f" '{self._path([name, 'ranking'])}') e WHERE e.value = r.key)"
        )

    def lookup_join(self, responses: str) -> str:
        # SQLite has no LATERAL; its planner already loops over the (item, key) index.
        return f"LEFT JOIN {responses} r ON r.item_id = j.item_id"

    def among(self, column: str) -> str:
        # One JSON parameter, not one per id: SQLite caps the parameters of a statement.
        return f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608

    def id_list(self, ids: list[int]):
        return json.dumps(ids)

    def _path(self, parts) -> str:
        return "$" + "".join(f".{json.dumps(_slug(part))}" for part in parts)


# --- running them ---------------------------------------------------------------------------


@contextmanager
def snapshot(
    using: str, parallel: bool = True, ran: list[Statement] | None = None
) -> Iterator[Callable[[Statement], pa.Table]]:
    """A reader of statements that all see one snapshot: each call runs one and returns its
    result as a pyarrow table, typed by column name (ids int64, ``tie``, ``longer`` and flags
    bool, keys dictionary-encoded text, the rest float64). Outside an enclosing transaction,
    PostgreSQL runs them at REPEATABLE READ (SQLite's read transaction is one snapshot)."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    postgres = connection.vendor == "postgresql"

    def read(statement: Statement) -> pa.Table:
        if ran is not None:
            ran.append(statement)
        sql, params, names = statement
        if not postgres:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return _table_from_rows(cursor.fetchall(), names)
        return _table_from_csv(copy_bytes(connection, sql, params, parallel), names)

    with transaction.atomic(using=using):
        if outermost and postgres:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield read


def copy_bytes(connection, sql: str, params, parallel: bool = True) -> bytearray:
    """The result of ``COPY (sql) TO STDOUT`` as CSV, on PostgreSQL.

    The planner is told, for this statement only, not to compile it (JIT compilation of a
    statement this costly took longer than running it), and with ``parallel`` that starting
    workers and passing rows through a Gather cost nothing: it prices each JSON extraction like
    an addition, so it judges them too cheap to share out and reads a sprint's judgments on one
    core; with workers the extraction runs on every core while this process parses the stream
    (``bench/agreement.py`` prints both plans' times). The settings are put back afterwards, as
    a transaction-local setting made inside an enclosing transaction would outlive this
    statement.
    """
    return copy_out(connection, sql, params, parallel, "csv")[0]


def copy_out(
    connection, sql: str, params, parallel: bool, form: str
) -> tuple[bytearray, list[int] | None]:
    """``COPY (sql) TO STDOUT`` in ``form`` (``csv``, or ``binary``: then also the size of each
    message libpq received, one per row, the first one holding the file header too and the
    last one the trailer), planned as :func:`copy_bytes` says."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('jit'), current_setting('parallel_setup_cost'), "
            "current_setting('parallel_tuple_cost')"
        )
        before = list(cursor.fetchone())
        costs = ["0", "0"] if parallel else before[1:]
        cursor.execute(_SET_PLANNER, ["off", *costs])
        statement = (
            f"COPY ({sql}) TO STDOUT WITH (FORMAT {'binary' if form == 'binary' else 'csv'})"
        )
        with connection.wrap_database_errors, cursor.cursor.copy(statement, params):
            pgconn = cursor.cursor.connection.pgconn
            if form == "binary":
                data, sizes = _drain_sized(pgconn)
            else:
                data, sizes = _drain_copy(pgconn), None
        # Not on an error: the atomic block's rollback undoes the settings then.
        cursor.execute(_SET_PLANNER, before)
    return data, sizes


def _drain_copy(pgconn) -> bytearray:
    """Every row of the ``COPY TO`` under way on ``pgconn``, one libpq call per row (psycopg's
    Copy iterator adds several Python frames per row, which cost more than parsing the rows),
    then the statement's final result: an error there is raised, after the connection is left
    ready for the rollback."""
    data = bytearray()
    read = pgconn.get_copy_data
    while True:
        # Blocking: returns at once while libpq holds rows, waits on the socket otherwise.
        size, row = read(0)
        if size < 0:
            break
        data += row
    _end_copy(pgconn, size)
    return data


def _drain_sized(pgconn) -> tuple[bytearray, list[int]]:
    """:func:`_drain_copy`, keeping the size of every message too."""
    data = bytearray()
    sizes: list[int] = []
    read, keep = pgconn.get_copy_data, sizes.append
    while True:
        size, row = read(0)
        if size < 0:
            break
        data += row
        keep(size)
    _end_copy(pgconn, size)
    return data, sizes


def _end_copy(pgconn, size: int) -> None:
    error = None
    while (result := pgconn.get_result()) is not None:
        if error is None and result.status != pq.ExecStatus.COMMAND_OK:
            error = psycopg.errors.error_from_result(result)
    if error is None and size == -2:
        error = psycopg.OperationalError(pgconn.get_error_message())
    if error is not None:
        raise error


_SET_PLANNER = (
    "SELECT set_config('jit', %s, true), set_config('parallel_setup_cost', %s, true), "
    "set_config('parallel_tuple_cost', %s, true)"
)


def _column_type(name: str) -> pa.DataType:
    if name in ("judgment", "item", "annotator"):
        return pa.int64()
    if name in ("tie", "longer") or name.startswith("flag_"):
        return pa.bool_()
    if name in ("key", "model", "ranking") or name.startswith("key_"):
        return pa.dictionary(pa.int32(), pa.string())
    return pa.float64()


def _table_from_csv(data: bytearray, names: list[str]) -> pa.Table:
    if not data:
        return _table_from_rows([], names)
    return pa_csv.read_csv(
        pa.py_buffer(data),
        read_options=pa_csv.ReadOptions(column_names=names),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: _column_type(name) for name in names},
            true_values=["t"],
            false_values=["f"],
            # Only an unquoted empty field is NULL: a response key may well be "NA" or "".
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def _table_from_rows(rows: list[tuple], names: list[str]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    arrays = {}
    for name, values in zip(names, columns, strict=True):
        kind = _column_type(name)
        if pa.types.is_dictionary(kind):
            arrays[name] = pa.array(values, pa.string()).dictionary_encode()
        elif kind == pa.bool_():
            arrays[name] = pa.array([None if v is None else bool(v) for v in values], kind)
        else:
            arrays[name] = pa.array(values, kind)
    return pa.table(arrays)
