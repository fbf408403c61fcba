"""One prompt rendering, from the exported row a model is trained on to every request that scores.

A preference row's ``prompt`` is built from an item's prompt (text or chat messages) and its
context documents by a :class:`PromptRendering`, which the export records in its manifest, the
training run copies into its model version, and every path that scores (the score endpoint,
active selection) applies again. A reward model is therefore always asked a question in the
words it was taught with; the tokenizer-level step (one sequence, or the tokenizer's chat
template) is ``training.services.reward_model``'s, shared by the trainer and the scorer.

The rendering, and its documented default:

- ``form``: ``standard`` (text), ``conversational`` (chat messages: TRL's conversational
  preference format), or ``grouped`` (standard text, one row per item with every lower-ranked
  response in ``rejected``).
- ``context``: ``prompt`` (the default: an item's documents go into the prompt) or ``none``
  (they are left out, as exports did before renderings existed). An item without documents
  renders the same either way.
- ``document_template`` renders one document; placeholders ``{number}`` (1, 2, ... in the
  item's order), ``{id}``, ``{title}``, ``{text}``, ``{source}``. Default::

      [1] Account help (id: kb-12)
      To reset your password, ...

- ``context_template`` renders the block of all documents (joined by a blank line) through
  ``{documents}``, which it must contain. Default: ``Context documents:\\n{documents}``.
- Standard and grouped forms put the block ahead of the question, a blank line between; a chat
  prompt is first flattened to ``role: content`` paragraphs. The conversational form puts the
  block in a system message ahead of the conversation (appended, after a blank line, to the
  conversation's own system message when it opens with one, since many chat templates allow
  only one system message, and only first).

Templates are checked before anything is stored (:func:`template_problems`): only the named
placeholders, no attribute or index lookups, no conversions or format specs, balanced braces
(``{{`` and ``}}`` write a literal brace); so a template from a request can never reach into an
object.
"""

from __future__ import annotations

import string
from dataclasses import asdict, dataclass
from typing import Any

Prompt = str | list[dict[str, str]]

FORMS = ("standard", "conversational", "grouped")
CONTEXT_MODES = ("prompt", "none")
DEFAULT_DOCUMENT_TEMPLATE = "[{number}] {title} (id: {id})\n{text}"
DEFAULT_CONTEXT_TEMPLATE = "Context documents:\n{documents}"
DOCUMENT_PLACEHOLDERS = frozenset({"number", "id", "title", "text", "source"})
CONTEXT_PLACEHOLDERS = frozenset({"documents"})
MAX_TEMPLATE_CHARS = 4000


def prompt_text(prompt: Any) -> str:
    """The prompt as text: a chat prompt becomes ``role: content`` paragraphs."""
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in prompt)


def prompt_messages(prompt: Any) -> list[dict[str, str]]:
    """The prompt as chat messages: a text prompt becomes one user message."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    return [{"role": str(m.get("role", "")), "content": str(m.get("content", ""))} for m in prompt]


def template_problems(template: Any, allowed: frozenset[str], required: str | None) -> list[str]:
    """Why ``template`` cannot be used (empty when it can): not a string, too long, unbalanced
    braces, a placeholder outside ``allowed`` (or positional, or with a lookup, conversion or
    format spec), or ``required`` missing."""
    if not isinstance(template, str):
        return ["must be a string"]
    if len(template) > MAX_TEMPLATE_CHARS:
        return [f"must be at most {MAX_TEMPLATE_CHARS} characters"]
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError as error:
        return [f"is not a valid template ({error}); write a literal brace as {{{{ or }}}}"]
    problems: list[str] = []
    seen: set[str] = set()
    names = ", ".join(f"{{{name}}}" for name in sorted(allowed))
    for _, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in allowed:
            shown = f"{{{name}}}" if name else "{} (positional)"
            problems.append(f"has an unknown placeholder {shown}; allowed: {names}")
        elif spec or conversion:
            problems.append(f"placeholder {{{name}}} takes no format spec or conversion")
        seen.add(name)
    if required and required not in seen and not problems:
        problems.append(f"must contain {{{required}}}")
    if not required and not seen and not problems:
        # Without a placeholder every document renders as the same text: its words are lost.
        problems.append(f"must contain at least one placeholder of {names}")
    return problems


@dataclass(frozen=True)
class PromptRendering:
    """How a row's prompt and responses are written; see the module's note. Immutable and
    comparable: two models were trained alike when their renderings are equal."""

    form: str = "standard"
    context: str = "prompt"
    context_template: str = DEFAULT_CONTEXT_TEMPLATE
    document_template: str = DEFAULT_DOCUMENT_TEMPLATE

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> PromptRendering:
        """From a manifest's or model version's record (missing keys take the defaults)."""
        values = values or {}
        known = {key: values[key] for key in asdict(cls()) if values.get(key) is not None}
        return cls(**known)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def conversational(self) -> bool:
        return self.form == "conversational"

    def context_block(self, documents: Any) -> str:
        """The rendered documents ('' without any, or with ``context`` ``none``)."""
        if self.context != "prompt" or not documents:
            return ""
        parts = []
        for number, document in enumerate(documents, start=1):
            document = document if isinstance(document, dict) else {"text": document}
            parts.append(
                self.document_template.format_map(
                    {
                        "number": number,
                        "id": _text(document.get("id")),
                        "title": _text(document.get("title")),
                        "text": _text(document.get("text")),
                        "source": _text(document.get("source")),
                    }
                )
            )
        return self.context_template.format_map({"documents": "\n\n".join(parts)})

    def prompt(self, prompt: Any, documents: Any = None) -> Prompt:
        """A row's ``prompt``: text for the standard and grouped forms, chat messages for the
        conversational one, with the context block where the rendering puts it."""
        block = self.context_block(documents)
        if self.conversational:
            messages = prompt_messages(prompt)
            if not block:
                return messages
            if messages and messages[0]["role"] == "system":
                merged = f"{messages[0]['content']}\n\n{block}"
                return [{"role": "system", "content": merged}, *messages[1:]]
            return [{"role": "system", "content": block}, *messages]
        text = prompt if type(prompt) is str else prompt_text(prompt)
        return f"{block}\n\n{text}" if block else text

    def response(self, response: Any) -> Any:
        """A row's ``chosen`` or ``rejected``: a text as it is, or as one assistant message in the
        conversational form. A response given as chat messages (a scoring request may send one)
        is kept as it is in the conversational form, and is its messages' contents, a blank line
        between, in the others (an answer is the assistant's words)."""
        if isinstance(response, str):
            return [{"role": "assistant", "content": response}] if self.conversational else response
        if self.conversational:
            return response
        return "\n\n".join(str(message.get("content", "")) for message in response)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
