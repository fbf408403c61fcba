"""The annotator's pages through Django's test client: who may see them, what they show, and
that nothing from imported data can run or unblind."""

import json
import re

import pytest
from django.test import Client

from annotation.models import Assignment, Criterion, CriterionKind, GoldAnswer, Item, Response
from annotation.services.judgments import submit_judgment
from annotation.services.serving import served_item
from tests.annotation.labeling_fixtures import add_items, good_answers, join, lease_item

pytestmark = pytest.mark.django_db

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def panel_config(html: str) -> dict:
    match = re.search(r'<script id="panel-config" type="application/json">(.*?)</script>', html)
    assert match, "the panel carries its config"
    return json.loads(match.group(1))


def script_tags(html: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", html, flags=re.IGNORECASE)


@pytest.fixture
def hostile_item(sprint) -> Item:
    item = Item.objects.create(
        sprint=sprint,
        external_id="hostile",
        prompt=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Say hi {XSS_SCRIPT}"},
        ],
        context=[
            {"id": "d1", "title": "Doc <b>one</b>", "text": XSS_IMG, "source": "javascript:x"},
        ],
        metadata={"stratum": "meta-secret-stratum"},
        content_sha256="f" * 64,
    )
    Response.objects.create(
        item=item, key="a", text=XSS_SCRIPT, model_name="model-secret-a", position=0
    )
    Response.objects.create(
        item=item, key="b", text=XSS_IMG, model_name="model-secret-b", position=1
    )
    return item


@pytest.mark.parametrize("path", ["/", "/sprints/{id}/label", "/sprints/{id}/label/panel"])
def test_anonymous_is_sent_to_login(sprint, path):
    response = Client().get(path.format(id=sprint.pk))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_anonymous_revise_is_sent_to_login():
    response = Client().get("/judgments/1/revise")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_member_gets_the_page_and_the_panel(sprint, annotator):
    add_items(sprint, 2)
    client = client_for(annotator)
    page = client.get(f"/sprints/{sprint.pk}/label")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-state="item"' in html
    assert "annotation/label.js" in html
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    panel = client.get(f"/sprints/{sprint.pk}/label/panel")
    assert panel.status_code == 200 and panel["Cache-Control"] == "no-store"
    # The lease is live, so the panel is the same item the page showed.
    assert panel_config(panel.content.decode()) == panel_config(html)


@pytest.mark.parametrize("path", ["/sprints/{id}/label", "/sprints/{id}/label/panel"])
def test_non_member_and_other_sprint_are_404(sprint, other_sprint, annotator, make_user, path):
    add_items(sprint, 1)
    add_items(other_sprint, 1, prefix="o")
    outsider = client_for(make_user("outsider"))
    assert outsider.get(path.format(id=sprint.pk)).status_code == 404
    assert client_for(annotator).get(path.format(id=other_sprint.pk)).status_code == 404
    assert client_for(annotator).get(path.format(id=999999)).status_code == 404
    assert not Assignment.objects.filter(sprint=other_sprint).exists()


def test_panel_order_matches_the_api(sprint, annotator):
    add_items(sprint, 1, responses=4)
    html = client_for(annotator).get(f"/sprints/{sprint.pk}/label/panel").content.decode()
    assignment = Assignment.objects.get(annotator=annotator)
    api_order = [r["id"] for r in served_item(assignment)["responses"]]
    assert panel_config(html)["responses"] == api_order
    assert re.findall(r'data-response-id="(\w+)"', html) == api_order
    assert 'id="ranking"' in html, "more than two responses are ranked as a list"


def test_hostile_text_is_escaped_and_nothing_runs(sprint, annotator, hostile_item):
    lease_item(hostile_item, annotator)
    html = client_for(annotator).get(f"/sprints/{sprint.pk}/label/panel").content.decode()
    assert XSS_SCRIPT not in html and XSS_IMG not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<img" not in html
    # The only script element is the inert JSON config, which holds no item text.
    assert script_tags(html) == ['<script id="panel-config" type="application/json">']
    assert "alert" not in panel_config(html).__repr__()
    assert "Doc &lt;b&gt;one&lt;/b&gt;" in html
    assert 'href="javascript' not in html
    assert '<span class="role">system</span>' in html and '<span class="role">user</span>' in html


def test_the_whole_page_has_no_script_from_data(sprint, annotator, hostile_item):
    lease_item(hostile_item, annotator)
    html = client_for(annotator).get(f"/sprints/{sprint.pk}/label").content.decode()
    assert script_tags(html) == [
        '<script src="/static/annotation/label-requests.js" defer>',
        '<script src="/static/annotation/label-answers.js" defer>',
        '<script src="/static/annotation/label-view.js" defer>',
        '<script src="/static/annotation/label-draft.js" defer>',
        '<script src="/static/annotation/label.js" defer>',
        '<script id="panel-config" type="application/json">',
    ]


def test_gold_model_names_and_metadata_never_reach_the_page(sprint, annotator, hostile_item):
    GoldAnswer.objects.create(
        item=hostile_item, answers={"ranking": ["b", "a"], "note": "gold-secret-note"}
    )
    Item.objects.filter(pk=hostile_item.pk).update(is_gold=True)
    lease_item(hostile_item, annotator)
    client = client_for(annotator)
    for path in (f"/sprints/{sprint.pk}/label", f"/sprints/{sprint.pk}/label/panel"):
        html = client.get(path).content.decode()
        for secret in ("gold-secret-note", "model-secret", "meta-secret-stratum", "hostile"):
            assert secret not in html
        assert "gold" not in html.lower()


