"""Reading a sprint's live judgments into per-criterion answer arrays for agreement.

One query reads every live judgment of the sprint, with each scalar the agreement needs pulled
out of the JSON by the database (``answers #>> '{preference,ranking,0}'`` and the like, Likert
scores cast to integer there), so Python never parses a judgment's JSON. The query is built
with the ORM but fetched through the cursor: Django's per-value converters cost more than the
database itself on half a million rows. Text columns (response keys, JSON booleans) are mapped
with ``pandas.factorize``, which hashes in C, so each distinct text is looked at once. The
columns follow the response keys the sprint's items use, read first from the responses table.

Units of analysis, by criterion kind (see :mod:`reviews.services.agreement`):

- ``preference``: one unit per (item, pair of its responses); the value says which of the two
  ranks higher, or tie. For two responses this is the winner or tie, for N > 2 the pairwise
  comparison of rankings.
- strength (of a preference with ``strength_labels``), reported as ``<name>.strength``: one unit
  per item of exactly two responses, on the signed scale +s when the first response by key
  order wins, -s when the other does, 0 for a tie; ordinal.
- ``likert``: one unit per (item, response), the score; ordinal unless the criterion's config
  says ``"level": "nominal" | "interval" | "ratio"``.
- ``flag``: one unit per (item, response), true or false, nominal; a judgment that leaves a
  response out (or the whole flag) says false.
"""

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

import numpy as np
import pandas as pd
from django.db import connections, transaction
from django.db.models import Exists, IntegerField, OuterRef
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast

from annotation.models import Criterion, CriterionKind, Judgment, Response, Sprint

TIE, FIRST_WINS, SECOND_WINS = 0, 1, -1
# JSON booleans come out of ->> as the text 'true' (SQLite and PostgreSQL alike); 1 == True.
_TRUE = frozenset({"true", "1", 1})


@dataclass
class CriterionAnswers:
    """The answers to one criterion: entry ``i`` says judgment row ``rows[i]`` gave unit
    ``units[i]`` the value ``domain[values[i]]``."""

    name: str
    level: str
    domain: np.ndarray
    rows: np.ndarray
    units: np.ndarray
    values: np.ndarray


@dataclass
class SprintJudgments:
    """The live judgments of a sprint as arrays, one entry per judgment row."""

    item_ids: np.ndarray
    # Items numbered 0..items-1 in id order, per row.
    item_index: np.ndarray
    annotator_ids: np.ndarray
    seconds: np.ndarray
    keys: list[str]
    # rank[row, key] = place of the key in the row's ranking (0 best), -1 when not ranked.
    rank: np.ndarray
    tie: np.ndarray
    criteria: list[CriterionAnswers] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.item_ids)

    def distinct_items(self, rows: np.ndarray | None = None) -> int:
        index = self.item_index if rows is None else self.item_index[rows]
        return int(np.count_nonzero(np.bincount(index))) if len(index) else 0


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


def judgment_query(sprint: Sprint, until: datetime | None = None):
    """The one query of :func:`load_judgments`: its queryset (``values_list`` of plain columns),
    the column names, the criteria and the response keys the columns follow."""
    criteria = list(Criterion.objects.filter(rubric_id=sprint.rubric_id))
    keys = sorted(
        set(
            Response.objects.filter(item__sprint=sprint)
            .order_by()
            .values_list("key", flat=True)
            .distinct()
        )
    )
    preference = next((c for c in criteria if c.kind == CriterionKind.PREFERENCE), None)
    columns: dict[str, object] = {}
    if preference is not None:
        name = preference.name
        for place in range(len(keys)):
            columns[f"rank_{place}"] = _json_text(name, "ranking", str(place))
        columns["tie"] = _json_text(name, "tie")
        columns["strength"] = Cast(_json_text(name, "strength"), IntegerField())
    for criterion in criteria:
        if criterion.kind not in (CriterionKind.LIKERT, CriterionKind.FLAG):
            continue
        for index, key in enumerate(keys):
            value = _json_text(criterion.name, key)
            if criterion.kind == CriterionKind.LIKERT:
                columns[f"likert_{criterion.pk}_{index}"] = Cast(value, IntegerField())
            else:
                columns[f"flag_{criterion.pk}_{index}"] = value
    names = list(columns)
    query = (
        live_judgments(sprint, until)
        .order_by()
        .annotate(**columns)
        .values_list("item_id", "annotator_id", "seconds", *names)
    )
    return query, ["item_id", "annotator_id", "seconds", *names], criteria, keys


