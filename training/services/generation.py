"""Seeded, batched generation from a policy version: the responses an evaluation compares.

Guarantees:

- **Repeatable.** Prompts go through the model ``CONCORD_GENERATION_BATCH_SIZE`` at a time, in
  the order given, left-padded, and ``torch.manual_seed(seed + batch index)`` is set before each
  batch, so the same policy, prompts, sampling settings and seed give the same texts on the same
  device and library versions (the batch size is part of the recorded settings: a prompt's
  padding, and so its numbers, depend on its batch).
- **Written as the policy was trained.** Each prompt (text or chat messages, with its context
  documents) is rendered with the policy's own ``rendering``
  (:class:`~exports.services.prompt_rendering.PromptRendering`): the conversational form goes
  through the tokenizer's chat template with the generation prompt when the tokenizer has one,
  and is flattened to ``role: content`` text when it has none.
- **Recorded.** :func:`validate_sampling` turns a request's options into the full record that
  is stored with the evaluation: ``max_new_tokens`` (256), ``temperature`` (0.7; 0 is greedy
  decoding), ``top_p`` (1.0) and ``batch_size``. A bad option is a
  :class:`~annotation.services.errors.ConcordError` 400 naming ``sampling.<field>``.
- **Measured.** :class:`GenerationResult` carries the texts and what they cost: prompts, new
  tokens (up to and including the end-of-sequence token), seconds and tokens per second, the
  device.

The device is ``CONCORD_GENERATION_DEVICE``, else CUDA when the worker has it, else the CPU; on
CUDA the weights load in bfloat16 where the GPU supports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from annotation.services.errors import ConcordError
from exports.services.prompt_rendering import PromptRendering, prompt_text
from training.models import PolicyVersion

# name -> (type, default, low, high); ``low_open``: the low bound itself is refused.
SAMPLING_OPTIONS: dict[str, tuple[type, Any, float, float]] = {
    "max_new_tokens": (int, 256, 1, 4096),
    "temperature": (float, 0.7, 0.0, 5.0),
    "top_p": (float, 1.0, 0.0, 1.0),
}
LOW_OPEN = frozenset({"top_p"})

# ``on_batch(done, total)``: prompts generated so far out of all.
BatchProgress = Callable[[int, int], None]


class SamplingInvalid(ConcordError):
    """A sampling option is unknown, of the wrong type or out of bounds; each problem names
    ``sampling.<field>``."""


def validate_sampling(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The full sampling record for ``values`` (defaults filled in, ``batch_size`` from
    ``CONCORD_GENERATION_BATCH_SIZE``), or :class:`SamplingInvalid` listing every problem."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise SamplingInvalid("Must be an object.", field="sampling")
    problems = [
        {"field": f"sampling.{name}", "message": "Unknown field."}
        for name in sorted(set(values) - set(SAMPLING_OPTIONS))
    ]
    record: dict[str, Any] = {}
    for name, (kind, default, low, high) in SAMPLING_OPTIONS.items():
        value = values.get(name, default)
        message = _option_problem(name, kind, value, low, high)
        if message:
            problems.append({"field": f"sampling.{name}", "message": message})
        else:
            record[name] = kind(value)
    if problems:
        raise SamplingInvalid(problems)
    return {**record, "batch_size": settings.CONCORD_GENERATION_BATCH_SIZE}


def _option_problem(name: str, kind: type, value: Any, low: float, high: float) -> str:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind is int and not (isinstance(value, int) and not isinstance(value, bool)):
        return "Must be an integer."
    if not is_number:
        return "Must be a number."
    if name in LOW_OPEN and not low < value <= high:
        return f"Must be above {low:g} and at most {high:g}."
    if not low <= value <= high:
        return f"Must be from {low:g} to {high:g}."
    return ""


@dataclass
class GenerationResult:
    """The generated texts, in the order of the prompts, and what generating them cost."""

    texts: list[str]
    new_tokens: int = 0
    seconds: float = 0.0
    device: str = ""
    truncated_prompts: int = 0
    per_prompt_tokens: list[int] = field(default_factory=list)

    @property
    def stats(self) -> dict[str, Any]:
        return {
            "prompts": len(self.texts),
            "new_tokens": self.new_tokens,
            "seconds": round(self.seconds, 3),
            "tokens_per_s": round(self.new_tokens / self.seconds, 2) if self.seconds else 0.0,
            "device": self.device,
            "truncated_prompts": self.truncated_prompts,
        }


def generation_device() -> str:
    """``CONCORD_GENERATION_DEVICE``, else ``cuda`` when this worker has a GPU, else ``cpu``."""
    import torch

    if settings.CONCORD_GENERATION_DEVICE:
        return settings.CONCORD_GENERATION_DEVICE
    return "cuda" if torch.cuda.is_available() else "cpu"


def render_for_generation(
    rendering: PromptRendering, tokenizer: Any, prompt: Any, context: Any
) -> tuple[str, bool]:
    """The text the model continues, and whether it already holds the tokenizer's special
    tokens (a chat template writes them itself)."""
    rendered = rendering.prompt(prompt, context)
    if not rendering.conversational:
        return rendered, False
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(rendered, tokenize=False, add_generation_prompt=True)
        return text, True
    return prompt_text(rendered), False


def generate(
    policy: PolicyVersion,
    prompts: Sequence[Mapping[str, Any]],
    *,
    sampling: Mapping[str, Any],
    seed: int,
    device: str | None = None,
    on_batch: BatchProgress | None = None,
) -> GenerationResult:
    """Generate one response of ``policy`` to each of ``prompts`` (``{"prompt", "context"}``)
    with the recorded ``sampling`` settings (:func:`validate_sampling`) and ``seed``; see the
    module note for what is guaranteed. Raises
    :class:`~training.services.scoring.ArtifactsMissing` when the policy's artifacts are gone."""
    import torch

    from training.services.policy_loading import load_policy

    device = device or generation_device()
    dtype = None
    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        dtype = torch.bfloat16
    model, tokenizer = load_policy(policy, device=device, dtype=dtype)
    try:
        return generate_loaded(
            model,
            tokenizer,
            PromptRendering.from_dict(policy.rendering),
            prompts,
            sampling=sampling,
            seed=seed,
            device=device,
            on_batch=on_batch,
        )
    finally:
        del model
        if device.startswith("cuda"):
            torch.cuda.empty_cache()


