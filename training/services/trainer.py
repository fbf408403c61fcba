"""Training a reward model from preference pairs: the trainer core (no Django here).

A reward model maps (prompt, response) to one number; it is trained with the Bradley-Terry loss
``-logsigmoid(r_chosen - r_rejected - margin)`` so that chosen responses score higher. The fast
path: every pair is tokenised once up front, chosen and rejected of a micro-batch go through the
model in one forward pass, and batches are length-bucketed and padded only to their own longest
sequence (see ``batching``). The Django side (runs, registry, scoring) calls
``train_reward_model`` and ``RewardScorer``.

Data-parallel: when a ``torch.distributed`` process group is initialised (the
``training.distributed_train`` entry point under ``torchrun``, see
``training.services.distributed``), the model is wrapped in ``DistributedDataParallel`` and every
*global* micro-batch of ``batch_size`` pairs (drawn from the same seed on every rank, so all ranks
hold the same batches) is split across the ranks by a fixed stride: rank ``r`` takes pairs
``r, r + W, r + 2W, ...`` of it. Each rank's loss is weighted by its share of the step's pairs
and scaled by ``W``, so the gradient DDP averages is the one-process gradient of the whole
step: the effective batch, the learning-rate schedule and the number of steps do not change
with the world size, and the loss curve is the one-process curve up to float rounding. Rank 0
decides a stop (``should_stop``) and broadcasts it, evaluates and writes the artifacts.
"""

from __future__ import annotations

import contextlib
import json
import math
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from transformers import PreTrainedModel, get_linear_schedule_with_warmup, set_seed

from training.services.batching import (
    EncodedPairs,
    collate_pairs,
    encode_pairs,
    length_bucketed_batches,
)
from training.services.early_stopping import BestEpoch
from training.services.reward_model import (
    BaseModelNotFound,
    RewardScorer,
    autocast_for,
    disable_dropout,
    fitted_max_length,
    load_reward_model,
    quiet_transformers,
    resolve_device,
    score_encodings,
)
from training.services.train_config import DEFAULT_BASE_MODEL, TrainConfig

__all__ = [
    "DEFAULT_BASE_MODEL",
    "BaseModelNotFound",
    "ProgressEvent",
    "RewardScorer",
    "TrainConfig",
    "TrainResult",
    "TrainingCancelled",
    "bradley_terry_loss",
    "pairwise_accuracy",
    "train_reward_model",
]


class TrainingCancelled(Exception):
    """``should_stop()`` turned true while training; nothing was written to the output directory."""


@dataclass
class ProgressEvent:
    """Reported after every optimizer step (``loss`` set), and after each epoch's evaluation
    (``eval`` set, ``loss`` None)."""

    step: int
    total_steps: int
    epoch: int
    loss: float | None
    eval: dict | None  # after each epoch: {"epoch", "accuracy", "loss"}


@dataclass
class TrainResult:
    metrics: dict
    output_dir: Path


def bradley_terry_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, margin: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean of ``-logsigmoid(chosen - rejected - margin)`` over the pairs."""
    difference = chosen - rejected
    if margin is not None:
        difference = difference - margin
    return -nn.functional.logsigmoid(difference).mean()


def pairwise_accuracy(chosen_scores: Sequence[float], rejected_scores: Sequence[float]) -> float:
    """Share of pairs whose chosen score is strictly higher (a tie counts as wrong, as in TRL)."""
    if len(chosen_scores) != len(rejected_scores) or not chosen_scores:
        raise ValueError("pairwise_accuracy needs as many chosen as rejected scores, at least one")
    wins = sum(1 for c, r in zip(chosen_scores, rejected_scores, strict=True) if c > r)
    return wins / len(chosen_scores)


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in ("torch", "transformers", "tokenizers", "safetensors", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def _adamw(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW without weight decay on biases and normalisation weights (as transformers does);
    the fused kernel where torch has one for the device."""
    decayed, undecayed = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        plain = parameter.ndim < 2 or "norm" in name.lower()
        (undecayed if plain else decayed).append(parameter)
    groups = [
        {"params": decayed, "weight_decay": config.weight_decay},
        {"params": undecayed, "weight_decay": 0.0},
    ]
    try:
        return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=config.learning_rate)


