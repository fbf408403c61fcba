"""Options of a run, by kind, checked before anything is stored: every door (the REST view, the
admin form, the commands) goes through :func:`validate_run_options`, so a DPO run and a reward
run each take their own options, and an option of the other kind is a 400 naming it.

A reward run's options are :mod:`training.services.run_options`'; a DPO run's are
:class:`~training.services.policy_config.PolicyConfig`'s fields below, with the same bounds
where a name is shared (epochs, batch size, learning rate...).
"""

from dataclasses import fields
from typing import Any

from training.models import RunKind
from training.services.policy_config import LOSS_TYPES, PolicyConfig
from training.services.run_options import (
    FLOAT_OPTIONS,
    INT_OPTIONS,
    OPTION_NAMES,
    RunOptionsInvalid,
    typed_option_error,
    validate_options,
)

POLICY_INT_OPTIONS = {
    **{name: INT_OPTIONS[name] for name in ("epochs", "batch_size", "gradient_accumulation")},
    "max_length": (8, 32768),
    "seed": INT_OPTIONS["seed"],
    "lora_r": (1, 1024),
    "lora_alpha": (1, 4096),
}
POLICY_FLOAT_OPTIONS = {
    **FLOAT_OPTIONS,  # learning_rate, weight_decay, warmup_ratio
    "beta": (0.0, 10.0),  # 0 excluded: see option_error
    "lora_dropout": (0.0, 0.9),
}
POLICY_BOOL_OPTIONS = ("lora", "merge_adapter", "bf16", "gradient_checkpointing")
POLICY_CHOICE_OPTIONS = {"loss_type": LOSS_TYPES, "device": ("cpu", "cuda", "mps")}
POLICY_OPTION_NAMES = (
    *POLICY_INT_OPTIONS,
    *POLICY_FLOAT_OPTIONS,
    *POLICY_BOOL_OPTIONS,
    *POLICY_CHOICE_OPTIONS,
)
# Bounds that exclude their lower end.
EXCLUSIVE_LOW = ("beta",)


def policy_option_defaults() -> dict[str, Any]:
    """PolicyConfig's defaults for every option a caller may set."""
    return {f.name: f.default for f in fields(PolicyConfig) if f.name in POLICY_OPTION_NAMES}


def policy_option_error(name: str, value: Any) -> str | None:
    """Why ``value`` is not a valid DPO option ``name``, or None when it is."""
    if name in EXCLUSIVE_LOW:
        low, high = POLICY_FLOAT_OPTIONS[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        ok = number and low < value <= high
        return None if ok else f"Must be above {low:g} and at most {high:g}."
    if name in (*POLICY_INT_OPTIONS, *POLICY_FLOAT_OPTIONS, *POLICY_BOOL_OPTIONS):
        return typed_option_error(
            name, value, POLICY_INT_OPTIONS, POLICY_FLOAT_OPTIONS, POLICY_BOOL_OPTIONS
        )
    if name == "device":
        ok = value is None or value in POLICY_CHOICE_OPTIONS["device"]
        return None if ok else "Must be cpu, cuda, mps or null (automatic)."
    if name in POLICY_CHOICE_OPTIONS:
        choices = POLICY_CHOICE_OPTIONS[name]
        return None if value in choices else f"Must be one of: {', '.join(choices)}."
    if name in OPTION_NAMES:
        return "An option of reward-model runs; a dpo run does not take it."
    return "Unknown option."


def validate_policy_options(options: dict[str, Any]) -> dict[str, Any]:
    """The DPO options with PolicyConfig's defaults filled in. Raises
    :class:`RunOptionsInvalid` naming every unknown option, every reward-model option and every
    value of the wrong type or out of bounds; ``merge_adapter`` without ``lora`` is refused too."""
    errors = [
        {"field": name, "message": message}
        for name, value in options.items()
        if (message := policy_option_error(name, value))
    ]
    if options.get("merge_adapter") and not options.get("lora"):
        errors.append({"field": "merge_adapter", "message": "Only with lora: true."})
    if errors:
        raise RunOptionsInvalid(errors)
    clean = policy_option_defaults()
    clean.update({k: float(v) if k in POLICY_FLOAT_OPTIONS else v for k, v in options.items()})
    return clean


def validate_run_options(kind: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of a run of ``kind`` with its trainer's defaults filled in; a 400 naming
    each bad one (an option of the other kind included)."""
    if kind == RunKind.DPO:
        return validate_policy_options(options)
    if kind != RunKind.REWARD:
        raise RunOptionsInvalid([{"field": "kind", "message": "Must be reward or dpo."}])
    foreign = [
        {"field": name, "message": "An option of dpo runs; a reward run does not take it."}
        for name in options
        if name in POLICY_OPTION_NAMES and name not in OPTION_NAMES
    ]
    if foreign:
        raise RunOptionsInvalid(foreign)
    return validate_options(options)
