"""Small preference data for trainer tests: a factual answer against the same words scrambled.

The preference is easy on purpose (a fluent sentence against word salad), so a few dozen pairs
and one short epoch teach it, and held-out *questions* show that the model learned the
preference rather than the items.
"""

import random
import re

from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

FACTS = [
    ("What is the capital of France?", "The capital of France is Paris."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What do bees make?", "Bees make honey from the nectar of flowers."),
    ("What is the boiling point of water?", "Water boils at one hundred degrees Celsius."),
    ("Which planet is closest to the sun?", "Mercury is the planet closest to the sun."),
    ("What gas do plants take in?", "Plants take in carbon dioxide from the air."),
    ("How many days are in a week?", "There are seven days in a week."),
    ("What is the largest ocean?", "The Pacific is the largest ocean on Earth."),
    ("Who wrote Hamlet?", "Hamlet was written by William Shakespeare."),
    ("What is frozen water called?", "Frozen water is called ice."),
    ("What colour is the sky on a clear day?", "On a clear day the sky is blue."),
    ("How many continents are there?", "There are seven continents on Earth."),
    ("What do cows drink?", "Cows drink water, like most animals."),
    ("What is the opposite of hot?", "The opposite of hot is cold."),
    ("Where does the sun rise?", "The sun rises in the east every morning."),
    ("What is two plus two?", "Two plus two equals four."),
    ("What do we breathe to live?", "We breathe oxygen to stay alive."),
    ("What is the tallest animal?", "The giraffe is the tallest animal alive."),
    ("How many hours are in a day?", "A day has twenty four hours."),
    ("What is the main language of Brazil?", "The main language of Brazil is Portuguese."),
    ("What do fish use to breathe?", "Fish breathe through their gills."),
    ("Which season comes after winter?", "Spring comes after winter."),
    ("What is the currency of Japan?", "The currency of Japan is the yen."),
    ("What is the chemical symbol for gold?", "The chemical symbol for gold is Au."),
    ("How many sides does a triangle have?", "A triangle has three sides."),
    ("What does a thermometer measure?", "A thermometer measures temperature."),
    ("What is the largest planet?", "Jupiter is the largest planet in the solar system."),
    ("Which organ pumps blood?", "The heart pumps blood around the body."),
    ("What do caterpillars turn into?", "Caterpillars turn into butterflies or moths."),
    ("What is the capital of Italy?", "The capital of Italy is Rome."),
    ("How many minutes are in an hour?", "An hour has sixty minutes."),
    ("What falls from clouds when it rains?", "Drops of water fall from clouds when it rains."),
    (
        "Which animal is known as the king of the jungle?",
        "The lion is called the king of the jungle.",
    ),
    ("What is the freezing point of water?", "Water freezes at zero degrees Celsius."),
    ("What do pandas mostly eat?", "Pandas mostly eat bamboo."),
    ("Which instrument has black and white keys?", "A piano has black and white keys."),
    ("What is the longest river in Africa?", "The Nile is the longest river in Africa."),
    ("How many wheels does a bicycle have?", "A bicycle has two wheels."),
    ("What is the hardest natural material?", "Diamond is the hardest natural material."),
    ("What do you call a baby dog?", "A baby dog is called a puppy."),
]


def scrambled(sentence: str, rng: random.Random) -> str:
    """The same words in a shuffled order, never the original order."""
    words = sentence.split()
    while True:
        shuffled = words[:]
        rng.shuffle(shuffled)
        if shuffled != words:
            return " ".join(shuffled)


def factual_pairs(
    facts: list[tuple[str, str]], per_fact: int = 2, seed: int = 0, margin: float | None = None
) -> list[dict]:
    """``per_fact`` pairs per fact: the answer chosen, a scrambled copy rejected."""
    rng = random.Random(seed)
    return [
        {"prompt": question, "chosen": answer, "rejected": scrambled(answer, rng), "margin": margin}
        for question, answer in facts
        for _ in range(per_fact)
    ]


def conversational(rows: list[dict]) -> list[dict]:
    """The same pairs in TRL's conversational form: lists of role/content messages."""
    return [
        {
            "prompt": [{"role": "user", "content": row["prompt"]}],
            "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}],
        }
        for row in rows
    ]


TRAIN_FACTS = FACTS[:20]
HELD_OUT_FACTS = FACTS[20:]


def save_tiny_decoder(directory, *, eos: bool = True, chat_template: str | None = None) -> str:
    """A tiny decoder (GPT-2 shaped, random weights) and its word-level tokenizer, saved to
    ``directory`` like any checkpoint: a base model that loads and trains in a second. Without
    ``eos`` the tokenizer has no pad and no EOS token."""
    words = {w for q, a in FACTS for w in re.findall(r"\w+|[^\w\s]", f"{q} {a} user assistant")}
    vocab = {"<eos>": 0, **{word: i + 1 for i, word in enumerate(sorted(words))}}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<eos>" if eos else None))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, **({"eos_token": "<eos>"} if eos else {})
    )
    if chat_template:
        tokenizer.chat_template = chat_template
    config = GPT2Config(
        vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=2, n_positions=128,
        bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    GPT2Model(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)
