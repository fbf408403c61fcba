"""Loading a policy version's artifacts: a whole causal LM, or a LoRA adapter over its base.

A ``dpo`` run saves, in safetensors, either the whole fine-tuned model (``config.json`` and
``model.safetensors``) or, with LoRA and no merge, only the adapter (``adapter_config.json`` and
``adapter_model.safetensors``); the tokenizer is saved beside it either way. An adapter is
loaded over the version's ``base_model``, looked up by the same rule a run's base model is
(:func:`training.services.base_models.base_model_path`, as the operator: the version was
checked when it was trained), so an adapter never names a path of its own choosing.
"""

import re
from pathlib import Path
from typing import Any

from training.models import PolicyVersion
from training.services.scoring import artifacts_path

ADAPTER_CONFIG = "adapter_config.json"
POLICY_REFERENCE = re.compile(r"^policy:(\d{1,18})$")


def policy_folder(policy: PolicyVersion) -> Path:
    """The local, verified folder of ``policy``'s artifacts (staged from the artifact store;
    :class:`~training.services.scoring.ArtifactsMissing` when they are gone or altered)."""
    return artifacts_path(policy)


def load_policy(policy: PolicyVersion, *, device: str = "cpu", dtype: Any = None) -> tuple:
    """``(model, tokenizer)`` of ``policy`` on ``device``, in eval mode. The tokenizer pads on
    the left (generation appends to the right) and has a pad token (its EOS when it had none)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = policy_folder(policy)
    kwargs = {"dtype": dtype} if dtype is not None else {}
    if (folder / ADAPTER_CONFIG).is_file():
        from peft import PeftModel

        base = load_base_model(policy.base_model, dtype=dtype)
        model = PeftModel.from_pretrained(base, folder).merge_and_unload()
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device).eval(), tokenizer


def load_base_model(value: str, *, dtype: Any = None) -> Any:
    """The causal LM a run's ``base_model`` names, on the CPU: ``policy:<id>`` is that policy
    version loaded whole (an adapter merged over its own base, recursively), anything else
    the directory :func:`~training.services.base_models.base_model_path` finds for it (as the
    operator). Callers check the requester's right to ``value`` before (the run's door)."""
    from transformers import AutoModelForCausalLM

    from training.services.base_models import base_model_path

    reference = POLICY_REFERENCE.match(value)
    if reference is not None:
        base = PolicyVersion.objects.select_related("run").get(pk=int(reference.group(1)))
        return load_policy(base, dtype=dtype)[0]
    kwargs = {"dtype": dtype} if dtype is not None else {}
    return AutoModelForCausalLM.from_pretrained(
        base_model_path(value, actor=None, stage=True), **kwargs
    )
