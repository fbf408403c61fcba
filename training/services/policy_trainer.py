"""Fine-tuning a policy with DPO: a thin wrapper of TRL's ``DPOTrainer`` (no Django here).

TRL does the work: tokenising the rows (a conversational row through the tokenizer's chat
template), the reference model, the loss (``loss_type``, ``beta``), the optimizer and schedule,
bf16 mixed precision on CUDA, and LoRA through peft's ``LoraConfig`` (an adapter on every
linear layer; the reference is then the base with the adapter switched off). Concord adds what
a run needs around it, through one ``TrainerCallback``: progress events for the run row, the
cancel check, and a held-out evaluation after every epoch (and of the base model before the
first step):

- ``margin``: the mean over held-out pairs of the policy's log-probability of the chosen
  response minus the rejected one's, each summed over the response's tokens (the tokens TRL
  trains on, after the same tokenisation and truncation);
- ``accuracy``: the share of held-out pairs whose margin is above 0;
- ``loss``: the sigmoid DPO loss of the held-out pairs against the base model (the reference),
  whatever ``loss_type`` trains, so epochs compare on one scale.

One process: a dpo run does not use ``CONCORD_TRAINING_PROCESSES`` (no torchrun); a large
model trains with LoRA and, if need be, ``gradient_checkpointing`` on one GPU.
"""

from __future__ import annotations

import copy
import json
import math
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PreTrainedModel,
    PrinterCallback,
    TrainerCallback,
    set_seed,
)

from training.services.policy_config import PolicyConfig, PolicyRunUnusable
from training.services.policy_margins import margin_report, response_log_probs
from training.services.reward_model import BaseModelNotFound, quiet_transformers, resolve_device
from training.services.trainer import (
    ProgressEvent,
    TrainingCancelled,
    TrainResult,
    library_versions,
)

ROW_COLUMNS = ("prompt", "chosen", "rejected")


