"""Which base models a training run may start from, and where each one is on this machine.

A run's ``base_model`` is one of three things, and nothing else:

- ``model:<id>`` (reward runs): a registered :class:`ModelVersion` the caller leads (every
  sprint of the dataset it was trained from, as the registry shows it), read from its
  artifacts directory;
- ``policy:<id>`` (dpo runs): a registered :class:`PolicyVersion` the caller leads, by the
  same rule (its artifacts: a whole model, or an adapter merged over its own base on loading);
- a directory name or path under one of the roots the operator lists in
  ``CONCORD_BASE_MODEL_ROOTS`` (default: the packaged all-MiniLM-L6-v2). A name is looked up
  under each root in order; a path is resolved (symlinks, ``..``) before the check, so it
  cannot leave its root. Concord's own data directory, where every team's runs live, is never
  a root, even when a listed root contains it.

Everything else is refused with one message, the same whether a path exists or not, so the
answer tells nothing about the machine's directories or another team's models. The check runs
when a run is requested (the API, the admin, the command, the retraining schedule) and again on
the worker right before loading, so a run stored earlier, or a root that changed meanwhile,
still fails safely.
"""

import re
from pathlib import Path

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser

from annotation.services import artifact_store
from training.models import ModelVersion, PolicyVersion, RunKind
from training.services.policy_loading import POLICY_REFERENCE
from training.services.policy_registry import policies_led_by
from training.services.registry import models_led_by
from training.services.run_options import RunOptionsInvalid
from training.services.scoring import ArtifactsMissing, artifacts_path

MODEL_REFERENCE = re.compile(r"^model:(\d{1,18})$")
REFUSED = (
    "Not a registered version you lead (model:<id> for a reward run, policy:<id> for a dpo "
    "run), nor a model under the configured base model roots."
)


class BaseModelRefused(RunOptionsInvalid):
    """The base model is not one this caller may train from; the message is :data:`REFUSED`
    unless the caller's own model version has lost its artifacts."""

    def __init__(self, message: str = REFUSED) -> None:
        super().__init__(message, field="base_model")


def base_model_roots() -> list[Path]:
    """The configured roots, resolved, without any inside the data directory."""
    data_dir = Path(settings.DATA_DIR).resolve()
    roots = [Path(root).resolve() for root in settings.CONCORD_BASE_MODEL_ROOTS]
    return [root for root in roots if not root.is_relative_to(data_dir)]


def path_under_roots(value: str) -> Path | None:
    """The resolved directory ``value`` names under a root: an absolute path as it is, a
    relative one under each root in order. ``None`` when there is none (missing, a file,
    outside every root, or inside the data directory)."""
    data_dir = Path(settings.DATA_DIR).resolve()
    roots = base_model_roots()
    given = Path(value)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        try:
            resolved = candidate.resolve()
            is_dir = resolved.is_dir()
        except (OSError, ValueError):  # a NUL byte, a name too long, a loop of links
            continue
        inside = any(resolved.is_relative_to(root) for root in roots)
        if inside and is_dir and not resolved.is_relative_to(data_dir):
            return resolved
    return None


def model_version_path(
    model_id: int, actor: AbstractBaseUser | None, *, stage: bool = False
) -> str:
    """The artifacts of model version ``model_id`` if ``actor`` leads it (``None``: the
    operator or the retraining schedule, who may use any). With ``stage``, a local folder of
    them, verified (training.services.scoring.artifacts_path: on S3 a download into the
    artifact cache); without, only a check that they are in the store, and their name there,
    so a web request or the schedule never downloads a model to ask whether it may be used."""
    versions = ModelVersion.objects.all() if actor is None else models_led_by(actor)
    return registered_artifacts(versions.select_related("run").filter(pk=model_id).first(), stage)


def policy_version_path(
    policy_id: int, actor: AbstractBaseUser | None, *, stage: bool = False
) -> str:
    """As :func:`model_version_path`, for policy version ``policy_id``."""
    versions = PolicyVersion.objects.all() if actor is None else policies_led_by(actor)
    return registered_artifacts(versions.select_related("run").filter(pk=policy_id).first(), stage)


def registered_artifacts(version: ModelVersion | PolicyVersion | None, stage: bool) -> str:
    """The artifacts of a registered ``version`` the caller may use (``None``: refused)."""
    if version is None:
        raise BaseModelRefused()
    run = version.run
    try:
        if stage or not run.artifacts_sha256:
            return str(artifacts_path(version))
        if artifact_store.exists(f"{run.artifacts_dir}/{artifact_store.MANIFEST_NAME}"):
            return run.artifacts_dir
        raise ArtifactsMissing(
            f"The artifacts of {version.name} v{version.version} are missing from the "
            "artifact store."
        )
    except ArtifactsMissing as missing:
        raise BaseModelRefused(missing.detail) from None


def base_model_path(
    value: str,
    *,
    actor: AbstractBaseUser | None,
    stage: bool = False,
    kind: str = RunKind.REWARD,
) -> str:
    """The directory to load base model ``value`` of a ``kind`` run from, for ``actor`` (see
    the module docstring). Raises :class:`BaseModelRefused`, a 400 naming ``base_model``, for
    anything else (a ``model:<id>`` for a dpo run, a ``policy:<id>`` for a reward run
    included). A registered version is staged to a local, verified folder only with ``stage``
    (the worker, right before loading); without it, the answer is its name in the artifact
    store. Reads only: the same verdict on the web process and on the worker, given the same
    settings and store."""
    reference = MODEL_REFERENCE.match(value)
    if reference is not None:
        if kind != RunKind.REWARD:
            raise BaseModelRefused()
        return model_version_path(int(reference.group(1)), actor, stage=stage)
    reference = POLICY_REFERENCE.match(value)
    if reference is not None:
        if kind != RunKind.DPO:
            raise BaseModelRefused()
        return policy_version_path(int(reference.group(1)), actor, stage=stage)
    path = path_under_roots(value) if value else None
    if path is None:
        raise BaseModelRefused()
    return str(path)
