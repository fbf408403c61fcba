"""The held-out evaluation of a DPO run (no Django here): per pair, a policy's log-probability
of the chosen and of the rejected response, each summed over the response's tokens, after TRL's
own tokenisation, collation and truncation of the pairs; and the report of an epoch from them
(``margin``, ``accuracy``, ``loss``: see :mod:`training.services.policy_trainer`)."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PreTrainedModel

from training.services.reward_model import autocast_for


@torch.inference_mode()
def response_log_probs(
    model: PreTrainedModel, trainer: Any, *, device: torch.device, bf16: bool, batch_size: int
) -> tuple[list[float], list[float]]:
    """Per held-out pair, the model's log-probability of the chosen and of the rejected
    response, summed over the response tokens (TRL's tokenisation, collation and truncation)."""
    dataset, collate = trainer.eval_dataset, trainer.data_collator
    was_training = model.training
    model.eval()
    chosen: list[float] = []
    rejected: list[float] = []
    try:
        for start in range(0, len(dataset), batch_size):
            batch = collate(
                [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            )
            input_ids = batch["input_ids"].to(device)
            with autocast_for(device, bf16):
                logits = model(
                    input_ids=input_ids,
                    attention_mask=batch["attention_mask"].to(device),
                    use_cache=False,
                ).logits
            log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
            token_log_probs = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
            mask = batch["completion_mask"][:, 1:].to(device)
            sums = (token_log_probs * mask).sum(dim=-1).cpu()
            pair_chosen, pair_rejected = sums.chunk(2)
            chosen += pair_chosen.tolist()
            rejected += pair_rejected.tolist()
    finally:
        model.train(was_training)
    return chosen, rejected


def margin_report(
    chosen: list[float], rejected: list[float], reference: list[float] | None, beta: float
) -> dict[str, float]:
    """``margin``, ``accuracy`` and ``loss`` (module note) of held-out log-probabilities;
    ``reference`` is the base model's margins (None: the base model itself)."""
    margins = [c - r for c, r in zip(chosen, rejected, strict=True)]
    baseline = reference if reference is not None else margins
    differences = torch.tensor(margins) - torch.tensor(baseline)
    loss = float(-torch.nn.functional.logsigmoid(beta * differences).mean())
    return {
        "margin": sum(margins) / len(margins),
        "accuracy": sum(1 for m in margins if m > 0) / len(margins),
        "loss": loss,
        "pairs": len(margins),
    }
