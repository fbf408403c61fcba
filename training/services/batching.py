"""Preference pairs as model inputs: tokenised once, grouped by length, one forward pass a batch.

Why this shape: a transformer's cost grows with the padded length of the batch, so a batch of
short pairs must not be padded to the longest pair of the dataset (or to ``max_length``).
Pairs are shuffled, cut into *mega-batches*, sorted by length inside each, then sliced into
batches whose order is shuffled again: batches hold pairs of similar length while the epoch
stays random (and reproducible: everything is drawn from the seed). A batch stacks the chosen
sequences and then the rejected ones into one tensor, so the model runs once per batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from training.services.reward_model import Encoding, encode_responses, pad_encodings

# Pairs per mega-batch, in batches: large enough that sorting finds neighbours of similar
# length, small enough that the order of the epoch stays well mixed.
MEGABATCH_BATCHES = 50


@dataclass
class EncodedPairs:
    """Tokenised preference pairs; ``margins`` are zeros where a row has none."""

    chosen: list[Encoding]
    rejected: list[Encoding]
    margins: torch.Tensor

    def __len__(self) -> int:
        return len(self.chosen)

    def pair_lengths(self) -> list[int]:
        """The longer side of each pair: the length the pair needs in a batch."""
        return [max(len(c), len(r)) for c, r in zip(self.chosen, self.rejected, strict=True)]


@dataclass
class PairBatch:
    """Model inputs for ``num_pairs`` pairs: rows ``[0, num_pairs)`` are the chosen responses,
    rows ``[num_pairs, 2 * num_pairs)`` the rejected ones, in the same order."""

    inputs: dict[str, torch.Tensor]
    margins: torch.Tensor
    num_pairs: int

    def to(self, device: torch.device) -> PairBatch:
        non_blocking = device.type == "cuda"
        return PairBatch(
            inputs={k: v.to(device, non_blocking=non_blocking) for k, v in self.inputs.items()},
            margins=self.margins.to(device, non_blocking=non_blocking),
            num_pairs=self.num_pairs,
        )


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase, rows: Sequence[Mapping], max_length: int
) -> EncodedPairs:
    """Tokenise every row's chosen and rejected response with its prompt, once."""
    prompts = [row.get("prompt") for row in rows]
    chosen = encode_responses(tokenizer, prompts, [row["chosen"] for row in rows], max_length)
    rejected = encode_responses(tokenizer, prompts, [row["rejected"] for row in rows], max_length)
    margins = torch.tensor([float(row.get("margin") or 0.0) for row in rows], dtype=torch.float32)
    return EncodedPairs(chosen=chosen, rejected=rejected, margins=margins)


def length_bucketed_batches(
    lengths: Sequence[int],
    batch_size: int,
    generator: torch.Generator,
    megabatch_batches: int = MEGABATCH_BATCHES,
) -> list[list[int]]:
    """Every index once, in batches of at most ``batch_size`` indices of similar length, in an
    order drawn from ``generator`` (the same generator state gives the same batches)."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    megabatch = batch_size * megabatch_batches
    batches: list[list[int]] = []
    for start in range(0, len(order), megabatch):
        block = sorted(order[start : start + megabatch], key=lambda i: lengths[i], reverse=True)
        batches.extend(block[i : i + batch_size] for i in range(0, len(block), batch_size))
    shuffled = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in shuffled]


def collate_pairs(
    pairs: EncodedPairs,
    indices: Sequence[int],
    pad_token_id: int,
    pad_to_multiple_of: int | None = None,
) -> PairBatch:
    """One batch of pairs, chosen then rejected, padded to the longest sequence among them."""
    sequences = [pairs.chosen[i] for i in indices] + [pairs.rejected[i] for i in indices]
    return PairBatch(
        inputs=pad_encodings(sequences, pad_token_id, pad_to_multiple_of),
        margins=pairs.margins[list(indices)],
        num_pairs=len(indices),
    )