def test_empty_queue_and_closed_sprint_say_so(sprint, annotator, make_sprint, make_user):
    html = client_for(annotator).get(f"/sprints/{sprint.pk}/label/panel").content.decode()
    assert 'data-state="done"' in html and "panel-config" not in html
    closed = make_sprint("closed-one", status="closed")
    join(closed, annotator)
    response = client_for(annotator).get(f"/sprints/{closed.pk}/label/panel")
    assert response.status_code == 200 and 'data-state="closed"' in response.content.decode()


def test_a_superuser_who_is_no_member_is_told_so(sprint, make_user):
    add_items(sprint, 1)
    root = client_for(make_user("root", is_superuser=True, is_staff=True))
    response = root.get(f"/sprints/{sprint.pk}/label")
    assert response.status_code == 200
    assert 'data-state="no-queue"' in response.content.decode()


def submitted(sprint, user, answers=None, key="k1"):
    assignment = Assignment.objects.filter(annotator=user, sprint=sprint).first() or lease_item(
        Item.objects.filter(sprint=sprint).exclude(assignments__annotator=user).first(), user
    )
    return submit_judgment(
        user, assignment.pk, answers or good_answers(), seconds=5, idempotency_key=key
    ).judgment


def test_revise_is_only_for_the_owner(sprint, annotator, make_user):
    add_items(sprint, 1)
    judgment = submitted(sprint, annotator)
    (other,) = join(sprint, make_user("ann2"))
    assert client_for(other).get(f"/judgments/{judgment.pk}/revise").status_code == 404
    assert client_for(annotator).get("/judgments/999999/revise").status_code == 404
    response = client_for(annotator).get(f"/judgments/{judgment.pk}/revise")
    assert response.status_code == 200
    config = panel_config(response.content.decode())
    assert config["mode"] == "revise"
    assert config["assignment"] == judgment.assignment_id
    assert config["answers"] == judgment.answers


def test_revise_of_a_superseded_judgment_shows_the_live_answers(sprint, annotator):
    add_items(sprint, 1)
    first = submitted(sprint, annotator, good_answers(("a", "b")), key="k1")
    second = submitted(sprint, annotator, good_answers(("b", "a")), key="k2")
    assert second.supersedes_id == first.pk
    html = client_for(annotator).get(f"/judgments/{first.pk}/revise").content.decode()
    assert panel_config(html)["answers"]["preference"]["ranking"] == ["b", "a"]


def test_home_shows_progress_and_live_judgments_to_revise(sprint, other_sprint, annotator):
    add_items(sprint, 3)
    first = submitted(sprint, annotator, key="k1")
    live = submitted(sprint, annotator, good_answers(("b", "a")), key="k2")
    html = client_for(annotator).get("/").content.decode()
    assert "1 / 3" in html, "one live judgment of three items"
    assert f'href="/sprints/{sprint.pk}/label"' in html
    assert f'href="/judgments/{live.pk}/revise"' in html
    assert f'href="/judgments/{first.pk}/revise"' not in html
    assert other_sprint.name not in html


def test_rubric_text_criteria_and_flags_render_with_their_keys(sprint, annotator, rubric):
    Criterion.objects.create(
        rubric=rubric, name="unsafe", kind=CriterionKind.FLAG, question="Unsafe?", position=2
    )
    Criterion.objects.create(
        rubric=rubric,
        name="why",
        kind=CriterionKind.TEXT,
        question="Why?",
        required=False,
        position=3,
    )
    add_items(sprint, 1)
    html = client_for(annotator).get(f"/sprints/{sprint.pk}/label").content.decode()
    assert "<kbd>x 1</kbd>" in html and "<kbd>x 2</kbd>" in html
    assert 'id="text-why"' in html
    assert "<kbd>q</kbd> slightly" in html and "<kbd>t</kbd> Tie" in html
    assert "Prefer correct, grounded answers." in html, "the guidelines are one key away"


def test_the_item_flag_is_one_key_away_on_both_pages(sprint, annotator):
    add_items(sprint, 1)
    client = client_for(annotator)
    html = client.get(f"/sprints/{sprint.pk}/label").content.decode()
    assert 'data-flag-url="/api/v1/assignments/0/flag"' in html
    assert '<form id="item-flag-form"' in html and 'id="item-flag-reason"' in html
    assert 'maxlength="500"' in html
    assert "<kbd>f</kbd> Flag item" in html, "the toolbar shows the key"
    assert "<dt><kbd>f</kbd></dt>" in html, "and so does the list of keys"
    judgment = submitted(sprint, annotator)
    revise = client.get(f"/judgments/{judgment.pk}/revise").content.decode()
    assert 'id="item-flag-form"' in revise and "<dt><kbd>f</kbd></dt>" in revise


@pytest.mark.parametrize(
    "name", ["label.js", "label-requests.js", "label-answers.js", "label-view.js"]
)
def test_static_files_are_served_without_debug(client, settings, name):
    assert not settings.DEBUG
    response = client.get(f"/static/annotation/{name}")
    assert response.status_code == 200
    assert b"".join(response.streaming_content if response.streaming else [response.content])
