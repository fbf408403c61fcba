"""Generation from a policy version on the CPU with the tiny causal LM: seeded and repeatable
(the same settings give the same texts; another seed gives other texts when sampling, the same
when greedy), measured, rendered with the policy's own rendering, and its sampling options
checked naming ``sampling.<field>``."""

import pytest
from transformers import AutoTokenizer

from annotation.services.errors import ConcordError
from exports.services.prompt_rendering import PromptRendering
from tests.support.builders import export_of, policy_version
from tests.support.tiny_causal_lm import CHAT_TEMPLATE, grounded_items, save_tiny_causal_lm
from training.services.generation import (
    generate,
    render_for_generation,
    validate_sampling,
)
from training.services.policy_loading import load_policy

pytestmark = pytest.mark.django_db

PROMPTS = [{"prompt": row["prompt"], "context": row["context"]} for row in grounded_items(5)]


@pytest.fixture
def policy(make_user, make_sprint):
    lead = make_user("lead")
    return policy_version(export_of(make_sprint("support"), lead), lead)


def sampled(**options):
    return validate_sampling({"max_new_tokens": 12, "temperature": 1.0, **options})


def test_the_same_settings_give_the_same_texts_and_another_seed_others(policy, settings):
    settings.CONCORD_GENERATION_BATCH_SIZE = 2  # three batches, each seeded on its own
    first = generate(policy, PROMPTS, sampling=sampled(), seed=11)
    again = generate(policy, PROMPTS, sampling=sampled(), seed=11)
    other = generate(policy, PROMPTS, sampling=sampled(), seed=12)
    assert first.texts == again.texts
    assert len(first.texts) == len(PROMPTS) and any(first.texts)
    assert other.texts != first.texts


def test_greedy_decoding_ignores_the_seed(policy):
    greedy = validate_sampling({"max_new_tokens": 8, "temperature": 0})
    assert greedy == {"max_new_tokens": 8, "temperature": 0.0, "top_p": 1.0, "batch_size": 8}
    one = generate(policy, PROMPTS, sampling=greedy, seed=1)
    two = generate(policy, PROMPTS, sampling=greedy, seed=2)
    assert one.texts == two.texts


def test_what_generating_cost_is_recorded(policy):
    result = generate(policy, PROMPTS, sampling=sampled(), seed=0)
    stats = result.stats
    assert stats["prompts"] == len(PROMPTS) and stats["device"] == "cpu"
    assert 0 < stats["new_tokens"] <= 12 * len(PROMPTS)
    assert stats["new_tokens"] == sum(result.per_prompt_tokens)
    assert stats["seconds"] > 0 and stats["tokens_per_s"] > 0


def test_prompts_are_written_with_the_policy_rendering(tmp_path):
    save_tiny_causal_lm(tmp_path / "chat", chat_template=True)
    save_tiny_causal_lm(tmp_path / "plain")
    prompt, context = PROMPTS[0]["prompt"], PROMPTS[0]["context"]
    chat = PromptRendering.from_dict({"form": "conversational"})
    with_template = AutoTokenizer.from_pretrained(tmp_path / "chat")
    assert with_template.chat_template == CHAT_TEMPLATE
    text, special = render_for_generation(chat, with_template, prompt, context)
    assert special and text.startswith("system : Context documents:")
    assert text.endswith("assistant : ") and prompt in text
    without = AutoTokenizer.from_pretrained(tmp_path / "plain")
    text, special = render_for_generation(chat, without, prompt, context)
    assert not special and text.startswith("system: Context documents:")
    standard, special = render_for_generation(PromptRendering(), without, prompt, context)
    assert standard == PromptRendering().prompt(prompt, context) and not special


def test_a_conversational_policy_generates_through_its_chat_template(make_user, make_sprint,
                                                                     tmp_path):  # fmt: skip
    lead = make_user("lead")
    save_tiny_causal_lm(tmp_path / "chat", chat_template=True)
    policy = policy_version(
        export_of(make_sprint("support"), lead), lead, model_dir=tmp_path / "chat",
        rendering={"form": "conversational", "context": "prompt"},
    )  # fmt: skip
    _model, tokenizer = load_policy(policy)
    assert tokenizer.padding_side == "left"
    result = generate(policy, PROMPTS[:2], sampling=sampled(), seed=3)
    assert len(result.texts) == 2 and result.new_tokens > 0


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"max_new_tokens": 0}, "sampling.max_new_tokens"),
        ({"max_new_tokens": 2.5}, "sampling.max_new_tokens"),
        ({"max_new_tokens": True}, "sampling.max_new_tokens"),
        ({"temperature": -0.1}, "sampling.temperature"),
        ({"temperature": "hot"}, "sampling.temperature"),
        ({"top_p": 0}, "sampling.top_p"),
        ({"top_p": 1.5}, "sampling.top_p"),
        ({"beams": 4}, "sampling.beams"),
        ({"batch_size": 4}, "sampling.batch_size"),
    ],
)
def test_bad_sampling_options_name_the_field(options, field):
    with pytest.raises(ConcordError) as refused:
        validate_sampling(options)
    assert refused.value.status == 400
    assert [problem["field"] for problem in refused.value.problems] == [field]


def test_a_prompt_longer_than_the_window_keeps_its_end_and_is_counted(policy):
    # The tiny model's window is 256 positions: 250 new tokens leave room for 6 of the prompt.
    result = generate(policy, PROMPTS[:2], sampling=sampled(max_new_tokens=250), seed=0)
    assert result.truncated_prompts == 2 and result.stats["truncated_prompts"] == 2
    assert len(result.texts) == 2 and result.new_tokens > 0


def test_an_answer_ends_at_any_end_of_sequence_id_the_model_lists():
    """A model whose generation config lists several end ids (Llama 3's ``<|eot_id|>`` beside
    its EOS) stops counting new tokens at the first of any of them, and the tokenizer's own EOS
    counts too, so padding after an early stop is never counted as generated."""
    from types import SimpleNamespace

    from training.services.generation import stop_token_ids

    tokenizer = SimpleNamespace(eos_token_id=3)
    several = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=[7, 9]))
    assert stop_token_ids(several, tokenizer) == {3, 7, 9}
    one = SimpleNamespace(generation_config=SimpleNamespace(eos_token_id=3))
    assert stop_token_ids(one, tokenizer) == {3}
    assert stop_token_ids(SimpleNamespace(), SimpleNamespace(eos_token_id=None)) == set()
