"""``python manage.py seed_demo``: a lead, two annotators, a reviewer, a rubric and an active
sprint with about thirty items, so that one person can try Concord end to end; and what the
apps above annotation register (annotation.services.demo_extras): a second, already labelled
and closed sprint of the same items (reviews.demo), for exports, the leaderboard and training.

Idempotent: running it again finds what exists instead of duplicating it and re-imports the
demo file (which the import service reports as unchanged). A demo user it creates gets a random
password, printed once; a user that already exists is left exactly as it is (password, active
flag, staff flag, groups) and reported, unless ``--reset-passwords`` asks for new passwords.

It creates accounts with known roles, so it refuses to run outside debug (``CONCORD_DEBUG``)
unless told ``--force``; ``make run`` sets debug.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from annotation.admin.leads import ensure_leads_group
from annotation.models import (
    Criterion,
    CriterionKind,
    Rubric,
    Sprint,
    SprintMember,
    SprintRole,
    SprintStatus,
)
from annotation.services.audit import record_event
from annotation.services.demo_extras import DemoMember, DemoSeed, seed_demo_extras
from annotation.services.imports import ImportRejected, import_items

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "items.jsonl"
SPRINT_SLUG = "demo"
RUBRIC_NAME = "Support assistant quality"
DEFAULT_URL = "http://127.0.0.1:8000/"

GUIDELINES = """\
Read the prompt and any context documents first, then both responses in full.

* **Correct and grounded beats fluent.** A response that states something the context documents
  do not support (a number, a date, a policy) is worse than a shorter one that sticks to them.
* **Follow the policy in the system message.** Promising refunds, deleting data or giving
  investment advice when the assistant may not is a serious fault.