def load_judgments(sprint: Sprint, until: datetime | None = None) -> SprintJudgments:
    """Read the live judgments of ``sprint`` and split them into per-criterion answers."""
    query, all_names, criteria, keys = judgment_query(sprint, until)
    names = all_names[3:]
    data = fetch_columns(query, all_names)
    column = {name: _decode(name, values) for name, values in zip(names, data[3:], strict=True)}
    item_ids = np.asarray(data[0], dtype=np.int64)
    item_index = pd.factorize(item_ids, sort=True)[0] if len(item_ids) else item_ids
    judgments = SprintJudgments(
        item_ids=item_ids,
        item_index=item_index,
        annotator_ids=np.asarray(data[1], dtype=np.int64),
        seconds=_number_column(data[2]),
        keys=keys,
        rank=_rank_matrix(column, keys, len(item_ids)),
        tie=column.get("tie", np.zeros(len(item_ids), dtype=bool)),
    )
    present = _present_keys(judgments, criteria, column)
    for criterion in criteria:
        if criterion.kind == CriterionKind.PREFERENCE:
            judgments.criteria.append(_preference(criterion, judgments, present, item_index))
            strength = _strength(criterion, judgments, column, present, item_index)
            if strength is not None:
                judgments.criteria.append(strength)
        elif criterion.kind in (CriterionKind.LIKERT, CriterionKind.FLAG):
            judgments.criteria.append(_per_response(criterion, column, present, item_index))
    return judgments


def fetch_columns(query, names: list[str], parallel: bool = True) -> list:
    """The query's result, one sequence per column. On PostgreSQL through ``COPY ... TO
    STDOUT`` parsed by pandas' C reader, which skips building a Python tuple per row; elsewhere
    through the cursor (the ORM's own iterator would add a converter call per value)."""
    sql, params = query.query.get_compiler(using=query.db).as_sql()
    connection = connections[query.db]
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        for block in copy_rows(connection, sql, params, parallel):
            buffer.write(block)
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            return [()] * len(names)
        text = [n for n in names if n.startswith(("rank_", "flag_")) or n == "tie"]
        # Only an empty field is missing: a response key may well be "NA" or "null".
        frame = pd.read_csv(
            buffer,
            header=None,
            names=names,
            dtype=dict.fromkeys(text, object),
            keep_default_na=False,
            na_values=[""],
        )
        return [frame[name].to_numpy() for name in names]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return list(zip(*rows, strict=True)) if rows else [()] * len(names)


def copy_rows(connection, sql: str, params, parallel: bool = True) -> Iterator[bytes]:
    """``COPY (sql) TO STDOUT`` as CSV, block by block, on PostgreSQL.

    With ``parallel``, the planner is told, for this statement only, that starting workers and
    passing rows through a Gather cost nothing. It prices each JSON extraction like an addition,
    so it judges the ~15 per judgment too cheap to share out and reads a sprint's half-million
    judgments on one core; with workers the extraction runs on every core while this process
    parses the stream (``bench/agreement.py`` prints both plans' times). COPY of a query may
    use a parallel plan since PostgreSQL 9.6. The settings are put back afterwards, as a
    transaction-local setting made inside an enclosing transaction would outlive this statement.
    """
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        if parallel:
            cursor.execute(
                "SELECT current_setting('parallel_setup_cost'), "
                "current_setting('parallel_tuple_cost')"
            )
            before = cursor.fetchone()
            cursor.execute(_SET_PLANNER_COSTS, ["0", "0"])
        statement = f"COPY ({sql}) TO STDOUT WITH (FORMAT csv)"
        with cursor.cursor.copy(statement, params) as copy:
            yield from copy
        # Not on an error: the atomic block's rollback undoes the settings then.
        if parallel:
            cursor.execute(_SET_PLANNER_COSTS, list(before))


_SET_PLANNER_COSTS = (
    "SELECT set_config('parallel_setup_cost', %s, true), "
    "set_config('parallel_tuple_cost', %s, true)"
)


def _json_text(*path: str) -> KeyTextTransform:
    """``answers #>> path`` as text. Built from nested transforms rather than a ``__`` lookup
    string, so that a response key with ``__`` or dots in it still names one key."""
    inner = "answers"
    for key in path[:-1]:
        inner = KeyTransform(key, inner)
    return KeyTextTransform(path[-1], inner)


def _decode(name: str, values: tuple) -> np.ndarray:
    """A fetched column as an array: ranks as text codes, 'tie' and flags as booleans, the
    rest (integers cast by the database) as floats with NaN for missing."""
    if name.startswith("rank_"):
        return _codes(values)
    if name == "tie" or name.startswith("flag_"):
        codes, uniques = _codes(values)
        truth = np.array([value in _TRUE for value in uniques] + [False], dtype=bool)
        return truth[codes]
    return _number_column(values)


def _codes(values) -> tuple[np.ndarray, list]:
    """Each value's index among the distinct values (-1 for missing), and those values."""
    if not len(values):
        return np.zeros(0, dtype=np.int64), []
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return codes, list(uniques)


def _rank_matrix(column: dict, keys: list[str], count: int) -> np.ndarray:
    rank = np.full((count, len(keys)), -1, dtype=np.int16)
    index = {key: i for i, key in enumerate(keys)}
    for place in range(len(keys)):
        codes, uniques = column.get(f"rank_{place}", (None, []))
        if codes is None or not len(codes):
            continue
        lookup = np.array([index.get(value, -1) for value in uniques] + [-1], dtype=np.int64)
        where = lookup[codes]
        hit = where >= 0
        rank[np.nonzero(hit)[0], where[hit]] = place
    return rank


