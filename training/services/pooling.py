"""How a reward model turns a sequence's hidden states into one number: its ``pooling``.

- ``"model"``: the architecture's own sequence-classification head (for BERT, the pooler's
  ``[CLS]`` vector through a new linear layer; for decoders, the last real token's state).
- ``"mean"``: the masked mean of the encoder's last hidden states, then a new linear layer. The
  packaged MiniLM is a sentence-transformers model trained to be read this way (its
  ``1_Pooling`` folder says mean pooling); its ``[CLS]`` pooler was never tuned, so mean pooling
  starts from a representation the model actually learned.

A mean-pooled model is saved as its encoder (``config.json`` and ``model.safetensors``, loadable
as any base model) plus ``reward_head.safetensors`` (the linear layer); ``training_config.json``
records ``pooling`` so that :func:`training.services.reward_model.load_reward_model` rebuilds
the same model. Both kinds answer ``model(input_ids=..., attention_mask=...).logits`` with shape
``(batch, 1)``, so training and ``score_encodings`` treat them alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel

from training.services.train_config import POOLINGS

HEAD_FILE = "reward_head.safetensors"


@dataclass
class RewardOutput:
    """What a reward model's forward pass returns: one logit per sequence, shape ``(B, 1)``."""

    logits: torch.Tensor


class MeanPooledReward(nn.Module):
    """An encoder whose last hidden states are mean-pooled over the real tokens, then scored by
    one linear layer."""

    def __init__(self, encoder: PreTrainedModel, head: nn.Linear | None = None) -> None:
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        hidden = encoder.config.hidden_size
        if head is None:
            head = nn.Linear(hidden, 1)
            std = getattr(encoder.config, "initializer_range", 0.02)
            nn.init.normal_(head.weight, std=std)
            nn.init.zeros_(head.bias)
        self.head = head.to(next(encoder.parameters()).device)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> RewardOutput:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return RewardOutput(logits=self.head(pooled))

    def save_pretrained(self, output_dir: Path | str) -> None:
        """The encoder as a base model, and the head beside it."""
        self.encoder.save_pretrained(output_dir)
        state = self.head.state_dict()
        head = {key: value.detach().cpu().contiguous() for key, value in state.items()}
        save_file(head, str(Path(output_dir) / HEAD_FILE))


def with_pooling(model: PreTrainedModel, pooling: str, path: str | None = None) -> nn.Module:
    """``model`` (a sequence-classification model just loaded) read the ``pooling`` way. For
    ``"mean"``, the head is read from ``path``'s ``reward_head.safetensors`` when there is one
    of the encoder's width (a trained model), else drawn new (a base model; from the seed set
    before loading)."""
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
    if pooling == "model":
        return model
    head = None
    head_file = Path(path) / HEAD_FILE if path else None
    if head_file is not None and head_file.is_file():
        state = load_file(str(head_file))
        # A head of another width was left by another model: it is not this encoder's.
        if state["weight"].shape == (1, model.config.hidden_size):
            head = nn.Linear(model.config.hidden_size, 1)
            head.load_state_dict(state)
    return MeanPooledReward(model.base_model, head)


def saved_pooling(path: str | Path) -> str:
    """The pooling a trained model directory was trained with (``"model"`` when it has no
    ``training_config.json`` or the file predates pooling)."""
    config_file = Path(path) / "training_config.json"
    if not config_file.is_file():
        return "model"
    return str(json.loads(config_file.read_text()).get("pooling", "model"))
