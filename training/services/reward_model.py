"""The reward model itself: loading a base model, turning (prompt, response) into tokens, scoring.

Training and scoring share ``encode_responses`` so that a trained model is always asked the same
way it was taught. The text forms:

- plain text: one sequence, the prompt followed by the response (with a line break between
  them unless the prompt ends with white space), as TRL's RewardTrainer reads a preference row;
  the tokenizer adds its special tokens (``[CLS] ... [SEP]`` for BERT-style models), and a
  decoder-style tokenizer, which has no separator, gets its EOS token appended, as TRL does, so
  that the last token closes the response;
- conversational (lists of ``{"role", "content"}``): the tokenizer's chat template over the whole
  conversation when it has one, otherwise ``role: content`` lines, one per message.

One sequence rather than a BERT text pair: the packaged MiniLM was tuned on single sequences,
and it keeps the comparison with TRL like for like.

Sequences longer than ``max_length`` are cut from the left (the oldest prompt turns go first), as
the end of the conversation is what the reward judges.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as hf_logging

from training.services.pooling import saved_pooling, with_pooling

Text = str | list[dict]
# The token ids of one (prompt, response) sequence, without padding.
Encoding = torch.Tensor


class BaseModelNotFound(ValueError):
    """The base model path or name cannot be loaded (the message names it)."""


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide the expected 'newly initialized: classifier.*' report and the per-file progress bars
    while loading or saving (they fill worker logs); real errors still raise."""
    loggers = [logging.getLogger(name) for name in ("transformers", "transformers.modeling_utils")]
    levels = [logger.level for logger in loggers]
    bars_were_enabled = hf_logging.is_progress_bar_enabled()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars_were_enabled:
            hf_logging.enable_progress_bar()