* **Prefer answers the user can act on**: concrete steps, the right menu path, the next contact.
* Use *tie* only when you genuinely cannot prefer one; use the strength scale honestly.
* Flag a response as **unsafe** if following it could cause harm, leak data or break the law.
"""


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: SprintRole
    pseudonym: str
    first_name: str
    is_staff: bool = False


DEMO_USERS = [
    DemoUser("demo-lead", SprintRole.LEAD, "L1", "Lena", is_staff=True),
    DemoUser("demo-annotator-1", SprintRole.ANNOTATOR, "A1", "Ana"),
    DemoUser("demo-annotator-2", SprintRole.ANNOTATOR, "A2", "Ben"),
    DemoUser("demo-reviewer", SprintRole.REVIEWER, "R1", "Rui"),
]

CRITERIA = [
    {
        "name": "preference",
        "kind": CriterionKind.PREFERENCE,
        "question": "Which response is better overall?",
        "help_text": "Rank all responses when there are more than two.",
        "config": {
            "allow_tie": True,
            "strength_labels": ["slightly better", "clearly better", "much better"],
        },
    },
    {
        "name": "helpfulness",
        "kind": CriterionKind.LIKERT,
        "question": "How helpful is each response?",
        "help_text": "Does it solve the user's problem, with steps they can follow?",
        "config": {
            "min": 1,
            "max": 5,
            "labels": {
                "1": "not helpful",
                "2": "slightly helpful",
                "3": "somewhat helpful",
                "4": "helpful",
                "5": "very helpful",
            },
        },
    },
    {
        "name": "groundedness",
        "kind": CriterionKind.LIKERT,
        "question": "How well is each response supported by the context documents?",
        "help_text": "Without context documents, judge against what the product really does.",
        "config": {
            "min": 1,
            "max": 5,
            "labels": {
                "1": "contradicts the sources",
                "2": "mostly unsupported",
                "3": "partly supported",
                "4": "mostly supported",
                "5": "fully supported",
            },
        },
    },
    {
        "name": "unsafe",
        "kind": CriterionKind.FLAG,
        "question": "Is the response unsafe or against policy?",
        "help_text": "Harmful advice, leaked data, promises the assistant may not make.",
        "config": {},
    },
    {
        "name": "rationale",
        "kind": CriterionKind.TEXT,
        "question": "Why? (optional)",
        "help_text": "One or two sentences help reviewers settle disagreements.",
        "required": False,
        "config": {"max_length": 2000},
    },
]


class Command(BaseCommand):
    help = "Create demo users, a rubric and an active sprint with items. Safe to run again."

    def add_arguments(self, parser) -> None:
        # `make run PORT=8001` serves elsewhere; the logins must point where the server is.
        parser.add_argument(
            "--url", default=DEFAULT_URL, help=f"where the app is served (default {DEFAULT_URL})"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="run even though debug is off (creates demo accounts on this instance)",
        )
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="give demo users that already exist new passwords and reactivate them",
        )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG and not options["force"]:
            raise CommandError(
                "seed_demo creates demo accounts and is for a local instance: debug is off "
                "(set CONCORD_DEBUG=1), or pass --force to seed this instance anyway."
            )
        url = options["url"].rstrip("/") + "/"
        if not DEMO_FILE.is_file():
            raise CommandError(f"{DEMO_FILE}: demo file missing")
        with transaction.atomic():
            users, passwords = self._users(reset=options["reset_passwords"])
            lead = users[0]
            rubric = self._rubric(lead)
            sprint = self._sprint(rubric, lead)
            self._members(sprint, users)
            try:
                with DEMO_FILE.open("rb") as stream:
                    result = import_items(sprint, stream, filename=DEMO_FILE.name, actor=lead)
            except ImportRejected as exc:
                listing = "\n".join(f"  {problem}" for problem in exc.import_problems)
                raise CommandError(f"the demo file was rejected:\n{listing}") from exc
        self.stdout.write(
            f"Sprint {sprint.name!r} ({sprint.slug}): {result.created} items created, "
            f"{result.unchanged} unchanged."
        )
        # The parts of the demo that the apps above this one add (a labelled sprint).
        members = [
            DemoMember(user, demo.role, demo.pseudonym)
            for demo, user in zip(DEMO_USERS, users, strict=True)
        ]
        for line in seed_demo_extras(DemoSeed(members, rubric, sprint, DEMO_FILE)):
            self.stdout.write(line)
        self.stdout.write("")
        self.stdout.write(f"Open {url} and log in as:")
        kept = []
        for demo, password in zip(DEMO_USERS, passwords, strict=True):
            if password is None:
                kept.append(demo.username)
            else:
                self.stdout.write(f"  {demo.role.label.lower():<10} {demo.username:<18} {password}")
        if kept:
            self.stdout.write(
                f"Already there and left as they were (password, active and staff flags): "
                f"{', '.join(kept)}. `manage.py seed_demo --reset-passwords` gives them new "
                "passwords."
            )
        self.stdout.write(f"Leads manage the sprint at {url}admin/")

    def _users(self, *, reset: bool) -> tuple[list, list[str | None]]:
        """The demo users, and the new password of each one this run created (or, with
        ``reset``, re-passworded); ``None`` for an existing user left untouched."""
        User = get_user_model()
        leads = ensure_leads_group()
        users, passwords = [], []
        for demo in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=demo.username,
                defaults={
                    "first_name": demo.first_name,
                    "email": f"{demo.username}@example.com",
                    "is_staff": demo.is_staff,
                },
            )
            password = None
            if created or reset:
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.is_active = True
                user.save()
            if created and demo.is_staff:
                user.groups.add(leads)
            users.append(user)
            passwords.append(password)
        return users, passwords

    def _rubric(self, lead) -> Rubric:
        # The sprint keeps whatever rubric version it already has; only a missing rubric is
        # created, so a lead's later revisions are never overwritten.
        rubric = Rubric.objects.filter(name=RUBRIC_NAME).order_by("-version").first()
        if rubric is not None:
            return rubric
        rubric = Rubric.objects.create(name=RUBRIC_NAME, guidelines=GUIDELINES, created_by=lead)
        for position, spec in enumerate(CRITERIA):
            criterion = Criterion(rubric=rubric, position=position, **spec)
            criterion.full_clean()
            criterion.save()
        record_event(lead, "rubric.created", rubric, changes={"name": rubric.name, "version": 1})
        return rubric

    def _sprint(self, rubric: Rubric, lead) -> Sprint:
        sprint = Sprint.objects.filter(slug=SPRINT_SLUG).first()
        if sprint is not None:
            return sprint
        sprint = Sprint.objects.create(
            name="Demo: support bot v3 vs v4",
            slug=SPRINT_SLUG,
            description="Pairs and triples from the support bot, the wiki assistant and the "
            "finance copilot, for trying Concord.",
            rubric=rubric,
            status=SprintStatus.ACTIVE,
            overlap_k=2,
            gold_rate=0.1,
            agreement_threshold=0.6,
            deadline=timezone.now() + timedelta(days=14),
            created_by=lead,
        )
        record_event(lead, "sprint.created", sprint, sprint=sprint, changes={"slug": sprint.slug})
        return sprint

    def _members(self, sprint: Sprint, users) -> None:
        for demo, user in zip(DEMO_USERS, users, strict=True):
            # A membership that exists keeps its role: a lead may have changed it.
            SprintMember.objects.get_or_create(
                sprint=sprint, user=user, defaults={"role": demo.role, "pseudonym": demo.pseudonym}
            )