def generate_loaded(
    model: Any,
    tokenizer: Any,
    rendering: PromptRendering,
    prompts: Sequence[Mapping[str, Any]],
    *,
    sampling: Mapping[str, Any],
    seed: int,
    device: str,
    on_batch: BatchProgress | None = None,
) -> GenerationResult:
    """:func:`generate` with the model and tokenizer already loaded (left padding, a pad
    token): the same batches, seeds and counting. For a benchmark or a caller that keeps the
    model."""
    import torch

    max_new = int(sampling["max_new_tokens"])
    batch_size = int(sampling["batch_size"])
    temperature = float(sampling["temperature"])
    options: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tokenizer.pad_token_id}
    if temperature > 0:
        options.update(do_sample=True, temperature=temperature, top_p=float(sampling["top_p"]))
    else:
        options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
    # A prompt longer than the model's window leaves room for the answer: its start is cut
    # (the batch is padded on the left, so its last ``room`` columns are each prompt's end).
    window = getattr(model.config, "max_position_embeddings", None)
    room = window - max_new if window and window > max_new else None
    stops = stop_token_ids(model, tokenizer)
    result = GenerationResult(texts=[], device=device)
    started = time.perf_counter()
    for index, start in enumerate(range(0, len(prompts), batch_size)):
        batch = prompts[start : start + batch_size]
        rendered = [
            render_for_generation(rendering, tokenizer, p["prompt"], p.get("context"))
            for p in batch
        ]
        encoded = tokenizer(
            [text for text, _ in rendered],
            return_tensors="pt",
            padding=True,
            add_special_tokens=not rendered[0][1],
        )
        if room is not None and encoded["input_ids"].shape[1] > room:
            result.truncated_prompts += int((encoded["attention_mask"].sum(dim=1) > room).sum())
            encoded = {key: value[:, -room:] for key, value in encoded.items()}
        encoded = {key: value.to(device) for key, value in encoded.items()}
        torch.manual_seed(seed + index)
        with torch.no_grad():
            output = model.generate(**encoded, **options)
        for row in output[:, encoded["input_ids"].shape[1] :].tolist():
            # Up to the first end-of-sequence id (the generation config may list several); the
            # padding of a row that ended before the batch did is not new tokens.
            ends = [at for at, token in enumerate(row) if token in stops]
            length = ends[0] + 1 if ends else len(row)
            result.per_prompt_tokens.append(length)
            result.new_tokens += length
            result.texts.append(tokenizer.decode(row[:length], skip_special_tokens=True).strip())
        if on_batch is not None:
            on_batch(len(result.texts), len(prompts))
    result.seconds = time.perf_counter() - started
    return result


def stop_token_ids(model: Any, tokenizer: Any) -> set[int]:
    """The ids that end an answer: the model's generation config's end-of-sequence id (or ids)
    and the tokenizer's own."""
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = configured if isinstance(configured, list | tuple) else [configured]
    return {int(i) for i in (*ids, tokenizer.eos_token_id) if i is not None}
