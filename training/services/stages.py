"""Stage changes of both registries (reward models and policies): promotion, archiving and
rollback, each written as a :class:`~training.models.RegistryEvent` (the webhook-ready record)
and an audit event, in the transaction of the change.

Locking: every change takes a row lock on all versions of the name (``select_for_update``,
in primary-key order, so two changes of one name queue instead of deadlocking) and reads the
stages again under it; the partial unique index "one production version per name" is the
database's guarantee on top.

Rollback (:func:`rollback`) has stack semantics: production returns to ``previous_id`` of the
latest ``promoted`` event of the current production version, so rolling back twice walks back
two promotions. It is refused (409) when there is no such event or version, when the target
is of a dataset the caller does not lead, or when the target's artifacts are gone from the
store; a reason is required (400 naming ``reason``).

Who may: the leads of every sprint of the version's dataset (:func:`require_lead`, checked
here, not only in the views): 403 for a member who does not lead, 404 for anyone else. A name
is not a team's own, so a promotion that would archive a production version of a dataset the
caller does not lead is refused (409); only the operator (no actor) may replace it. Reward-model
promotion (:func:`training.services.registry.promote_model_version`) is a plain
:func:`change_stage` with the lead check, no gate.
"""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from annotation.services import artifact_store
from annotation.services.audit import record_event
from annotation.services.errors import ConcordError
from training.models import ModelStage, ModelVersion, PolicyVersion, RegistryEvent, RegistryKind
from training.services.datasets import datasets_led_by, datasets_visible_to

MAX_REASON = 2000
Version = ModelVersion | PolicyVersion


class StageRefused(ConcordError):
    """A promotion or rollback refused: 409 for the registry's state, 400 for a bad reason,
    403/404 for a caller who does not lead the version's dataset."""

    status = 409


@dataclass(frozen=True)
class Registry:
    """One registry: its kind (``RegistryEvent.registry``), its version model and the prefix
    of its audit actions (``model_version.promoted``, ``policy_version.rolled_back``)."""

    kind: str
    model: type[models.Model]
    audit: str
    what: str


REWARD = Registry(RegistryKind.REWARD, ModelVersion, "model_version", "reward model")
POLICY = Registry(RegistryKind.POLICY, PolicyVersion, "policy_version", "policy")


def registry_of(version: Version) -> Registry:
    return POLICY if isinstance(version, PolicyVersion) else REWARD


def versions_led_by(registry: Registry, user: AbstractBaseUser) -> QuerySet:
    """The versions of ``registry`` whose dataset ``user`` leads (every sprint of it)."""
    return registry.model.objects.filter(run__dataset__in=datasets_led_by(user).values("pk"))


def events_led_by(user: AbstractBaseUser) -> QuerySet[RegistryEvent]:
    """The registry events of versions (of either registry) whose dataset ``user`` leads."""
    return RegistryEvent.objects.filter(
        Q(registry=POLICY.kind, version_id__in=versions_led_by(POLICY, user).values("pk"))
        | Q(registry=REWARD.kind, version_id__in=versions_led_by(REWARD, user).values("pk"))
    ).select_related("actor")


def leads(version: Version, actor: AbstractBaseUser | None) -> bool:
    """Whether ``actor`` (None: the operator, who may) leads every sprint of ``version``'s
    dataset."""
    if actor is None:
        return True
    if not actor.is_authenticated:
        return False
    return versions_led_by(registry_of(version), actor).filter(pk=version.pk).exists()


def require_lead(version: Version, actor: AbstractBaseUser | None) -> None:
    """Refuse unless ``actor`` leads every sprint of ``version``'s dataset (a superuser leads
    all): 403 for a member of one of them, 404 for anyone else."""
    registry = registry_of(version)
    if actor is not None and actor.is_authenticated:
        if leads(version, actor):
            return
        dataset_id = registry.model.objects.filter(pk=version.pk).values("run__dataset")
        if datasets_visible_to(actor).filter(pk__in=dataset_id).exists():
            raise StageRefused(
                "This needs the lead role in every sprint of the dataset.", status=403
            )
    raise StageRefused(f"No such {registry.what}.", status=404)


