"""The rendering a reward model was trained with, recorded on its run and its model version.

A model version scores a question in the words its training rows were written in
(:mod:`exports.services.prompt_rendering`): the dataset's rendering (its manifest's
``rendering``), plus ``chat_template``, the chat template of the tokenizer saved with the model
(text, or null for a tokenizer without one), which ``training.services.reward_model`` applies
to a conversational row. The run records both in its ``config["rendering"]`` and the registry
copies them to ``ModelVersion.rendering``.

A dataset whose manifest has no ``rendering`` reads it from its filters (stored with their
defaults filled in); one exported before renderings existed has only ``form`` there: its rows
were written with the context documents left out, so it reads as
``{"form": <filters' form>, "context": "none", ...defaults}``. A model version registered before
``ModelVersion.rendering`` existed (an empty record) reads its dataset's the same way.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from exports.models import DatasetVersion
from exports.services.prompt_rendering import PromptRendering

CHAT_TEMPLATE_FILE = "chat_template.jinja"
# The export filters a rendering is made of (stored with the export's defaults filled in).
RENDERING_KEYS = ("form", "context", "context_template", "document_template")


def dataset_rendering(dataset: DatasetVersion) -> dict[str, Any]:
    """The rendering ``dataset``'s rows were written with, as a record (see the module note)."""
    recorded = (dataset.manifest or {}).get("rendering")
    if isinstance(recorded, dict) and recorded:
        return PromptRendering.from_dict(recorded).as_dict()
    filters = dataset.filters or {}
    stored = {key: filters[key] for key in RENDERING_KEYS if filters.get(key) is not None}
    return PromptRendering.from_dict({"context": "none", **stored}).as_dict()


def saved_chat_template(model_dir: Path) -> str | None:
    """The chat template of the tokenizer saved in ``model_dir`` (``chat_template.jinja``, or
    ``tokenizer_config.json``'s ``chat_template``, as transformers writes one or the other);
    None when it has none. A named-template dict is recorded as JSON text."""
    jinja = Path(model_dir) / CHAT_TEMPLATE_FILE
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    config_file = Path(model_dir) / "tokenizer_config.json"
    if not config_file.is_file():
        return None
    template = json.loads(config_file.read_text(encoding="utf-8")).get("chat_template")
    if template is None or isinstance(template, str):
        return template
    return json.dumps(template, sort_keys=True)


def trained_rendering(dataset: DatasetVersion, model_dir: Path) -> dict[str, Any]:
    """What a run records: its dataset's rendering and the saved tokenizer's chat template."""
    return {**dataset_rendering(dataset), "chat_template": saved_chat_template(model_dir)}


def model_rendering(model: Any) -> PromptRendering:
    """The :class:`PromptRendering` a model version scores with: its record, or for a version
    registered before records existed, its run's, else its dataset's (module note)."""
    recorded = model.rendering or (model.run.config or {}).get("rendering")
    if recorded:
        return PromptRendering.from_dict(recorded)
    return PromptRendering.from_dict(dataset_rendering(model.run.dataset))
