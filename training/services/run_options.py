"""Options of a training run, checked before anything is stored: the REST view, the admin form,
the management command and scheduled retraining all go through :func:`validate_options` and
:func:`check_model_name`, so one set of bounds and one naming rule hold everywhere."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser

from annotation.services.errors import ConcordError
from exports.models import DatasetVersion
from training.models import ModelVersion
from training.services.datasets import datasets_led_by
from training.services.train_config import POOLINGS

MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$")
DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")
# Bounds of the options a caller may set; the defaults are the trainer's (TrainConfig).
INT_OPTIONS = {
    "epochs": (1, 100),
    "batch_size": (1, 1024),
    "gradient_accumulation": (1, 1024),
    "max_length": (8, 8192),
    "seed": (0, 2**32 - 1),
    "patience": (1, 100),
}
FLOAT_OPTIONS = {
    "learning_rate": (1e-8, 1.0),
    "weight_decay": (0.0, 1.0),
    "warmup_ratio": (0.0, 1.0),
}
BOOL_OPTIONS = ("use_margin", "bf16")
# Options that take one of a few words.
CHOICE_OPTIONS = {"pooling": POOLINGS}
OPTION_NAMES = (*INT_OPTIONS, *FLOAT_OPTIONS, *BOOL_OPTIONS, *CHOICE_OPTIONS, "device")


class RunOptionsInvalid(ConcordError):
    """Bad options for a run; ``problems`` (alias ``errors``) lists ``{"field", "message"}``."""


def train_option_defaults() -> dict[str, Any]:
    """The trainer's defaults for every option a caller may set."""
    from training.services.train_config import TrainConfig

    return {f.name: f.default for f in fields(TrainConfig) if f.name in OPTION_NAMES}


def typed_option_error(
    name: str,
    value: Any,
    ints: Mapping[str, tuple[int, int]],
    floats: Mapping[str, tuple[float, float]],
    bools: Iterable[str],
) -> str | None:
    """Why ``value`` is not a valid ``name`` of these integer, number and true/false options
    (inclusive bounds), or None when it is (or ``name`` is none of them)."""
    if name in ints:
        low, high = ints[name]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        return None if ok else f"Must be an integer from {low} to {high}."
    if name in floats:
        low, high = floats[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return None if number and low <= value <= high else f"Must be from {low:g} to {high:g}."
    if name in bools:
        return None if isinstance(value, bool) else "Must be true or false."
    return None


def option_error(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid ``name`` option, or None when it is."""
    if name in (*INT_OPTIONS, *FLOAT_OPTIONS, *BOOL_OPTIONS):
        return typed_option_error(name, value, INT_OPTIONS, FLOAT_OPTIONS, BOOL_OPTIONS)
    if name in CHOICE_OPTIONS:
        choices = CHOICE_OPTIONS[name]
        return None if value in choices else f"Must be one of: {', '.join(choices)}."
    if name == "device":
        ok = value is None or (isinstance(value, str) and DEVICE.match(value))
        return None if ok else "Must be cpu, cuda, cuda:N, mps or null (automatic)."
    return "Unknown option."


def validate_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options with the trainer's defaults filled in. Raises :class:`RunOptionsInvalid`
    naming every unknown option and every value of the wrong type or out of bounds."""
    errors = [
        {"field": name, "message": message}
        for name, value in options.items()
        if (message := option_error(name, value))
    ]
    if errors:
        raise RunOptionsInvalid(errors)
    clean = train_option_defaults()
    clean.update({k: float(v) if k in FLOAT_OPTIONS else v for k, v in options.items()})
    return clean


def default_model_name(dataset: DatasetVersion, prefix: str = "reward") -> str:
    """``<prefix>-<sprint slugs joined by +>`` (``policy`` for a dpo run)."""
    slugs = sorted(dataset.sprints.values_list("slug", flat=True))
    return (f"{prefix}-" + "+".join(slugs))[:100] if slugs else f"{prefix}-dataset-{dataset.pk}"


def check_model_name(
    name: str, actor: AbstractBaseUser | None, *, registry: type = ModelVersion
) -> None:
    """A name is the caller's when it is new, or every version under it came from a dataset
    they lead; promoting under a name archives that name's production model, so one team must
    not be able to reach another's. ``registry`` is ModelVersion or PolicyVersion."""
    if not MODEL_NAME.match(name):
        raise RunOptionsInvalid(
            [{"field": "name", "message": "Use 1-100 letters, digits, '.', '_', '+' or '-'."}]
        )
    if actor is None:
        return
    foreign = registry.objects.filter(name=name).exclude(run__dataset__in=datasets_led_by(actor))
    if foreign.exists():
        what = "policies" if registry is not ModelVersion else "models"
        message = f"This name is used by {what} of sprints you do not lead."
        raise RunOptionsInvalid([{"field": "name", "message": message}])
