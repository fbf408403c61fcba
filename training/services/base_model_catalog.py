"""The base models a lead can name, listed: the model folders under the operator's roots.

A run's ``base_model`` is a name under a root (or a path there, or a registered version): see
:mod:`training.services.base_models`, which alone decides what may be loaded. This module only
lists what is there, so a lead need not know the machine's folders to start a run: each root
that is itself a model folder (the packaged MiniLM's), and each folder directly inside a root
that holds a ``config.json``. Every entry is checked by the same rule a run's base model is
(resolved, inside a root, outside the data directory), so a link that leads out is not listed.
"""

import json
from pathlib import Path
from typing import Any

from training.services.base_models import base_model_roots, path_under_roots
from training.services.model_rendering import saved_chat_template

# At most this many entries; an operator's roots hold a handful of models, not thousands.
MAX_LISTED = 200
MAX_CONFIG_BYTES = 1 << 20


def model_kind(architectures: list[str]) -> str:
    """``causal_lm`` (a policy's base: ``*ForCausalLM``, ``*LMHeadModel``), ``encoder`` (a
    reward model's base) or ``unknown`` when the config names no architecture."""
    if any(name.endswith(("ForCausalLM", "LMHeadModel")) for name in architectures):
        return "causal_lm"
    return "encoder" if architectures else "unknown"


def _architectures(folder: Path) -> list[str] | None:
    """The config's ``architectures`` (empty when it names none); None: not a model folder."""
    config = folder / "config.json"
    try:
        if not config.is_file() or config.stat().st_size > MAX_CONFIG_BYTES:
            return None
        values = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    names = values.get("architectures") if isinstance(values, dict) else None
    return [str(name) for name in names] if isinstance(names, list) else []


def listed_base_models() -> list[dict[str, Any]]:
    """Every model folder under the roots, in root order: ``base_model`` (what to send: the
    folder's name under its root, or its absolute path where that name is a root itself or an
    earlier root's), ``path``, ``kind``, ``architectures`` and ``chat_template`` (whether the
    tokenizer saved there has one: a conversational dataset needs it for a dpo run)."""
    entries: list[dict[str, Any]] = []
    names: set[str] = set()
    seen: set[Path] = set()
    for root in base_model_roots():
        try:
            folders = (
                [root]
                if (root / "config.json").is_file()
                else sorted(child for child in root.iterdir() if child.is_dir())
            )
        except OSError:
            continue
        for folder in folders:
            resolved = path_under_roots(str(folder.resolve()))
            architectures = _architectures(resolved) if resolved is not None else None
            if resolved is None or resolved in seen or architectures is None:
                continue
            seen.add(resolved)
            name = folder.name if folder != root and folder.name not in names else str(resolved)
            names.add(folder.name)
            entries.append({
                "base_model": name, "path": str(resolved), "kind": model_kind(architectures),
                "architectures": architectures,
                "chat_template": saved_chat_template(resolved) is not None,
            })  # fmt: skip
            if len(entries) >= MAX_LISTED:
                return entries
    return entries
