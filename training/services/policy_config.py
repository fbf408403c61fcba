"""A DPO policy run's hyper-parameters, without torch (the web process validates them on every
``POST /api/v1/training-runs``; see :mod:`training.services.train_config` for why torch stays out).

The defaults are TRL's DPO defaults where TRL has one (beta 0.1, the sigmoid loss, max length
1024) and the usual LoRA settings (r 16, alpha 32, dropout 0.05); the learning rate is 5e-6, a
common full fine-tuning rate for DPO (TRL's own default, 1e-6, barely moves a small model in one
epoch). No base model is a default: no causal LM ships with Concord, so a run names one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# The DPO losses a run may use (TRL's ``loss_type`` names): the classic sigmoid loss, IPO,
# hinge (SLiC), the length-normalised sigmoid and the anchored APO losses. TRL's others need
# parameters Concord does not expose (label smoothing) or running statistics (BCO).
LOSS_TYPES = ("sigmoid", "ipo", "hinge", "sigmoid_norm", "apo_zero", "apo_down")


@dataclass
class PolicyConfig:
    """Hyper-parameters of one DPO run; saved as ``policy_config.json`` with the model."""

    base_model: str = ""  # a local model directory (the run resolves references to one)
    epochs: int = 1
    batch_size: int = 8  # preference pairs per optimizer micro-batch
    gradient_accumulation: int = 1
    learning_rate: float = 5e-6
    beta: float = 0.1  # how far the policy may move from the reference (higher: less)
    loss_type: str = "sigmoid"
    max_length: int = 1024  # tokens of prompt + response; longer ones lose their end
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    seed: int = 0
    lora: bool = False  # train a LoRA adapter (peft) on every linear layer instead of all weights
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    merge_adapter: bool = False  # with lora: save the merged whole model instead of the adapter
    bf16: bool = True  # mixed precision in bf16; applies on CUDA only
    gradient_checkpointing: bool = False  # less memory for a large model, about a third slower
    device: str | None = None  # None: cuda if available, else cpu
    max_grad_norm: float = 1.0

    def to_dict(self) -> dict:
        return asdict(self)


class PolicyRunUnusable(ValueError):
    """A dpo run cannot train this base model on this dataset (a conversational dataset and a
    tokenizer without a chat template, a tokenizer with no end-of-sequence token...); the
    message says why, for the user, and the run fails with it."""
