"""The labeling bench's data: a rubric, an active sprint, annotators with API tokens, and N items
with two responses each, filled with set-based SQL. Imported by ``bench/labeling_load.py`` by
name (a script's own folder is first on its import path); needs Django set up on the bench
database first (``fresh_database.setup_fresh_database``)."""

import functools
import time
from dataclasses import dataclass

say = functools.partial(print, flush=True)

TEXT = "The quick brown fox jumps over the lazy dog. " * 6  # ~270 characters of response text


@dataclass(frozen=True)
class BenchSprint:
    sprint_id: int
    tokens: list[str]  # one per load annotator
    probe_token: str  # an extra member that only the in-process probe uses


def setup_sprint(annotators: int, k: int) -> BenchSprint:
    """Rubric (preference with a strength scale, plus a likert criterion), an active sprint with
    overlap ``k``, ``annotators`` members with tokens, and one more member for the probe."""
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from annotation.models import Criterion, Rubric, Sprint, SprintMember, SprintStatus

    rubric = Rubric.objects.create(name="bench", guidelines="Prefer the more helpful answer.")
    scale = {"allow_tie": False, "strength_labels": ["slightly", "clearly", "much"]}
    for position, (name, kind, config) in enumerate(
        (("preference", "preference", scale), ("helpfulness", "likert", {"min": 1, "max": 5}))
    ):
        Criterion.objects.create(
            rubric=rubric,
            name=name,
            kind=kind,
            question=f"{name}?",
            position=position,
            config=config,
        )
    sprint = Sprint.objects.create(
        name="bench", slug="bench", rubric=rubric, overlap_k=k, status=SprintStatus.ACTIVE
    )
    names = [f"annotator{i:03d}" for i in range(annotators)] + ["probe"]
    users = User.objects.bulk_create([User(username=name, password="!") for name in names])
    tokens = Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    SprintMember.objects.bulk_create(
        [SprintMember(sprint=sprint, user=u, pseudonym=f"A{i:03d}") for i, u in enumerate(users)]
    )
    keys = [t.key for t in tokens]
    return BenchSprint(sprint.pk, keys[:-1], keys[-1])


def fill_items(sprint_id: int, items: int, chunk: int = 100_000) -> float:
    """N items with responses ``a`` and ``b``, chunk by chunk, in set-based SQL, then
    ``VACUUM ANALYZE``; returns the seconds it took."""
    from django.db import connection, transaction

    start = time.perf_counter()
    with connection.cursor() as cursor:
        for low in range(1, items + 1, chunk):
            high = min(low + chunk - 1, items)
            with transaction.atomic():
                cursor.execute("SELECT coalesce(max(id), 0) FROM annotation_item")
                before = cursor.fetchone()[0]
                cursor.execute(
                    "INSERT INTO annotation_item (sprint_id, external_id, prompt, context,"
                    " metadata, source, stratum, is_gold, content_sha256, created_at)"
                    " SELECT %s, 'bench-' || g, to_jsonb('Question number ' || g || ': how do I'"
                    " || ' reset my password?'), '[]'::jsonb, jsonb_build_object('stratum', 's'"
                    " || g %% 10), 'bench', 's' || g %% 10, false,"
                    " md5(g::text) || md5('x' || g), now()"
                    " FROM generate_series(%s, %s) AS g ORDER BY g",
                    [sprint_id, low, high],
                )
                cursor.execute(
                    "INSERT INTO annotation_response (item_id, key, text, model_name,"
                    " model_version, metadata, position)"
                    " SELECT i.id, r.key, 'Answer ' || r.key || ' to item ' || i.id || '. ' || %s,"
                    " 'bot', r.version, '{}'::jsonb, r.position"
                    " FROM annotation_item i"
                    " CROSS JOIN (VALUES ('a', 'v3', 0), ('b', 'v4', 1))"
                    " AS r(key, version, position)"
                    " WHERE i.id > %s ORDER BY i.id, r.position",
                    [TEXT, before],
                )
            say(f"  fill: {high:,}/{items:,} items ({time.perf_counter() - start:.1f} s)")
        say("  VACUUM ANALYZE ...")
        cursor.execute("VACUUM ANALYZE")
    return time.perf_counter() - start