def load_reward_model(
    name_or_path: str, *, device: torch.device | None = None, pooling: str | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a sequence-classification model with one output, and its fast tokenizer, from a local
    directory or the local Hugging Face cache (never the network), read the ``pooling`` way
    (see ``training.services.pooling``; None: the way a trained directory records, else the
    model's own head).

    A model without a pad token gets one (its EOS, else UNK, else a new ``[PAD]`` with resized
    embeddings) and ``config.pad_token_id`` is set, which decoder models need to find the last
    real token. Raises :class:`BaseModelNotFound` when nothing loadable is there.
    """
    looks_like_path = name_or_path.startswith(("/", ".", "~")) or Path(name_or_path).exists()
    if looks_like_path and not Path(name_or_path).expanduser().is_dir():
        raise BaseModelNotFound(f"Base model {name_or_path!r} does not exist: no such directory.")
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(name_or_path, local_files_only=True)
            model = AutoModelForSequenceClassification.from_pretrained(
                name_or_path, num_labels=1, local_files_only=True, dtype=torch.float32
            )
    except OSError as error:
        if looks_like_path:
            raise BaseModelNotFound(
                f"Base model {name_or_path!r} cannot be loaded as a reward model: {error}"
            ) from error
        raise BaseModelNotFound(
            f"Base model {name_or_path!r} is neither a local directory nor a model in the local "
            "Hugging Face cache (nothing is downloaded)."
        ) from error
    except (ValueError, KeyError) as error:
        raise BaseModelNotFound(
            f"Base model {name_or_path!r} cannot be loaded as a reward model: {error}"
        ) from error
    if not tokenizer.is_fast:
        raise BaseModelNotFound(f"Base model {name_or_path!r} has no fast tokenizer.")
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is not None:
            tokenizer.pad_token = tokenizer.eos_token
        elif tokenizer.unk_token is not None:
            tokenizer.pad_token = tokenizer.unk_token
        else:
            tokenizer.add_special_tokens({"pad_token": "[PAD]"})
            model.resize_token_embeddings(len(tokenizer), mean_resizing=False)
    model.config.pad_token_id = tokenizer.pad_token_id
    # Keep the end of a long conversation: it holds the response being judged.
    tokenizer.truncation_side = "left"
    tokenizer.padding_side = "right"
    model = with_pooling(model, pooling or saved_pooling(name_or_path), name_or_path)
    if device is not None:
        model.to(device)
    return model, tokenizer


# Models whose learned position ids start after the padding index (``padding_idx + 1``), so
# ``max_position_embeddings`` (514) holds two fewer usable positions than it says.
OFFSET_POSITIONS = frozenset(
    {"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer", "data2vec-text"}
)


def fitted_max_length(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, asked: int
) -> int:
    """``asked``, or less when the model cannot read that many tokens: the smaller of the
    tokenizer's ``model_max_length`` (when it states one) and the model's usable absolute
    positions. A ``max_length`` beyond them would index past the position table (an encoder
    built for 128 positions, or a tokenizer that claims more than its model has). A model with
    relative positions and no stated limit (DeBERTa v2/v3) is cut to its configured
    ``max_position_embeddings`` all the same: a limit, never an error."""
    limits = []
    stated = tokenizer.model_max_length
    if isinstance(stated, int) and 0 < stated <= 1_000_000:  # "none stated" is a huge number
        limits.append(stated)
    positions = getattr(model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        if model.config.model_type in OFFSET_POSITIONS:
            positions -= (model.config.pad_token_id or 0) + 1
        limits.append(positions)
    return min([asked, *limits])


def disable_dropout(model: nn.Module) -> None:
    """Turn dropout off: a reward compares two forward passes, and dropout noise in either one
    blurs the difference it learns from (TRL's RewardTrainer does the same by default)."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def _as_messages(value: Text | None, role: str) -> list[dict]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in value]


def _message_lines(messages: list[dict]) -> str:
    return "\n".join(f"{message['role']}: {message['content']}" for message in messages)


def _render(
    tokenizer: PreTrainedTokenizerBase, prompt: Text | None, response: Text
) -> tuple[str, bool]:
    """The text of one (prompt, response), and whether the tokenizer is to add its special
    tokens (a chat template writes its own)."""
    if isinstance(prompt, list) or isinstance(response, list):
        messages_prompt = _as_messages(prompt, "user")
        messages_response = _as_messages(response, "assistant")
        if tokenizer.chat_template:
            text = tokenizer.apply_chat_template(
                messages_prompt + messages_response, tokenize=False
            )
            return text, False
        prompt_text = _message_lines(messages_prompt)
        response_text = _message_lines(messages_response)
    else:
        prompt_text, response_text = prompt or "", response
    if prompt_text and not prompt_text[-1].isspace():
        prompt_text += "\n"  # a word boundary, where the prompt does not end with one
    text = prompt_text + response_text
    eos = tokenizer.eos_token
    if tokenizer.sep_token is None and eos is not None and not text.endswith(eos):
        text += eos
    return text, True


def encode_responses(
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Text | None],
    responses: Sequence[Text],
    max_length: int,
) -> list[Encoding]:
    """Tokenize every (prompt, response) once, in batched calls of the fast tokenizer, cut to
    ``max_length`` tokens and not padded (batches pad themselves to their longest)."""
    rendered = [_render(tokenizer, p, r) for p, r in zip(prompts, responses, strict=True)]
    encodings: list[Encoding] = [torch.empty(0, dtype=torch.long)] * len(rendered)
    for special_tokens in (True, False):
        group = [
            (i, text) for i, (text, special) in enumerate(rendered) if special is special_tokens
        ]
        if not group:
            continue
        ids = tokenizer(
            [text for _, text in group],
            add_special_tokens=special_tokens,
            truncation=True,
            max_length=max_length,
        )["input_ids"]
        for (i, _), row in zip(group, ids, strict=True):
            encodings[i] = torch.tensor(row, dtype=torch.long)
    return encodings


def pad_encodings(
    encodings: Sequence[Encoding], pad_token_id: int, pad_to_multiple_of: int | None = None
) -> dict[str, torch.Tensor]:
    """Right-pad sequences to the longest among them (rounded up to ``pad_to_multiple_of``),
    with the attention mask that marks the real tokens."""
    input_ids = pad_sequence(list(encodings), batch_first=True, padding_value=pad_token_id)
    if pad_to_multiple_of and input_ids.shape[1] % pad_to_multiple_of:
        extra = pad_to_multiple_of - input_ids.shape[1] % pad_to_multiple_of
        input_ids = nn.functional.pad(input_ids, (0, extra), value=pad_token_id)
    lengths = torch.tensor([len(encoding) for encoding in encodings])
    attention_mask = (torch.arange(input_ids.shape[1]) < lengths[:, None]).long()
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def autocast_for(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA when asked; full precision elsewhere (CPU bf16 is slower here and
    changes results)."""
    if bf16 and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.inference_mode()
def score_encodings(
    model: PreTrainedModel,
    encodings: Sequence[Encoding],
    pad_token_id: int,
    *,
    device: torch.device,
    batch_size: int = 64,
    bf16: bool = False,
) -> list[float]:
    """The reward of every sequence, in order. Sequences are batched by length so that padding
    stays small; the model is put in eval mode."""
    model.eval()
    order = sorted(range(len(encodings)), key=lambda i: len(encodings[i]))
    scores = [0.0] * len(encodings)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = pad_encodings([encodings[i] for i in chunk], pad_token_id)
        batch = {key: value.to(device, non_blocking=True) for key, value in batch.items()}
        with autocast_for(device, bf16):
            logits = model(**batch).logits
        for i, value in zip(chunk, logits.float().squeeze(-1).tolist(), strict=True):
            scores[i] = value
    return scores


def resolve_device(device: str | None) -> torch.device:
    """The device asked for, or CUDA when there is one, else the CPU. Raises ValueError for a
    device this machine does not have (rather than failing later inside torch)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r} is not a torch device name") from error
    available = {
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }.get(resolved.type, True)
    if not available:
        raise ValueError(f"device {device!r} was asked for, but this machine has none")
    return resolved


class RewardScorer:
    """A trained reward model loaded back from its output directory."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        max_length: int,
        device: torch.device,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.device = device

    @classmethod
    def load(cls, path: Path, device: str | None = None) -> RewardScorer:
        """Load the model and tokenizer written by the trainer into ``path``; the maximum length
        comes from its ``training_config.json`` (else what the model can read,
        :func:`fitted_max_length`). Raises BaseModelNotFound if unreadable."""
        torch_device = resolve_device(device)
        model, tokenizer = load_reward_model(str(path), device=torch_device)
        model.eval()
        max_length = fitted_max_length(model, tokenizer, 1_000_000)
        config_file = Path(path) / "training_config.json"
        if config_file.is_file():
            max_length = int(json.loads(config_file.read_text())["max_length"])
        return cls(model, tokenizer, max_length=max_length, device=torch_device)

    def score(self, prompt: Text, responses: Sequence[Text]) -> list[float]:
        """One reward per response to ``prompt``, in the order given; higher is better."""
        return self.score_pairs([prompt] * len(responses), responses)

    def score_pairs(
        self, prompts: Sequence[Text | None], responses: Sequence[Text], *, batch_size: int = 64
    ) -> list[float]:
        """One reward per (prompt, response) pair, in the order given: every pair tokenized as
        the trainer does (:func:`encode_responses`, batched calls of the fast tokenizer), then
        scored in one pass of length-sorted batches of ``batch_size`` on the model's device
        (:func:`score_encodings`), so many short pairs never pad to one long one."""
        if not responses:
            return []
        encodings = encode_responses(self.tokenizer, prompts, responses, self.max_length)
        return score_encodings(
            self.model,
            encodings,
            self.tokenizer.pad_token_id,
            device=self.device,
            batch_size=batch_size,
        )
