"""The hot statements of labeling on PostgreSQL, written as SQL.

Every next item and every submit runs these. Composed through the ORM (select_related, a
correlated subquery, FOR UPDATE OF, an aggregate) each cost 2-3 ms of Python to build and
compile, several times what PostgreSQL takes to run it (``bench/labeling_probe.py`` shows both),
and that Python is most of what a labeling request costs. So on PostgreSQL they are plain SQL,
written once; :mod:`annotation.services.queue` and :mod:`annotation.services.judgments` keep the
ORM form of each for other databases (SQLite), and the tests run both.

Only column and table names are put into the SQL text (from the models' metadata, hence the
``noqa: S608``); every value travels as a query parameter.

Rows come back as model instances made by ``Model.from_db``, the way the ORM makes them (field
converters applied, so JSON is decoded), with their related rows attached. Column lists are
read from the models, so a new field is selected without touching this module.

Locks, as in the ORM forms: the member row (one annotator's double click cannot lease two
items), the first free candidate item with SKIP LOCKED (two annotators never take the last slot
of one item), the assignment row of a submit; never the sprint or rubric rows they are read
with, which every request of the sprint shares.
"""

import json
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Model

from annotation.models import Assignment, Item, Rubric, Sprint, SprintMember

# What the queue reads of a candidate item: enough to lock and count it, plus what is served.
CANDIDATE_FIELDS = ("id", "sprint_id", "is_full", "is_gold", "prompt", "context")


@cache
def _fields(model: type[Model], only: tuple[str, ...] | None = None) -> tuple:
    fields = model._meta.concrete_fields
    return tuple(f for f in fields if only is None or f.attname in only)


@cache
def _columns(model: type[Model], alias: str, only: tuple[str, ...] | None = None) -> str:
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(f.column)}" for f in _fields(model, only))


def _read(model: type[Model], row: tuple, start: int, only: tuple[str, ...] | None = None):
    """The instance of ``model`` whose columns start at ``row[start]``, and where the next
    model's columns start."""
    fields = _fields(model, only)
    values = []
    for field, value in zip(fields, row[start : start + len(fields)], strict=True):
        for converter in field.get_db_converters(connection):
            value = converter(value, None, connection)
        values.append(value)
    instance = model.from_db(connection.alias, [f.attname for f in fields], values)
    return instance, start + len(fields)


def _fetch_one(sql: str, params: dict[str, Any]) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


@cache
def _member_sql() -> str:
    return f"""
SELECT {_columns(SprintMember, "m")}, {_columns(Sprint, "s")}, {_columns(Rubric, "ru")}
FROM annotation_sprintmember m
JOIN annotation_sprint s ON s.id = m.sprint_id
JOIN annotation_rubric ru ON ru.id = s.rubric_id
WHERE m.sprint_id = %(sprint)s AND m.user_id = %(user)s
FOR UPDATE OF m
"""  # noqa: S608


def lock_member(sprint_id: int, user_id: int) -> SprintMember | None:
    """The member row, locked, with ``sprint`` and ``sprint.rubric`` attached."""
    row = _fetch_one(_member_sql(), {"sprint": sprint_id, "user": user_id})
    if row is None:
        return None
    member, at = _read(SprintMember, row, 0)
    sprint, at = _read(Sprint, row, at)
    rubric, at = _read(Rubric, row, at)
    sprint.rubric = rubric
    member.sprint = sprint
    return member


@cache
def _live_lease_sql() -> str:
    return f"""
SELECT {_columns(Assignment, "a")}
FROM annotation_assignment a
WHERE a.sprint_id = %(sprint)s AND a.annotator_id = %(user)s
  AND a.status = 'leased' AND a.lease_expires_at > %(now)s
ORDER BY a.leased_at
LIMIT 1
"""  # noqa: S608


def live_lease(sprint_id: int, user_id: int, now: datetime) -> Assignment | None:
    """The annotator's live lease in the sprint, if any."""
    row = _fetch_one(_live_lease_sql(), {"sprint": sprint_id, "user": user_id, "now": now})
    return None if row is None else _read(Assignment, row, 0)[0]


@cache
def _candidate_sql() -> str:
    return f"""
SELECT {_columns(Item, "i", CANDIDATE_FIELDS)},
    (SELECT jsonb_agg(jsonb_build_object('key', re.key, 'text', re.text) ORDER BY re.position)
     FROM annotation_response re WHERE re.item_id = i.id)
FROM annotation_item i
WHERE i.sprint_id = %(sprint)s AND i.is_gold = %(gold)s AND (%(gold)s OR NOT i.is_full)
  AND i.id > %(after)s AND (%(before)s::bigint IS NULL OR i.id < %(before)s)
  AND NOT EXISTS (
      SELECT 1 FROM annotation_assignment a
      WHERE a.item_id = i.id AND a.annotator_id = %(annotator)s
        AND a.item_id > %(after)s AND (%(before)s::bigint IS NULL OR a.item_id < %(before)s))
ORDER BY i.id
LIMIT 1
FOR UPDATE OF i SKIP LOCKED
"""  # noqa: S608


