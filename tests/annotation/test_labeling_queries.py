"""The statement budget of next item and submit on PostgreSQL, where the queue claims a slot in
one statement and a frozen rubric comes from memory: a regression guard for the labeling
latency (bench/labeling_load.py prints the same counts for a real server).

Counted: what Django sends inside the request, less the SAVEPOINT / RELEASE pairs that the
test's own transaction turns each ``atomic`` block into."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.annotation.labeling_fixtures import add_items, good_answers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# next: token, member row (with sprint and rubric), live lease, candidate item (with its
# responses), slot claim. submit: token, assignment row (with sprint, rubric and response
# keys), judgment INSERT, the item's review job INSERT (annotation.services.jobs: the review
# is remembered even if its message is lost), assignment UPDATE.
NEXT_STATEMENTS = 5
SUBMIT_STATEMENTS = 5


def statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]


def test_next_and_submit_stay_within_their_statement_budget(sprint, annotator, api_client_for):
    add_items(sprint, 4)
    client = api_client_for(annotator)

    def pair(key: str) -> tuple[list[str], list[str]]:
        with CaptureQueriesContext(connection) as next_queries:
            served = client.get(f"/api/v1/sprints/{sprint.pk}/next").json()
        with CaptureQueriesContext(connection) as submit_queries:
            response = client.post(
                "/api/v1/judgments",
                {"assignment": served["assignment"], "answers": good_answers(), "seconds": 2},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
        assert response.status_code == 201
        return statements(next_queries), statements(submit_queries)

    pair("warm-up-1")  # the first judgment freezes the rubric,
    pair("warm-up-2")  # and the first read after that caches it
    next_sql, submit_sql = pair("measured")
    assert len(next_sql) == NEXT_STATEMENTS, "\n".join(next_sql)
    assert len(submit_sql) == SUBMIT_STATEMENTS, "\n".join(submit_sql)
    assert not any("annotation_criterion" in sql for sql in next_sql + submit_sql)
