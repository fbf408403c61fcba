"""``seed_demo``: idempotent, prints working passwords for the users it creates, leaves users
that exist as they are, refuses to run outside debug unless forced, and its demo file imports
cleanly; beside the sprint annotators label, a closed sprint already labelled through the
labeling and consensus services, which exports rows, ranks the models and feeds training."""

import io
import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from annotation.management.commands.seed_demo import DEMO_FILE, DEMO_USERS
from annotation.models import (
    AuditEvent,
    Criterion,
    Item,
    Judgment,
    Response,
    Rubric,
    Sprint,
    SprintMember,
)
from annotation.services.imports import import_items
from annotation.services.queue import next_assignment
from exports.services.build import build_dataset, start_export
from reviews.demo import LABELLED_SLUG
from reviews.models import ConsensusLabel, Dispute
from reviews.services.leaderboard import leaderboard
from training.services.datasets import check_trainable, read_preference_rows

pytestmark = pytest.mark.django_db

LOGIN_LINE = re.compile(r"^\s+(?:lead|annotator|reviewer)\s+(\S+)\s+(\S+)$", re.MULTILINE)
DEMO_NAMES = {demo.username for demo in DEMO_USERS}


@pytest.fixture(autouse=True)
def debug_on(settings):
    # `make run` sets CONCORD_DEBUG; the test settings, like a deployment, have debug off.
    settings.DEBUG = True


def seed(*args: str) -> tuple[str, dict[str, str]]:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    text = out.getvalue()
    return text, dict(LOGIN_LINE.findall(text))


def logs_in(username: str, password: str) -> bool:
    """Through the login form, as a person would (django-axes needs the request)."""
    client = Client()
    client.post("/accounts/login/", {"username": username, "password": password})
    return "_auth_user_id" in client.session