def clean_reason(reason: str | None, *, required: bool, field: str = "reason") -> str:
    """``reason`` stripped; a 400 naming ``field`` when required and blank, or too long."""
    text = (reason or "").strip()
    if required and not text:
        raise StageRefused("Give a reason (it is kept with the event).", status=400, field=field)
    if len(text) > MAX_REASON:
        raise StageRefused(f"At most {MAX_REASON} characters.", status=400, field=field)
    return text


def _audit_sprint(version: Version):
    sprints = list(version.sprints.all()[:2])
    return sprints[0] if len(sprints) == 1 else None


def _lock_name(registry: Registry, name: str) -> list:
    return list(registry.model.objects.select_for_update().filter(name=name).order_by("pk"))


def _event(registry: Registry, event: str, version: Version, actor, **fields) -> RegistryEvent:
    return RegistryEvent.objects.create(
        registry=registry.kind,
        event=event,
        name=version.name,
        version_id=version.pk,
        version=version.version,
        actor=actor if actor is not None and actor.is_authenticated else None,
        **fields,
    )


def _archive(
    registry: Registry, version: Version, actor, sprint, *, replaced_by: int, reason: str = ""
) -> None:
    registry.model.objects.filter(pk=version.pk).update(stage=ModelStage.ARCHIVED)
    version.stage = ModelStage.ARCHIVED
    record_event(
        actor,
        f"{registry.audit}.archived",
        version,
        sprint=sprint,
        changes={"stage": ["production", "archived"], "replaced_by": replaced_by},
    )
    _event(registry, "archived", version, actor, previous_id=None, reason=reason,
           evidence={"replaced_by": replaced_by})  # fmt: skip


def change_stage(
    version: Version,
    stage: ModelStage | str,
    *,
    actor: AbstractBaseUser | None,
    reason: str = "",
    override: bool = False,
    evidence: dict[str, Any] | None = None,
    expect_production: bool = False,
    production_id: int | None = None,
) -> Version:
    """Move ``version`` to ``stage`` in one transaction under the name's row lock. To
    production: the name's current production version is archived first (``archived`` event)
    and the promotion is a ``promoted`` event whose ``previous_id`` is that version (None when
    there was none), with ``reason``, ``override`` and ``evidence``. To archived: an
    ``archived`` event; production to candidate: ``demoted``. Both are audited. Moving a
    version to the stage it is in changes nothing. With ``expect_production``,
    ``production_id`` is the production version the caller's decision was about (None: none):
    if another one holds production once the lock is taken, nothing changes (409). A
    production version of a dataset ``actor`` does not lead is never archived by a promotion
    (409; ``actor`` None, the operator, may)."""
    registry = registry_of(version)
    stage = ModelStage(stage)
    with transaction.atomic():
        versions = _lock_name(registry, version.name)
        version.refresh_from_db()
        if version.stage == stage:
            return version
        current = next(
            (v for v in versions if v.pk != version.pk and v.stage == ModelStage.PRODUCTION), None
        )
        if expect_production and (current.pk if current else None) != production_id:
            raise StageRefused(
                f"Production of {version.name} changed while this was decided; try again."
            )
        if stage == ModelStage.PRODUCTION and current is not None and not leads(current, actor):
            raise StageRefused(
                f"Production of {version.name} is held by a version of a dataset you do not "
                "lead; promoting would archive it."
            )
        sprint = _audit_sprint(version)
        if stage == ModelStage.PRODUCTION and current is not None:
            _archive(registry, current, actor, sprint, replaced_by=version.pk)
        previous = version.stage
        version.stage = stage
        # Who moved it last, and when (any stage: the registry's behaviour before events).
        version.promoted_by = actor if actor is not None and actor.is_authenticated else None
        version.promoted_at = timezone.now()
        version.save(update_fields=["stage", "promoted_by", "promoted_at"])
        changes = {"stage": [previous, str(stage)], "name": version.name,
                   "version": version.version}  # fmt: skip
        if reason:
            changes["reason"] = reason
        if override:
            changes["override"] = True
        record_event(actor, f"{registry.audit}.promoted", version, sprint=sprint, changes=changes)
        event = {
            ModelStage.PRODUCTION: "promoted",
            ModelStage.ARCHIVED: "archived",
        }.get(stage, "demoted" if previous == ModelStage.PRODUCTION else "")
        if event:
            _event(
                registry, event, version, actor,
                # Only a promotion replaces a version: an archived or demoted one replaced none.
                previous_id=current.pk if current is not None and event == "promoted" else None,
                reason=reason, override=override, evidence=evidence or {},
            )  # fmt: skip
    return version


