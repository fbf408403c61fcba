"""A removed member loses the read doors too: their earlier judgments, and the items and sprint
those show, are no longer listed by the API or the home page (found by the permission matrix:
both answered 200 with sprint A's data after the membership was deleted)."""

import pytest
from django.test import Client

from annotation.models import SprintMember

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(sprint, other_sprint, annotator, make_items, make_judgment):
    """A judgment of sprint A by an annotator who also labels sprint B, so that leaving A
    leaves their account and token alive."""
    SprintMember.objects.create(sprint=other_sprint, user=annotator, role="annotator")
    [item] = make_items(sprint, "judged-before-removal")
    return make_judgment(item, annotator)


def test_the_api_no_longer_lists_or_shows_them(sprint, annotator, judged, api_client_for):
    client = api_client_for(annotator)
    assert client.get(f"/api/v1/judgments/{judged.pk}").status_code == 200
    assert [j["id"] for j in client.get("/api/v1/judgments").json()["results"]] == [judged.pk]

    SprintMember.objects.filter(sprint=sprint, user=annotator).delete()

    assert client.get(f"/api/v1/judgments/{judged.pk}").status_code == 404  # was 200
    assert client.get("/api/v1/judgments").json()["results"] == []  # listed it


def test_the_home_page_no_longer_shows_them(sprint, annotator, judged):
    browser = Client()
    browser.force_login(annotator)
    assert "judged-before-removal" in browser.get("/").text

    SprintMember.objects.filter(sprint=sprint, user=annotator).delete()

    page = browser.get("/").text
    assert "judged-before-removal" not in page  # the prompt of sprint A's item was shown
    assert sprint.name not in page
