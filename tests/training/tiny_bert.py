"""A tiny BERT (random weights, two layers of width 32) and a word-level tokenizer with BERT's
special tokens, saved like any checkpoint: a base model that trains in a second on the CPU."""

import re

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from tests.training.trainer_fixtures import FACTS

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]


def save_tiny_bert(directory) -> str:
    """Save the tiny BERT and its tokenizer into ``directory``; its path."""
    words = {w for q, a in FACTS for w in re.findall(r"\w+|[^\w\s]", f"{q} {a} user assistant")}
    vocab = {token: i for i, token in enumerate([*SPECIAL, *sorted(words)])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
    )
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=128, pad_token_id=vocab["[PAD]"],
    )  # fmt: skip
    torch.manual_seed(0)  # the same random weights every time
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