def _number_column(values) -> np.ndarray:
    """Numbers as floats, NaN where missing."""
    return np.array(values, dtype=np.float64) if len(values) else np.zeros(0)


def _present_keys(
    judgments: SprintJudgments, criteria: list[Criterion], column: dict
) -> np.ndarray:
    """present[row, key]: the row's item has a response with that key. Read off the answers
    (a ranking names every response, a Likert answer scores each); only items whose judgments
    name no response (all ties, say) are looked up in the responses table."""
    present = judgments.rank >= 0
    for criterion in criteria:
        if criterion.kind == CriterionKind.LIKERT:
            for index in range(len(judgments.keys)):
                present[:, index] |= ~np.isnan(column[f"likert_{criterion.pk}_{index}"])
    # Spread to every row of the item, then fill in items that no answer describes.
    item_index = judgments.item_index
    items = np.zeros(item_index.max() + 1 if len(item_index) else 0, dtype=np.int64)
    items[item_index] = judgments.item_ids
    per_item = np.zeros((len(items), len(judgments.keys)), dtype=bool)
    np.logical_or.at(per_item, item_index, present)
    unknown = items[~per_item.any(axis=1)]
    if len(unknown):
        where = {int(item): i for i, item in enumerate(items)}
        key_index = {key: i for i, key in enumerate(judgments.keys)}
        pairs = Response.objects.filter(item_id__in=unknown.tolist()).values_list("item_id", "key")
        for item_id, key in pairs:
            per_item[where[item_id], key_index[key]] = True
    return per_item[item_index]


def _preference(
    criterion: Criterion, judgments: SprintJudgments, present: np.ndarray, item_index: np.ndarray
) -> CriterionAnswers:
    pairs = list(combinations(range(len(judgments.keys)), 2))
    rows, units, values = [], [], []
    for pair_number, (first, second) in enumerate(pairs):
        both = present[:, first] & present[:, second]
        ranked = (judgments.rank[:, first] >= 0) & (judgments.rank[:, second] >= 0)
        row = np.nonzero(both & (ranked | judgments.tie))[0]
        value = np.where(
            judgments.tie[row],
            TIE,
            np.where(
                judgments.rank[row, first] < judgments.rank[row, second], FIRST_WINS, SECOND_WINS
            ),
        )
        rows.append(row)
        units.append(item_index[row] * len(pairs) + pair_number)
        values.append(value + 1)
    domain = np.array([SECOND_WINS, TIE, FIRST_WINS])
    return _answers(criterion.name, "nominal", domain, rows, units, values)


def _strength(
    criterion: Criterion,
    judgments: SprintJudgments,
    column: dict,
    present: np.ndarray,
    item_index: np.ndarray,
) -> CriterionAnswers | None:
    scale = len((criterion.config or {}).get("strength_labels", []))
    if not scale or len(judgments.keys) < 2:
        return None
    strength = column["strength"]
    two = present.sum(axis=1) == 2
    # The two responses of each row's item, in key order.
    order = np.argsort(~present, axis=1, kind="stable")[:, :2]
    ranks = np.take_along_axis(judgments.rank, order, axis=1)
    signed = np.where(ranks[:, 0] < ranks[:, 1], strength, -strength)
    signed = np.where(judgments.tie, 0, signed)
    row = np.nonzero(two & ~np.isnan(signed))[0]
    domain = np.arange(-scale, scale + 1)
    values = signed[row].astype(np.int64) + scale
    return _answers(
        f"{criterion.name}.strength", "ordinal", domain, [row], [item_index[row]], [values]
    )


def _per_response(
    criterion: Criterion, column: dict, present: np.ndarray, item_index: np.ndarray
) -> CriterionAnswers:
    config = criterion.config or {}
    keys = present.shape[1]
    rows, units, values = [], [], []
    if criterion.kind == CriterionKind.LIKERT:
        low, high = config.get("min", 1), config.get("max", 5)
        domain = np.arange(low, high + 1)
        level = config.get("level", "ordinal")
    else:
        domain, level = np.array([0, 1]), "nominal"
    for index in range(keys):
        if criterion.kind == CriterionKind.LIKERT:
            score = column[f"likert_{criterion.pk}_{index}"]
            row = np.nonzero(present[:, index] & ~np.isnan(score))[0]
            value = score[row].astype(np.int64) - low
        else:
            row = np.nonzero(present[:, index])[0]
            value = column[f"flag_{criterion.pk}_{index}"][row].astype(np.int64)
        rows.append(row)
        units.append(item_index[row] * keys + index)
        values.append(value)
    return _answers(criterion.name, level, domain, rows, units, values)


def _answers(name, level, domain, rows, units, values) -> CriterionAnswers:
    def joined(parts):
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    values = joined(values).astype(np.int64)
    # A score outside the scale (a rubric revised since) is left out rather than miscounted.
    keep = (values >= 0) & (values < len(domain))
    return CriterionAnswers(
        name=name,
        level=level,
        domain=domain,
        rows=joined(rows).astype(np.int64)[keep],
        units=joined(units).astype(np.int64)[keep],
        values=values[keep],
    )
