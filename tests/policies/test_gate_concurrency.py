"""Leads promoting several candidates of one name at once, through the API, on PostgreSQL:
each answer is a promotion (200) or a refusal because production changed meanwhile (409);
exactly one version ends in production, and the registry's promoted events form one chain
(each names the version it replaced), so rollback can walk it back."""

import itertools
import threading

import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.policies.gate_fixtures import candidate_and_production
from tests.support.builders import export_of, policy_version
from training.models import PolicyVersion, RegistryEvent

CANDIDATES = 5


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_leave_one_production_and_one_chain(lead, sprint):
    dataset = export_of(sprint, lead)
    first_candidate, _ = candidate_and_production(dataset, lead)
    candidates = [first_candidate] + [policy_version(dataset, lead) for _ in range(CANDIDATES - 1)]
    key = Token.objects.create(user=lead).key
    statuses: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(CANDIDATES)

    def promote(policy: PolicyVersion) -> None:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        try:
            start.wait()
            response = client.post(
                f"/api/v1/policies/{policy.pk}/promote",
                {"stage": "production", "override_reason": f"ship v{policy.version}"},
                format="json",
            )
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=promote, args=(policy,)) for policy in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(statuses) <= {200, 409} and 200 in statuses
    assert PolicyVersion.objects.filter(stage="production").count() == 1
    promoted = list(RegistryEvent.objects.filter(event="promoted").order_by("pk"))
    assert len(promoted) == 1 + statuses.count(200)
    for before, after in itertools.pairwise(promoted):
        assert after.previous_id == before.version_id
    production = PolicyVersion.objects.get(stage="production")
    assert promoted[-1].version_id == production.pk
    archived = RegistryEvent.objects.filter(event="archived").count()
    assert archived == statuses.count(200)