def lock_candidate(
    sprint_id: int, annotator_id: int, *, gold: bool, after: int, before: int | None
) -> Item | None:
    """The first item of the sprint with an id in (``after``, ``before``) that the annotator
    was never handed, and that is not full (gold items: full or not), locked with SKIP LOCKED;
    read with ``served_responses``, its responses (key, text) in position order. The id range
    is repeated inside NOT EXISTS so that a merge anti join starts its walk of the assignment
    index at the cursor rather than at the sprint's first item."""
    params = {
        "sprint": sprint_id,
        "annotator": annotator_id,
        "gold": gold,
        "after": after,
        "before": before,
    }
    row = _fetch_one(_candidate_sql(), params)
    if row is None:
        return None
    item, at = _read(Item, row, 0, CANDIDATE_FIELDS)
    responses = row[at]
    item.served_responses = json.loads(responses) if isinstance(responses, str) else responses
    return item


@cache
def _assignment_sql() -> str:
    return f"""
SELECT {_columns(Assignment, "a")}, {_columns(Sprint, "s")}, {_columns(Rubric, "ru")},
    ARRAY(SELECT re.key FROM annotation_response re
          WHERE re.item_id = a.item_id ORDER BY re.position)
FROM annotation_assignment a
JOIN annotation_sprint s ON s.id = a.sprint_id
JOIN annotation_rubric ru ON ru.id = s.rubric_id
JOIN annotation_sprintmember m ON m.sprint_id = a.sprint_id AND m.user_id = a.annotator_id
WHERE a.id = %(assignment)s AND a.annotator_id = %(annotator)s
FOR UPDATE OF a
"""  # noqa: S608


def lock_assignment(assignment_id: int, annotator_id: int) -> Assignment | None:
    """The annotator's assignment, locked, with ``sprint`` and ``sprint.rubric`` attached and
    ``response_keys``, the keys of its item's responses in position order; ``None`` also when
    the annotator is no longer a member of the assignment's sprint (the membership rides along
    in the same statement, unlocked: a removal that commits first wins)."""
    params = {"assignment": assignment_id, "annotator": annotator_id}
    row = _fetch_one(_assignment_sql(), params)
    if row is None:
        return None
    assignment, at = _read(Assignment, row, 0)
    sprint, at = _read(Sprint, row, at)
    rubric, at = _read(Rubric, row, at)
    sprint.rubric = rubric
    assignment.sprint = sprint
    assignment.response_keys = list(row[at])
    return assignment


# The steps of claiming a slot of a locked item (queue._claim_slot) as data-modifying CTEs.
# They all see the snapshot taken when the statement starts, after the item's lock was granted;
# nobody else inserts assignments of a locked item, so the count is exact. "live" counts what
# is live once lapsed leases are released (released rows still read as leased in the snapshot,
# hence the expiry test).
CLAIM_SLOT_SQL = """
WITH released AS (
    UPDATE annotation_assignment SET status = 'released'
    WHERE item_id = %(item)s AND status = 'leased' AND lease_expires_at <= %(now)s
    RETURNING id
), live AS (
    SELECT count(*) AS n FROM annotation_assignment
    WHERE item_id = %(item)s
      AND (status = 'submitted' OR (status = 'leased' AND lease_expires_at > %(now)s))
), leased AS (
    INSERT INTO annotation_assignment
        (sprint_id, item_id, annotator_id, status, leased_at, lease_expires_at, skip_reason)
    SELECT %(sprint)s, %(item)s, %(annotator)s, 'leased', %(now)s, %(expires)s, ''
    FROM live WHERE live.n < %(k)s
    RETURNING id
), filled AS (
    UPDATE annotation_item SET is_full = true
    WHERE id = %(item)s AND (SELECT n FROM live) + (SELECT count(*) FROM leased) >= %(k)s
    RETURNING id
), advanced AS (
    UPDATE annotation_sprintmember SET queue_cursor = %(item)s
    WHERE id = %(member)s AND %(advance)s AND EXISTS (SELECT 1 FROM leased)
    RETURNING id
)
SELECT (SELECT id FROM leased)
"""


def claim_slot(
    *,
    sprint: Sprint,
    item: Item,
    member: SprintMember,
    now: datetime,
    expires: datetime,
    advance_cursor: bool,
) -> int | None:
    """Release the item's lapsed leases, lease it to the member if fewer than k assignments
    are live, mark it full when that takes the k-th slot (or it was full already), and move
    the member's cursor to it: one statement. The new assignment's id, or ``None`` if the
    item was full."""
    params = {
        "item": item.pk,
        "now": now,
        "expires": expires,
        "sprint": sprint.pk,
        "annotator": member.user_id,
        "k": sprint.overlap_k,
        "member": member.pk,
        "advance": advance_cursor,
    }
    return _fetch_one(CLAIM_SLOT_SQL, params)[0]
