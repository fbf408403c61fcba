"""Early stopping on held-out accuracy: keep the best epoch's weights, stop when they stop
improving. The trainer offers every evaluated epoch; the saved model is the best one offered,
so a run with more epochs never saves a worse model than its own earlier epochs."""

from __future__ import annotations

import torch
from torch import nn


class BestEpoch:
    """The best evaluated epoch so far and a CPU copy of its weights; early stopping's state.

    Better means a strictly higher held-out accuracy: a tie keeps the earlier epoch (fewer
    updates, and no reset of the patience for a change of the loss in its fifth decimal).
    ``exhausted`` turns true after ``patience`` evaluated epochs in a row without a better one.
    Lives on rank 0 only (the other ranks never evaluate, so never offer, and are told rank 0's
    decision).
    """

    def __init__(self, patience: int) -> None:
        self.patience = patience
        self.evaluation: dict | None = None
        self.state: dict[str, torch.Tensor] | None = None
        self.epochs_without_gain = 0

    def offer(self, evaluation: dict, model: nn.Module) -> bool:
        """Keep ``model``'s weights if ``evaluation`` beats the best so far; True if it did."""
        current = self.evaluation
        better = current is None or evaluation["accuracy"] > current["accuracy"]
        if better:
            self.evaluation = evaluation
            self.state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
            self.epochs_without_gain = 0
        else:
            self.epochs_without_gain += 1
        return better

    def exhausted(self) -> bool:
        return self.epochs_without_gain >= self.patience

    def restore(self, model: nn.Module) -> None:
        """Put the best epoch's weights back into ``model`` (nothing when none was kept)."""
        if self.state is not None:
            model.load_state_dict(self.state)
