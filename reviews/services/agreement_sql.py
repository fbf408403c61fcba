"""The statements that read a sprint's live judgments for agreement, and how they are run.

See :mod:`reviews.services.agreement_rows` for what the two statements return. They are written
for PostgreSQL (jsonb operators) and SQLite (JSON1 functions); criterion names are slugs (the
model checks them, and :func:`_slug` again here), so they are written into the SQL as literals
(hence the ``noqa: S608``); values travel as parameters and response keys only ever as data, so
a key may hold any character.
"""

import io
import json
import re
from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
import pyarrow.csv as pa_csv
from django.db import connections, transaction
from django.db.models import Exists, Max, OuterRef

from annotation.models import Criterion, CriterionKind, Judgment, Response, Sprint

# Ranking places read as columns of one row per judgment; longer rankings (items imported
# before CONCORD_IMPORT_MAX_RESPONSES, which defaults to this) are read a row per response.
WIDE_PLACES = 16
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
    """An upper bound of how many responses an item of the sprint has (positions count from 0;
    a gap only widens the bound, and a judgment ranking more goes to the response statement)."""
    top = Response.objects.filter(item__sprint=sprint).aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


def wide_statement(
    sprint: Sprint, criteria: list[Criterion], width: int, until: datetime | None, using: str
) -> Statement:
    """One row per live judgment ranking 1..``width`` responses: :data:`JUDGMENT_COLUMNS`,
    ``key_<p>`` (the key at place p), then ``<answer>_<p>`` per Likert and flag criterion and
    place: the answer about the response at that place."""
    dialect = _dialect(using)
    preference = _preference(criteria)
    live, params = _live(sprint, until, using)
    names, selected = _judgment_columns(dialect, preference)
    ranked = [dialect.ranked_key(preference, place) for place in range(width)]
    names += [f"key_{place}" for place in range(width)]
    selected += ranked
    for name, criterion in _answer_criteria(criteria):
        for place in range(width):
            names.append(f"{name}_{place}")
            selected.append(dialect.answer(criterion, ranked[place]))
    where = dialect.ranking_fits(preference, width)
    sql = f"SELECT {', '.join(selected)} FROM ({live}) j WHERE {where}"  # noqa: S608
    return sql, params, names


def response_statement(
    sprint: Sprint, criteria: list[Criterion], width: int, until: datetime | None, using: str
) -> Statement:
    """One row per (live judgment, response of its item) for the judgments the wide statement
    leaves out (all of them when ``width`` is 0): ``judgment`` (its id),
    :data:`JUDGMENT_COLUMNS`, ``key``, ``place`` (0-based, NULL when unranked), then one column
    per Likert and flag criterion. A judgment of an item without responses is one row with a
    NULL key."""
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
    sql = (
        f"SELECT {', '.join(selected)} FROM ({live}) j"  # noqa: S608
        f" LEFT JOIN {responses} r ON r.item_id = j.item_id"
    )
    if preference and width:
        sql += f" WHERE NOT ({dialect.ranking_fits(preference, width)})"
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
        return f"(j.answers #>> '{{{','.join(map(_slug, parts))}}}')"

    def integer(self, expression: str) -> str:
        return f"({expression})::integer"

    def truth(self, expression: str) -> str:
        # JSON true comes out of ->> as 'true'; the first version also took the text '1'.
        return f"({expression} IN ('true', '1'))"

    def ranking(self, name: str) -> str:
        return f"(j.answers #> '{{{_slug(name)},ranking}}')"

    def ranked_key(self, name: str, place: int) -> str:
        return self.path(name, "ranking", str(place))

    def ranking_fits(self, name: str, width: int) -> str:
        ranking = self.ranking(name)
        length = (
            f"CASE WHEN jsonb_typeof({ranking}) = 'array' THEN jsonb_array_length({ranking})"
            " ELSE 0 END"
        )
        return f"({length}) BETWEEN 1 AND {int(width)}"

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

    def ranking_fits(self, name: str, width: int) -> str:
        path = self._path([name, "ranking"])
        length = (
            f"CASE WHEN json_type(j.answers, '{path}') = 'array'"
            f" THEN json_array_length(j.answers, '{path}') ELSE 0 END"
        )
        return f"({length}) BETWEEN 1 AND {int(width)}"

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

    def _path(self, parts) -> str:
        return "$" + "".join(f".{json.dumps(_slug(part))}" for part in parts)


# --- running them ---------------------------------------------------------------------------


def read_tables(statements: list[Statement], using: str, parallel: bool = True) -> list[pa.Table]:
    """Run ``statements`` in one transaction and return each result as a pyarrow table, typed
    by column name (ids int64, ``tie`` and flags bool, keys dictionary-encoded text, the rest
    float64). Outside an enclosing transaction, PostgreSQL runs them at REPEATABLE READ, so both
    see one snapshot (SQLite's read transaction already does)."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    tables = []
    with transaction.atomic(using=using):
        if connection.vendor != "postgresql":
            with connection.cursor() as cursor:
                for sql, params, names in statements:
                    cursor.execute(sql, params)
                    tables.append(_table_from_rows(cursor.fetchall(), names))
            return tables
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for sql, params, names in statements:
            buffer = io.BytesIO()
            for block in copy_rows(connection, sql, params, parallel):
                buffer.write(block)
            tables.append(_table_from_csv(buffer, names))
    return tables


def copy_rows(connection, sql: str, params, parallel: bool = True) -> Iterator[bytes]:
    """``COPY (sql) TO STDOUT`` as CSV, block by block, on PostgreSQL.

    The planner is told, for this statement only, not to compile it (JIT compilation of a
    statement this costly takes longer than running it), and with ``parallel`` that starting
    workers and passing rows through a Gather cost nothing: it prices each JSON extraction like
    an addition, so it judges them too cheap to share out and reads a sprint's judgments on one
    core; with workers the extraction runs on every core while this process parses the stream
    (``bench/agreement.py`` prints both plans' times). The settings are put back afterwards, as
    a transaction-local setting made inside an enclosing transaction would outlive this
    statement.
    """
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('jit'), current_setting('parallel_setup_cost'), "
            "current_setting('parallel_tuple_cost')"
        )
        before = list(cursor.fetchone())
        costs = ["0", "0"] if parallel else before[1:]
        cursor.execute(_SET_PLANNER, ["off", *costs])
        statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
        with cursor.cursor.copy(statement, params) as copy:
            yield from copy
        # Not on an error: the atomic block's rollback undoes the settings then.
        cursor.execute(_SET_PLANNER, before)


_SET_PLANNER = (
    "SELECT set_config('jit', %s, true), set_config('parallel_setup_cost', %s, true), "
    "set_config('parallel_tuple_cost', %s, true)"
)


def _column_type(name: str) -> pa.DataType:
    if name in ("judgment", "item", "annotator"):
        return pa.int64()
    if name == "tie" or name.startswith("flag_"):
        return pa.bool_()
    if name == "key" or name.startswith("key_"):
        return pa.dictionary(pa.int32(), pa.string())
    return pa.float64()


def _table_from_csv(buffer: io.BytesIO, names: list[str]) -> pa.Table:
    if not buffer.getbuffer().nbytes:
        return _table_from_rows([], names)
    return pa_csv.read_csv(
        pa.py_buffer(buffer.getbuffer()),
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
