"""The policy registry: registering done ``dpo`` runs as numbered policy versions, and which
policies a lead may see and act on.

A policy belongs to its run's dataset version and so to that version's sprints, exactly as a
reward model does: a lead of every one of those sprints may act on it (see
:mod:`training.services.datasets`). Numbering and the one-production-per-name guarantee are the
reward registry's (:func:`training.services.registry.register_model_version`).
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet

from training.models import PolicyVersion, TrainingRun
from training.services.datasets import datasets_led_by
from training.services.registry import register_next_version


def policies_led_by(user: AbstractBaseUser) -> QuerySet[PolicyVersion]:
    """The policy versions whose dataset ``user`` leads (every sprint of it)."""
    return PolicyVersion.objects.filter(run__dataset__in=datasets_led_by(user))


def register_policy_version(run: TrainingRun) -> PolicyVersion:
    """Register a done ``dpo`` run as the next candidate version of its name, with the
    rendering and adapter flag its run recorded in ``config``. Idempotent: a run already
    registered returns its version, and runs finishing together each get their own number
    (:func:`training.services.registry.register_next_version`)."""
    config = run.config or {}
    return register_next_version(
        PolicyVersion,
        run,
        base_model=run.base_model,
        adapter=bool(config.get("lora")) and not config.get("merge_adapter", False),
        rendering=config.get("rendering") or {},
    )
