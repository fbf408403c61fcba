"""The policy builder the policy tests stand on: a registered candidate whose artifacts are in
the store and load back as a causal LM with its tokenizer."""

from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.builders import export_of, policy_version
from training.models import ModelStage, RunKind
from training.services.scoring import artifacts_path


def test_a_built_policy_is_a_registered_candidate_whose_artifacts_load(make_user, make_sprint):
    lead = make_user("lead")
    dataset = export_of(make_sprint("support"), lead)
    policy = policy_version(dataset, lead)
    assert policy.version == 1 and policy.stage == ModelStage.CANDIDATE
    assert policy.run.kind == RunKind.DPO and policy.label == "support-policy@v1"
    assert list(policy.sprints.values_list("slug", flat=True)) == ["support"]
    folder = artifacts_path(policy)
    model = AutoModelForCausalLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ids = tokenizer("see [1] kb - refunds .", return_tensors="pt").input_ids
    assert tokenizer.unk_token_id not in ids[0].tolist()
    assert model(ids).logits.shape[-1] == len(tokenizer)
    assert policy_version(dataset, lead).version == 2