def process_group() -> tuple[int, int]:
    """This process's rank and the world size: ``(0, 1)`` outside ``torch.distributed``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _collective_device(device: torch.device) -> torch.device:
    """Where a tensor for a collective must live: NCCL takes CUDA tensors, gloo CPU ones."""
    return device if dist.get_backend() == "nccl" else torch.device("cpu")


def evaluate_pairs(
    model: PreTrainedModel,
    pairs: EncodedPairs,
    pad_token_id: int,
    *,
    device: torch.device,
    use_margin: bool,
    bf16: bool = False,
    batch_size: int = 64,
) -> dict[str, float]:
    """Held-out pairwise accuracy and mean Bradley-Terry loss, scored under inference mode."""
    scores = score_encodings(
        model,
        pairs.chosen + pairs.rejected,
        pad_token_id,
        device=device,
        batch_size=batch_size,
        bf16=bf16,
    )
    chosen, rejected = scores[: len(pairs)], scores[len(pairs) :]
    loss = bradley_terry_loss(
        torch.tensor(chosen), torch.tensor(rejected), pairs.margins if use_margin else None
    )
    return {"accuracy": pairwise_accuracy(chosen, rejected), "loss": float(loss)}


def train_reward_model(
    config: TrainConfig,
    train_rows: Sequence[Mapping],
    test_rows: Sequence[Mapping],
    output_dir: Path,
    *,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train a reward model on ``train_rows`` and evaluate it on ``test_rows`` after every epoch.

    Rows are mappings with ``prompt``, ``chosen``, ``rejected`` (strings, or lists of
    ``{"role", "content"}`` messages) and an optional ``margin`` (float or None).

    Writes into ``output_dir`` only once training has finished: ``model.safetensors``,
    ``config.json``, the tokenizer files, ``metrics.json`` and ``training_config.json``. Raises
    ``BaseModelNotFound`` before any work when the base model cannot be loaded, ValueError on a
    bad config or no training rows, and ``TrainingCancelled`` as soon as ``should_stop()``
    returns true (asked before every optimizer step and before each evaluation). With the same
    seed, rows and device, two CPU runs give the same losses and accuracies.

    Early stopping (see ``BestEpoch``): the weights saved are those of the epoch with the best
    held-out accuracy, and training stops after ``config.patience`` epochs in a row without a
    better one, so more epochs never save a worse model; ``final_accuracy`` is the saved
    model's and ``best_epoch`` its epoch (``epochs_run`` says how many ran). The learning-rate
    schedule still spans ``config.epochs``. Without test rows nothing is evaluated: every epoch
    runs and the last one's weights are saved. The epoch is chosen on the same held-out pairs
    that report its accuracy, so that figure leans optimistic.

    Under an initialised process group (see the module's note) every rank must call this with
    the same config and rows; only rank 0 asks ``should_stop`` and evaluates, and only rank 0
    writes ``output_dir``. Every rank gets the same training losses (all-reduced); the held-out
    evaluation and the metrics that count are rank 0's.
    """
    config.validate()
    if not train_rows:
        raise ValueError("There are no training pairs.")
    device = resolve_device(config.device)
    use_bf16 = config.bf16 and device.type == "cuda"
    rank, world_size = process_group()
    set_seed(config.seed)  # before loading: the new reward head is drawn from the seed
    model, tokenizer = load_reward_model(config.base_model, device=device, pooling=config.pooling)
    # What is saved (training_config.json) is what the model read, so scoring reads the same.
    config = replace(config, max_length=fitted_max_length(model, tokenizer, config.max_length))
    disable_dropout(model)
    # DDP all-reduces the gradients in backward; the same seed gave every rank the same weights,
    # and DDP broadcasts rank 0's at construction all the same.
    forward = model
    if world_size > 1:
        device_ids = [device] if device.type == "cuda" else None
        # Mean pooling leaves the architecture's own pooler without a gradient.
        unused = config.pooling != "model"
        forward = DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=unused
        )
    pad_id = tokenizer.pad_token_id
    train_pairs = encode_pairs(tokenizer, train_rows, config.max_length)
    test_pairs = encode_pairs(tokenizer, test_rows, config.max_length) if test_rows else None
    lengths = train_pairs.pair_lengths()
    # Tensor cores like widths that are multiples of 8; on CPU every padded token is a cost.
    pad_multiple = 8 if device.type == "cuda" else None

    micro_batches = math.ceil(len(train_pairs) / config.batch_size)
    steps_per_epoch = math.ceil(micro_batches / config.gradient_accumulation)
    total_steps = steps_per_epoch * config.epochs
    optimizer = _adamw(model, config)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, math.ceil(total_steps * config.warmup_ratio), total_steps
    )
    generator = torch.Generator().manual_seed(config.seed)

    def rank0_says(answer: bool) -> bool:
        """Rank 0's ``answer`` on every rank, so that all ranks stop at the same point."""
        if world_size > 1:
            flag = torch.tensor([int(answer)], device=_collective_device(device))
            dist.broadcast(flag, src=0)
            return bool(flag.item())
        return answer

    def check_stop() -> None:
        if rank0_says(rank == 0 and should_stop is not None and should_stop()):
            raise TrainingCancelled("Training was cancelled.")

    best = BestEpoch(patience=config.patience)

    train_loss: list[dict] = []
    evaluations: list[dict] = []
    train_seconds = eval_seconds = train_cpu_seconds = 0.0
    step = 0
    for epoch in range(1, config.epochs + 1):
        batches = length_bucketed_batches(lengths, config.batch_size, generator)
        model.train()
        started, started_cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(batches), config.gradient_accumulation):
            check_stop()
            group = batches[first : first + config.gradient_accumulation]
            group_pairs = sum(len(indices) for indices in group)
            step_loss = torch.zeros((), device=device)
            for position, indices in enumerate(group):
                share = indices[rank::world_size]  # this rank's stride of the global batch
                # Weighted by pairs, so a short last micro-batch counts per pair, not per batch.
                weight = len(share) / group_pairs
                if not share:  # fewer pairs than ranks: a zero-weighted pass keeps DDP in step
                    share = indices[:1]
                # Gradients are all-reduced on the group's last micro-batch only.
                last = position == len(group) - 1
                syncing = contextlib.nullcontext() if last or world_size == 1 else forward.no_sync()
                batch = collate_pairs(train_pairs, share, pad_id, pad_multiple).to(device)
                with syncing:
                    with autocast_for(device, use_bf16):
                        rewards = forward(**batch.inputs).logits.squeeze(-1).float()
                    loss = bradley_terry_loss(
                        rewards[: batch.num_pairs],
                        rewards[batch.num_pairs :],
                        batch.margins if config.use_margin else None,
                    )
                    weighted = loss * weight
                    # DDP averages over the ranks; times W, that average is the step's sum.
                    (weighted * world_size if world_size > 1 else weighted).backward()
                step_loss += weighted.detach()
            if world_size > 1:
                dist.all_reduce(step_loss)  # the whole step's loss, the same on every rank
            if config.max_grad_norm:
                nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            loss_value = float(step_loss)
            train_loss.append({"step": step, "loss": loss_value})
            if on_progress is not None:
                on_progress(ProgressEvent(step, total_steps, epoch, loss_value, None))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_seconds += time.perf_counter() - started
        train_cpu_seconds += time.process_time() - started_cpu

        if test_pairs is not None:
            check_stop()
        if test_pairs is not None and rank == 0:
            started = time.perf_counter()
            result = evaluate_pairs(
                model,
                test_pairs,
                pad_id,
                device=device,
                use_margin=config.use_margin,
                bf16=use_bf16,
                batch_size=4 * config.batch_size,
            )
            eval_seconds += time.perf_counter() - started
            evaluation = {"epoch": epoch, **result}
            evaluations.append(evaluation)
            if on_progress is not None:
                on_progress(ProgressEvent(step, total_steps, epoch, None, evaluation))
            best.offer(evaluation, model)
        if test_pairs is not None and rank0_says(best.exhausted()):
            break

    if world_size > 1:  # the CPU the whole run used: every rank's, summed
        cpu_seconds = torch.tensor(
            [train_cpu_seconds], dtype=torch.float64, device=_collective_device(device)
        )
        dist.all_reduce(cpu_seconds)
        train_cpu_seconds = cpu_seconds.item()
    epochs_run = epoch
    best.restore(model)
    metrics = {
        "train_loss": train_loss,
        "eval": evaluations,
        # The saved model's: the best epoch's (the last one's when nothing was evaluated).
        "final_accuracy": best.evaluation["accuracy"] if best.evaluation else None,
        "best_epoch": best.evaluation["epoch"] if best.evaluation else epochs_run,
        "epochs_run": epochs_run,
        "stopped_early": epochs_run < config.epochs,
        "pairs_per_second": len(train_pairs) * epochs_run / train_seconds,
        "train_seconds": train_seconds,
        # CPU time of this process over the same loops (of all ranks, summed, under DDP): less
        # swayed by other work on the machine.
        "train_cpu_seconds": train_cpu_seconds,
        "eval_seconds": eval_seconds,
        "train_pairs": len(train_pairs),
        "test_pairs": len(test_pairs) if test_pairs is not None else 0,
        "total_steps": total_steps,
        "device": str(device),
        "world_size": world_size,
        "bf16_autocast": use_bf16,
        "library_versions": library_versions(),
    }
    if rank == 0:
        save_trained_model(model, tokenizer, config, metrics, Path(output_dir))
    return TrainResult(metrics=metrics, output_dir=Path(output_dir))


def save_trained_model(model, tokenizer, config: TrainConfig, metrics: dict, output_dir: Path):
    """Write the model (safetensors), tokenizer, metrics and config into ``output_dir``."""
    output_dir.mkdir(parents=True, exist_ok=True)
    with quiet_transformers():
        model.save_pretrained(output_dir)
        tokenizer.save_pretrained(output_dir)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (output_dir / "training_config.json").write_text(json.dumps(config.to_dict(), indent=2))
