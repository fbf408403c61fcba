"""What the demo seeds beyond the ground floor: a registry the apps above fill.

``manage.py seed_demo`` (annotation) makes the users, the rubric and the sprint annotators
label. A demo that also shows what comes after labelling (consensus, agreement, exports, the
leaderboard) needs the services of the floors above, which annotation may not import
(STYLE.md, "The floors"). So those apps register a :data:`DemoExtra` here from their
``AppConfig.ready()``, and the command runs each one after its own work, in registration
order, each in a transaction of its own.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from annotation.models import Rubric, Sprint, SprintRole


@dataclass(frozen=True)
class DemoMember:
    user: AbstractBaseUser
    role: SprintRole
    pseudonym: str


@dataclass(frozen=True)
class DemoSeed:
    """What ``seed_demo`` made or found: its members (lead first), rubric, the sprint that
    annotators label, and the demo items file."""

    members: list[DemoMember]
    rubric: Rubric
    sprint: Sprint
    items_file: Path

    @property
    def lead(self) -> AbstractBaseUser:
        return self.members[0].user


# Given the seed, does its part idempotently and returns the lines to print.
DemoExtra = Callable[[DemoSeed], list[str]]

_EXTRAS: dict[str, DemoExtra] = {}


def register_demo_extra(name: str, extra: DemoExtra) -> None:
    """Add (or replace, by name) a part of the demo; call from an ``AppConfig.ready()``."""
    _EXTRAS[name] = extra


def seed_demo_extras(seed: DemoSeed) -> list[str]:
    """Run every registered extra, each whole or not at all; the lines they report."""
    lines: list[str] = []
    for extra in _EXTRAS.values():
        with transaction.atomic():
            lines += extra(seed)
    return lines