# --- rollback -----------------------------------------------------------------------------------


def rollback_target(version: Version, actor: AbstractBaseUser | None = None) -> Version:
    """The version production returns to from ``version`` (the name's production version):
    ``previous_id`` of the latest ``promoted`` event of ``version``. 409 when ``version`` is
    not in production, when no earlier version is recorded or it no longer exists, when
    ``actor`` (None: the operator) does not lead its dataset, or when its artifacts are gone
    from the store."""
    registry = registry_of(version)
    label = f"{version.name} v{version.version}"
    if version.stage != ModelStage.PRODUCTION:
        raise StageRefused(
            f"{label} is {version.stage}, not in production: roll back from the name's "
            "production version."
        )
    promotion = (
        RegistryEvent.objects.filter(
            registry=registry.kind, event="promoted", version_id=version.pk
        )
        .order_by("-created_at", "-pk")
        .first()
    )
    if promotion is None or promotion.previous_id is None:
        raise StageRefused(f"No earlier version of {version.name} held production before {label}.")
    target = (
        registry.model.objects.filter(pk=promotion.previous_id, name=version.name)
        .select_related("run")
        .first()
    )
    if target is None:
        raise StageRefused(
            f"The version that held production before {label} (id {promotion.previous_id}) "
            "no longer exists."
        )
    if not leads(target, actor):
        raise StageRefused(
            f"The version that held production before {label} is of a dataset you do not lead."
        )
    if not artifacts_present(target):
        raise StageRefused(
            f"The artifacts of {target.name} v{target.version} are gone from the artifact "
            "store; it cannot serve again."
        )
    return target


def artifacts_present(version: Version) -> bool:
    """Whether ``version``'s artifacts are in the store: its manifest, for a run that recorded
    one; the local folder, for a run from before manifests."""
    from training.services.scoring import ArtifactsMissing, artifacts_path

    run = version.run
    if run.artifacts_dir and run.artifacts_sha256:
        return artifact_store.exists(f"{run.artifacts_dir}/{artifact_store.MANIFEST_NAME}")
    try:
        artifacts_path(version)
    except ArtifactsMissing:
        return False
    return True


def rollback(version: Version, *, actor: AbstractBaseUser | None, reason: str) -> Version:
    """Return production of ``version``'s name (``version`` must hold it) to the version that
    held it before (:func:`rollback_target`), for a lead of both versions' datasets, with a
    reason (the target checked by :func:`rollback_target` for ``actor``). Writes a
    ``rolled_back`` event for the target (``previous_id`` = ``version``) and
    an ``archived`` event for ``version``, and audits both, in one transaction under the
    name's row lock. Returns the target, now in production."""
    reason = clean_reason(reason, required=True)
    require_lead(version, actor)
    registry = registry_of(version)
    with transaction.atomic():
        _lock_name(registry, version.name)
        version.refresh_from_db()
        target = rollback_target(version, actor)
        sprint = _audit_sprint(version)
        _archive(registry, version, actor, sprint, replaced_by=target.pk, reason=reason)
        previous = target.stage
        target.stage = ModelStage.PRODUCTION
        target.promoted_by = actor if actor is not None and actor.is_authenticated else None
        target.promoted_at = timezone.now()
        target.save(update_fields=["stage", "promoted_by", "promoted_at"])
        record_event(
            actor,
            f"{registry.audit}.rolled_back",
            target,
            sprint=sprint,
            changes={"stage": [previous, "production"], "name": target.name,
                     "version": target.version, "from": version.pk, "reason": reason},
        )  # fmt: skip
        _event(
            registry, "rolled_back", target, actor, previous_id=version.pk, reason=reason,
            evidence={"rolled_back_from": {"id": version.pk, "version": version.version}},
        )  # fmt: skip
    return target


def production_of(registry: Registry, name: str, actor: AbstractBaseUser) -> Version:
    """The production version of ``name`` among those ``actor`` leads; 404 when none."""
    found = versions_led_by(registry, actor).filter(name=name, stage=ModelStage.PRODUCTION).first()
    if found is None:
        raise StageRefused(f"No {registry.what} named {name!r} in production that you lead.", 404)
    return found