def test_seed_demo_refuses_outside_debug_unless_forced(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--force"):
        seed()
    assert not get_user_model().objects.filter(username__in=DEMO_NAMES).exists()

    _, logins = seed("--force")
    assert set(logins) == DEMO_NAMES
    assert all(logs_in(name, password) for name, password in logins.items())


def test_seed_demo_twice_creates_once_and_leaves_existing_users_alone():
    first_text, first = seed()
    assert "30 items created, 0 unchanged" in first_text
    assert "http://127.0.0.1:8000/" in first_text
    assert set(first) == DEMO_NAMES

    second_text, second = seed()
    assert "0 items created, 30 unchanged" in second_text
    assert second == {}
    assert "left as they were" in second_text
    assert all(name in second_text for name in DEMO_NAMES)

    assert Sprint.objects.filter(slug="demo").count() == 1
    assert Rubric.objects.filter(name="Support assistant quality").count() == 1
    assert Item.objects.filter(sprint__slug="demo").count() == 30
    assert get_user_model().objects.filter(username__startswith="demo-").count() == 4
    assert SprintMember.objects.filter(sprint__slug="demo").count() == 4

    for username, password in first.items():
        assert logs_in(username, password), username


def test_seed_demo_never_reactivates_or_repasswords_an_existing_user_silently():
    _, first = seed()
    User = get_user_model()
    lead = User.objects.get(username="demo-lead")
    lead.is_active = False
    lead.save()
    annotator = User.objects.get(username="demo-annotator-1")
    annotator.set_password("chosen-by-the-person-1")
    annotator.save()

    text, logins = seed()

    assert logins == {}
    assert "demo-lead" in text and "demo-annotator-1" in text
    assert not User.objects.get(username="demo-lead").is_active
    assert logs_in("demo-annotator-1", "chosen-by-the-person-1")
    assert not logs_in("demo-annotator-1", first["demo-annotator-1"])


def test_seed_demo_reset_passwords_says_so_and_prints_the_new_ones():
    _, first = seed()
    get_user_model().objects.filter(username="demo-lead").update(is_active=False)

    _, second = seed("--reset-passwords")

    assert set(second) == DEMO_NAMES
    assert all(second[name] != first[name] for name in first)
    assert logs_in("demo-lead", second["demo-lead"])
    assert not logs_in("demo-reviewer", first["demo-reviewer"])


def test_seed_demo_prints_the_url_it_is_given():
    # `make run PORT=8011` passes its own address, and the printed logins must point there.
    text, logins = seed("--url", "http://127.0.0.1:8011")
    assert "Open http://127.0.0.1:8011/ and log in as:" in text
    assert "Leads manage the sprint at http://127.0.0.1:8011/admin/" in text
    assert "8000" not in text
    assert set(logins) == {demo.username for demo in DEMO_USERS}


def test_seeded_objects_match_the_demo_contract():
    _, passwords = seed()
    sprint = Sprint.objects.get(slug="demo")
    assert sprint.name == "Demo: support bot v3 vs v4"
    assert sprint.status == "active" and sprint.overlap_k in (2, 3)
    assert sprint.gold_rate == 0.1 and sprint.agreement_threshold == 0.6
    assert sprint.deadline is not None
    criteria = {c.name: c for c in Criterion.objects.filter(rubric=sprint.rubric)}
    assert {name: c.kind for name, c in criteria.items()} == {
        "preference": "preference",
        "helpfulness": "likert",
        "groundedness": "likert",
        "unsafe": "flag",
        "rationale": "text",
    }
    assert criteria["preference"].config["strength_labels"] == [
        "slightly better",
        "clearly better",
        "much better",
    ]
    assert criteria["rationale"].required is False
    roles = dict(SprintMember.objects.filter(sprint=sprint).values_list("user__username", "role"))
    assert roles == {demo.username: demo.role for demo in DEMO_USERS}

    client = Client()
    client.post("/accounts/login/", {"username": "demo-lead", "password": passwords["demo-lead"]})
    assert "_auth_user_id" in client.session
    page = client.get(reverse("admin:annotation_sprint_change", args=[sprint.pk]))
    assert page.status_code == 200
    items = client.get(
        reverse("admin:annotation_item_changelist"), {"sprint__id__exact": sprint.pk}
    )
    assert items.status_code == 200
    assert items.context["cl"].result_count == 30


def test_demo_file_imports_without_errors(make_sprint):
    sprint = make_sprint("demo-check", status="active")
    with DEMO_FILE.open("rb") as stream:
        result = import_items(sprint, stream, filename=DEMO_FILE.name)
    assert (result.created, result.unchanged) == (30, 0)
    items = Item.objects.filter(sprint=sprint)
    assert items.filter(is_gold=True).count() == 3
    assert items.exclude(context=[]).count() >= 5
    three_way = [i for i in items.prefetch_related("responses") if i.responses.count() > 2]
    assert len(three_way) >= 2
    assert sum(isinstance(i.prompt, list) for i in items) >= 2
    assert Response.objects.filter(
        item__sprint=sprint, text__contains="<script>alert(1)</script>"
    ).exists()
    assert Response.objects.filter(
        item__sprint=sprint, text__contains="<img src=x onerror=alert(1)>"
    ).exists()


def _labelled_state() -> dict:
    """Everything the labelled sprint holds, to compare two seeds by."""
    sprint = Sprint.objects.get(slug=LABELLED_SLUG)
    return {
        "items": Item.objects.filter(sprint=sprint).count(),
        "members": SprintMember.objects.filter(sprint=sprint).count(),
        "judgments": list(
            Judgment.objects.filter(sprint=sprint)
            .order_by("pk")
            .values_list("item__external_id", "annotator__username", "answers")
        ),
        "labels": list(
            ConsensusLabel.objects.filter(sprint=sprint)
            .order_by("item__external_id")
            .values_list("item__external_id", "ranking", "tie", "agreement", "updated_at")
        ),
        "disputes": Dispute.objects.filter(sprint=sprint).count(),
        "events": AuditEvent.objects.filter(sprint=sprint).count(),
    }


def test_seed_demo_adds_a_labelled_sprint_with_consensus_for_its_items():
    text, _ = seed()
    sprint = Sprint.objects.get(slug=LABELLED_SLUG)
    assert sprint.name == "Support bot — last month (labelled)"
    assert sprint.status == "closed" and sprint.rubric.name == "Support assistant quality"
    assert f"({LABELLED_SLUG}): 88 judgments by 3 labellers, 30 consensus labels" in text
    items = Item.objects.filter(sprint=sprint)
    assert items.count() == 30
    labelled = set(ConsensusLabel.objects.filter(sprint=sprint).values_list("item_id", flat=True))
    assert set(items.filter(is_gold=False).values_list("pk", flat=True)) <= labelled
    # Judged through the labeling door: every judgment on a submitted assignment of its own.
    judgments = Judgment.objects.filter(sprint=sprint)
    assert judgments.filter(assignment__status="submitted").count() == judgments.count() == 88
    assert set(judgments.values_list("annotator__username", flat=True)) == {
        "demo-annotator-1",
        "demo-annotator-2",
        "demo-reviewer",
    }
    # Agreement is high but not perfect: some items are disputed, most are not.
    agreements = list(
        ConsensusLabel.objects.filter(sprint=sprint).values_list("agreement", flat=True)
    )
    assert 0 < sum(a < 1 for a in agreements) < len(agreements) / 2
    assert ConsensusLabel.objects.filter(sprint=sprint, tie=True).count() < 5


def test_the_labelled_sprint_exports_ranks_models_and_trains(settings, tmp_path):
    settings.CONCORD_DATA_DIR = tmp_path
    seed()
    sprint = Sprint.objects.get(slug=LABELLED_SLUG)
    lead = get_user_model().objects.get(username="demo-lead")

    dataset = start_export(lead, {"sprints": [sprint.pk]}, enqueue_build=False)
    dataset = build_dataset(dataset.pk)
    assert dataset.status == "done" and dataset.rows >= 20
    check_trainable(dataset)  # what train_reward_model checks first
    rows = read_preference_rows(dataset)
    assert len(rows) == dataset.rows
    with_context = set(items_with_context(sprint))
    assert len({row["item_id"] for row in rows} & with_context) >= 5

    board = leaderboard([sprint])
    ratings = {entry["model"]: entry["rating"] for entry in board["models"]}
    assert len(ratings) >= 2
    # The newer model of the pair humans compare most is preferred.
    assert ratings["support-bot-v4"] > ratings["support-bot-v3"]
    assert ratings["wiki-assistant-v2"] > ratings["wiki-assistant-v1"]


def items_with_context(sprint: Sprint) -> list[int]:
    return list(Item.objects.filter(sprint=sprint).exclude(context=[]).values_list("pk", flat=True))


def test_seeding_twice_leaves_the_labelled_sprint_as_it_was():
    seed()
    before = _labelled_state()

    text, _ = seed()

    assert "already there, left as it is (30 consensus labels)" in text
    assert _labelled_state() == before
    assert Sprint.objects.count() == 2


def test_the_first_sprint_still_has_a_queue_for_every_annotator():
    seed()
    demo = Sprint.objects.get(slug="demo")
    assert demo.status == "active"
    assert not Judgment.objects.filter(sprint=demo).exists()
    assert not ConsensusLabel.objects.filter(sprint=demo).exists()
    for username in ("demo-annotator-1", "demo-annotator-2"):
        annotator = get_user_model().objects.get(username=username)
        assignment = next_assignment(demo, annotator)
        assert assignment is not None and assignment.sprint_id == demo.pk