def policy_library_versions() -> dict[str, str]:
    versions = library_versions()
    for package in ("trl", "peft", "accelerate", "datasets"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            continue
    return versions


def load_policy_tokenizer(base_model: str, *, conversational: bool):
    """The base model's tokenizer, ready for DPO: an EOS token (its SEP when it has none) and
    a pad token (its EOS when it has none). Raises :class:`PolicyRunUnusable` when it has
    neither EOS nor SEP, or when the dataset is ``conversational`` and it has no chat
    template; :class:`BaseModelNotFound` when there is no tokenizer to load."""
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise BaseModelNotFound(f"The base model's tokenizer cannot be loaded: {error}") from error
    if tokenizer.eos_token is None:
        if tokenizer.sep_token is None:
            raise PolicyRunUnusable(
                "The base model's tokenizer has no end-of-sequence token (nor a separator "
                "token), so a response cannot be ended; use a model whose tokenizer has one."
            )
        tokenizer.eos_token = tokenizer.sep_token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if conversational and not tokenizer.chat_template:
        raise PolicyRunUnusable(
            "The dataset is conversational (chat messages) but the base model's tokenizer has "
            "no chat template; export the dataset in the standard form, or use a chat model."
        )
    return tokenizer


def load_causal_lm(base_model: str) -> PreTrainedModel:
    """The causal LM in ``base_model`` (a local directory), in float32 on the CPU."""
    try:
        with quiet_transformers():
            return AutoModelForCausalLM.from_pretrained(
                base_model, local_files_only=True, dtype=torch.float32
            )
    except (OSError, ValueError, KeyError) as error:
        raise BaseModelNotFound(
            f"The base model cannot be loaded as a causal language model: {error}"
        ) from error


def preference_dataset(rows: Sequence[Mapping]):
    """The rows as a ``datasets.Dataset`` of TRL's preference columns only."""
    from datasets import Dataset

    return Dataset.from_list([{key: row[key] for key in ROW_COLUMNS} for row in rows])


def is_conversational(rows: Sequence[Mapping]) -> bool:
    return bool(rows) and isinstance(rows[0].get("chosen"), list)


def dpo_arguments(config: PolicyConfig, scratch: str, device: torch.device):
    """TRL's ``DPOConfig`` for ``config`` on ``device`` (the bench's plain TRL script uses the
    same); nothing is saved or reported by the trainer itself."""
    from trl import DPOConfig

    return DPOConfig(
        output_dir=scratch,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        lr_scheduler_type="linear",
        weight_decay=config.weight_decay,
        max_grad_norm=config.max_grad_norm,
        beta=config.beta,
        loss_type=[config.loss_type],
        max_length=config.max_length,
        seed=config.seed,
        bf16=config.bf16 and device.type == "cuda",
        use_cpu=device.type == "cpu",
        gradient_checkpointing=config.gradient_checkpointing,
        logging_steps=1,
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
    )


def lora_config(config: PolicyConfig):
    """peft's ``LoraConfig`` for ``config``: an adapter on every linear layer but the head."""
    from peft import LoraConfig

    return LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def set_warmup(trainer: Any, config: PolicyConfig) -> int:
    """Set the trainer's warmup to ``warmup_ratio`` of its optimizer steps (counted on the rows
    TRL kept after tokenising); the number of steps."""
    micro_batches = math.ceil(len(trainer.train_dataset) / config.batch_size)
    total_steps = math.ceil(micro_batches / config.gradient_accumulation) * config.epochs
    trainer.args.warmup_steps = math.ceil(total_steps * config.warmup_ratio)
    return total_steps


class ConcordCallback(TrainerCallback):
    """Feeds a run's progress events and cancel check from TRL's training loop, evaluates the
    held-out pairs after every epoch, and times the loop (evaluations left out)."""

    def __init__(
        self,
        *,
        evaluate: Callable[[], dict[str, float]] | None,
        on_progress: Callable[[ProgressEvent], None] | None,
        should_stop: Callable[[], bool] | None,
        device: torch.device,
    ) -> None:
        self.evaluate, self.on_progress, self.should_stop = evaluate, on_progress, should_stop
        self.device = device
        self.train_loss: list[dict[str, float]] = []
        self.evaluations: list[dict[str, Any]] = []
        self.eval_seconds = self.eval_cpu_seconds = 0.0
        self.train_seconds = self.train_cpu_seconds = 0.0
        self._started = self._started_cpu = 0.0

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise TrainingCancelled("Training was cancelled.")

    def on_train_begin(self, args, state, control, **kwargs):
        self._check_stop()
        self._started, self._started_cpu = self._now(), time.process_time()

    def on_step_end(self, args, state, control, **kwargs):
        self._check_stop()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:
            return
        loss = float(logs["loss"])
        self.train_loss.append({"step": state.global_step, "loss": loss})
        if self.on_progress is not None:
            epoch = max(1, math.ceil(state.epoch or 0))
            self.on_progress(ProgressEvent(state.global_step, state.max_steps, epoch, loss, None))

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.evaluate is None:
            return
        self._check_stop()
        started, started_cpu = self._now(), time.process_time()
        evaluation = {"epoch": round(state.epoch or 0), **self.evaluate()}
        self.eval_seconds += self._now() - started
        self.eval_cpu_seconds += time.process_time() - started_cpu
        self.evaluations.append(evaluation)
        if self.on_progress is not None:
            epoch = evaluation["epoch"]
            self.on_progress(
                ProgressEvent(state.global_step, state.max_steps, epoch, None, evaluation)
            )

    def on_train_end(self, args, state, control, **kwargs):
        self.train_seconds = self._now() - self._started - self.eval_seconds
        self.train_cpu_seconds = time.process_time() - self._started_cpu - self.eval_cpu_seconds


def train_policy(
    config: PolicyConfig,
    train_rows: Sequence[Mapping],
    test_rows: Sequence[Mapping],
    output_dir: Path,
    *,
    model: PreTrainedModel | None = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Fine-tune the causal LM in ``config.base_model`` (a local directory; ``model``, when
    given, is its weights already loaded, e.g. an adapter merged over its base) with DPO on
    ``train_rows`` (``prompt``, ``chosen``, ``rejected``: strings, or chat messages), evaluating
    ``test_rows`` before training and after every epoch (module note).

    Writes into ``output_dir`` only once training has finished: ``model.safetensors`` and
    ``config.json`` (or, with ``lora`` and no ``merge_adapter``, ``adapter_config.json`` and
    ``adapter_model.safetensors``), the tokenizer, ``metrics.json`` and
    ``policy_config.json``. Raises :class:`BaseModelNotFound` or :class:`PolicyRunUnusable`
    before any training, ValueError when there are no training rows, and
    :class:`TrainingCancelled` as soon as ``should_stop()`` returns true (asked before the
    first step, after every step and before each evaluation). With the same seed, rows and
    device, two CPU runs give the same losses."""
    from datasets.utils.logging import disable_progress_bar
    from trl import DPOTrainer

    if not train_rows:
        raise ValueError("There are no training pairs.")
    disable_progress_bar()
    device = resolve_device(config.device)
    use_bf16 = config.bf16 and device.type == "cuda"
    conversational = is_conversational(train_rows)
    tokenizer = load_policy_tokenizer(config.base_model, conversational=conversational)
    set_seed(config.seed)
    if model is None:
        model = load_causal_lm(config.base_model)
    # The reference: the base model as it is now (TRL would reload it from its path, which for
    # a merged policy:<id> would be the wrong weights). With LoRA, the adapter switched off.
    reference = None if config.lora else copy.deepcopy(model).eval()
    with tempfile.TemporaryDirectory(prefix="concord-dpo-") as scratch:
        args = dpo_arguments(config, scratch, device)
        callback = ConcordCallback(
            evaluate=None, on_progress=on_progress, should_stop=should_stop, device=device
        )
        with quiet_transformers():
            trainer = DPOTrainer(
                model=model,
                ref_model=reference,
                args=args,
                train_dataset=preference_dataset(train_rows),
                eval_dataset=preference_dataset(test_rows) if test_rows else None,
                processing_class=tokenizer,
                peft_config=lora_config(config) if config.lora else None,
                callbacks=[callback],
            )
        trainer.remove_callback(PrinterCallback)  # the run row and the worker's log say enough
        # TRL drops a pair whose prompt alone fills max_length (its responses would be cut away
        # whole): say how many, and refuse a run left with nothing to learn from.
        dropped = {
            "train": len(train_rows) - len(trainer.train_dataset),
            "test": len(test_rows) - (len(trainer.eval_dataset) if test_rows else 0),
        }
        if not len(trainer.train_dataset):
            raise PolicyRunUnusable(
                f"Every one of the {len(train_rows)} training pairs has a prompt of at least "
                f"max_length ({config.max_length}) tokens, so no response is left to train on: "
                "raise max_length."
            )
        total_steps = set_warmup(trainer, config)
        base_eval = None
        if test_rows:

            def held_out() -> tuple[list[float], list[float]]:
                return response_log_probs(
                    trainer.model, trainer, device=device, bf16=use_bf16,
                    batch_size=config.batch_size,
                )  # fmt: skip

            trainer.model.to(device)
            base_chosen, base_rejected = held_out()
            base_margins = [c - r for c, r in zip(base_chosen, base_rejected, strict=True)]
            base_eval = margin_report(base_chosen, base_rejected, None, config.beta)
            callback.evaluate = lambda: margin_report(*held_out(), base_margins, config.beta)
        trainer.train()
        trained = trainer.model
    metrics = {
        "train_loss": callback.train_loss,
        "eval": callback.evaluations,
        "base_eval": base_eval,
        "final_eval": callback.evaluations[-1] if callback.evaluations else None,
        "final_margin": callback.evaluations[-1]["margin"] if callback.evaluations else None,
        "final_accuracy": callback.evaluations[-1]["accuracy"] if callback.evaluations else None,
        "train_pairs": len(trainer.train_dataset),
        "test_pairs": len(test_rows) - dropped["test"],
        # Pairs TRL left out because their prompt alone reached max_length.
        "pairs_dropped_too_long": dropped,
        "total_steps": total_steps,
        "epochs_run": config.epochs,
        "pairs_per_s": len(trainer.train_dataset) * config.epochs / callback.train_seconds,
        "train_seconds": callback.train_seconds,
        # CPU time of this process over the same span: less swayed by other work on the machine.
        "train_cpu_seconds": callback.train_cpu_seconds,
        "eval_seconds": callback.eval_seconds,
        "device": str(device),
        "world_size": 1,
        "bf16_autocast": use_bf16,
        "adapter": config.lora and not config.merge_adapter,
        "library_versions": policy_library_versions(),
    }
    save_policy(trained, tokenizer, config, metrics, Path(output_dir))
    return TrainResult(metrics=metrics, output_dir=Path(output_dir))


def save_policy(model, tokenizer, config: PolicyConfig, metrics: dict, output_dir: Path) -> None:
    """Write the policy into ``output_dir`` in safetensors: the whole model, or with LoRA the
    adapter (merged into the whole model with ``merge_adapter``); the tokenizer, metrics and
    config beside it."""
    output_dir.mkdir(parents=True, exist_ok=True)
    if config.lora and config.merge_adapter:
        model = model.merge_and_unload()
    with quiet_transformers():
        model.save_pretrained(output_dir, safe_serialization=True)
        tokenizer.save_pretrained(output_dir)
    (output_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (output_dir / "policy_config.json").write_text(json.dumps(config.to_dict(), indent=2))
