"""What the annotator's pages show: imported text as safe HTML, the item panel, my progress.

Imported text (prompts, responses, context documents) is untrusted: a model answer may hold
HTML or script, by accident or by someone's design. :func:`render_markdown` is the one door
from such text to HTML, and it has two walls:

1. Python-Markdown runs with its raw-HTML handling removed (the ``html_block`` preprocessor and
   the ``html`` inline pattern), so HTML in the text is *escaped*: an annotator sees
   ``<script>alert(1)</script>`` literally, as the model wrote it, which is what they must judge.
2. ``nh3`` (ammonia) then cleans the output against a strict allow-list, so that even a bug in
   Markdown or an extension cannot let a tag, an event attribute or a ``javascript:`` URL through.

Images are not shown: ``![alt](src)`` becomes a link reading ``[image: alt]``. An image from
imported data would be fetched by every annotator's browser (a tracking pixel, an IP leak, or a
picture that differs per viewer), and none of that belongs on a blind labeling page; a link is
opened only by choice, and only http, https and mailto links survive.

The panel builder turns an item as the API serves it (``annotation.services.serving.served_item``:
no metadata, model names or gold, responses in the assignment's order) plus the rubric into
what the template needs, so the page and the API can never disagree on order or content.
"""

import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree

import markdown
import nh3
from markdown.treeprocessors import Treeprocessor

from annotation.models import Criterion, CriterionKind

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "b", "i", "del", "s", "sub", "sup", "blockquote",
    "ul", "ol", "li", "code", "pre", "kbd", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "thead", "tbody", "tr", "th", "td", "a", "dl", "dt", "dd",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
LINK_REL = "noopener noreferrer nofollow"
MARKDOWN_EXTENSIONS = ["fenced_code", "tables", "sane_lists", "nl2br"]

# Strength keys skip `t`, which is the tie key; see label.js for the whole scheme.
STRENGTH_KEYS = "qweryuiop"
FLAG_KEYS = "xcvbnm"
ROLES = {"user", "assistant", "system"}


class _ImagesAsLinks(Treeprocessor):
    """Turn every ``<img>`` Markdown made into a link to it (see the module docstring)."""

    def run(self, root: ElementTree.Element) -> None:
        for element in root.iter("img"):
            alt = element.get("alt") or "image"
            src = element.get("src", "")
            element.attrib.clear()
            element.tag = "a"
            element.set("href", src)
            element.text = f"[image: {alt}]"


class _SafeMarkdown(markdown.Extension):
    def extendMarkdown(self, md: markdown.Markdown) -> None:
        md.preprocessors.deregister("html_block")
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_ImagesAsLinks(md), "images_as_links", 1)


def _code_class(tag: str, attribute: str, value: str) -> str | None:
    # fenced_code marks the language (class="language-python"); any other class could borrow
    # the page's own styles (e.g. hide text), so only that one survives.
    if attribute == "class":
        if tag == "code" and value.startswith("language-") and value[9:].replace("-", "").isalnum():
            return value
        return None
    return value


def render_markdown(text: str) -> str:
    """Untrusted Markdown to HTML that is safe to put in a page as it is.

    Guarantees: no element outside :data:`ALLOWED_TAGS`, no attribute outside
    :data:`ALLOWED_ATTRIBUTES` (so no event handlers or styles), links only to http, https or
    mailto (relative URLs are dropped too) with ``rel="noopener noreferrer nofollow"`` and a new
    tab, raw HTML shown as text, code blocks kept literally. Pure and thread-safe: a fresh
    Markdown instance per call, since Python-Markdown's instances keep state.
    """
    if not text:
        return ""
    html = markdown.Markdown(extensions=[*MARKDOWN_EXTENSIONS, _SafeMarkdown()]).convert(text)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_code_class,
        url_schemes=URL_SCHEMES,
        url_relative="deny",
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


# --- the item panel --------------------------------------------------------------------------


@dataclass
class PanelCriterion:
    name: str
    kind: str
    question: str
    help_html: str
    required: bool
    strengths: list[dict[str, str]] = field(default_factory=list)
    allow_tie: bool = False
    scale: list[dict[str, Any]] = field(default_factory=list)
    flag_key: str = ""
    max_length: int = 5000
    choice: str = "is better"  # preference: the button reads "Response N <choice>"
    low_label: str = ""  # likert: the words of the scale's first and last points
    high_label: str = ""


# "Which response is less harmful?" -> "is less harmful"; "Which answer follows the guidelines
# better?" -> "follows the guidelines better". See preference_choice.
WHICH_QUESTION = re.compile(
    r"^\s*which\s+(?:(?:of\s+the\s+)?(?:two\s+)?(?:responses?|answers?|replies|reply|ones?)\s+)?"
    r"(?P<rest>(?P<verb>\w+)\b[^?]*?)\s*\??\s*$",
    re.IGNORECASE,
)
NOT_A_VERB = {"do", "does", "did", "would", "should", "could", "can", "will", "of", "one"}


def preference_choice(question: str) -> str:
    """What a preference button says after "Response N", taken from the criterion's question.

    The rule: a question of the form "Which [response|answer|reply|one] <verb> …?" whose verb
    is "is", "was", "has" or a third-person verb ending in "s" (not "does") gives "<verb> …"
    ("Which response is less harmful?" -> "Response 1 is less harmful"; "Which answer cites
    its sources?" -> "Response 1 cites its sources"). Anything else ("Which do you prefer?",
    "Pick the better one") falls back to "is better"."""
    match = WHICH_QUESTION.match(question or "")
    if match:
        verb = match.group("verb").lower()
        if verb not in NOT_A_VERB and (verb in {"is", "was", "has"} or verb.endswith("s")):
            return match.group("rest").strip()
    return "is better"


def _criterion(criterion: Criterion, flag_index: int) -> PanelCriterion:
    config = criterion.config or {}
    panel = PanelCriterion(
        name=criterion.name,
        kind=criterion.kind,
        question=criterion.question,
        help_html=render_markdown(criterion.help_text),
        required=criterion.required,
    )
    if criterion.kind == CriterionKind.PREFERENCE:
        labels = list(config.get("strength_labels", []))[: len(STRENGTH_KEYS)]
        panel.strengths = [
            {"value": str(i + 1), "label": label, "key": STRENGTH_KEYS[i]}
            for i, label in enumerate(labels)
        ]
        panel.allow_tie = bool(config.get("allow_tie", False))
        panel.choice = preference_choice(criterion.question)
    elif criterion.kind == CriterionKind.LIKERT:
        low, high = int(config.get("min", 1)), int(config.get("max", 5))
        words = config.get("labels", {}) or {}
        panel.scale = [
            {"value": v, "label": str(words.get(str(v), ""))} for v in range(low, high + 1)
        ]
        if panel.scale:
            panel.low_label, panel.high_label = panel.scale[0]["label"], panel.scale[-1]["label"]
    elif criterion.kind == CriterionKind.FLAG:
        panel.flag_key = FLAG_KEYS[flag_index] if flag_index < len(FLAG_KEYS) else ""
    elif criterion.kind == CriterionKind.TEXT:
        panel.max_length = int(config.get("max_length", 5000))
    return panel


def _prompt_turns(prompt: Any) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "", "html": render_markdown(prompt)}]
    turns = []
    for message in prompt or []:
        if not isinstance(message, dict):
            continue
        role = str(message.get("role", ""))
        turns.append(
            {
                "role": role if role in ROLES else "other",
                "html": render_markdown(str(message.get("content", ""))),
            }
        )
    return turns


def _documents(context: Any) -> list[dict[str, str]]:
    documents = []
    for index, document in enumerate(context or [], start=1):
        if not isinstance(document, dict):
            continue
        source = str(document.get("source", "") or "")
        documents.append(
            {
                "title": str(document.get("title", "") or f"Document {index}"),
                "source": source,
                # Only a web address becomes a link; anything else is shown as text.
                "source_url": source if source.startswith(("https://", "http://")) else "",
                "html": render_markdown(str(document.get("text", "") or "")),
            }
        )
    return documents


def item_panel(
    served: dict,
    assignment_id: int,
    criteria: list[Criterion],
    *,
    answers: dict | None = None,
    mode: str = "label",
) -> dict[str, Any]:
    """The template context of the item panel: ``served`` is the item as the API serves it,
    ``answers`` the previous answers when revising. ``config`` goes to the page as JSON for
    label.js; it holds ids, the rubric's shape and the answers, never item content."""
    flags = 0
    panel_criteria = []
    for criterion in criteria:
        panel_criteria.append(_criterion(criterion, flags))
        flags += criterion.kind == CriterionKind.FLAG
    responses = [
        {"number": number, "id": r["id"], "html": render_markdown(r["text"])}
        for number, r in enumerate(served["responses"], start=1)
    ]
    config = {
        "mode": mode,
        "assignment": assignment_id,
        "responses": [r["id"] for r in responses],
        "criteria": [
            {
                "name": c.name,
                "kind": c.kind,
                "question": c.question,
                "required": c.required,
                "strengths": len(c.strengths),
                "allow_tie": c.allow_tie,
                "scale": [s["value"] for s in c.scale],
                "flag_key": c.flag_key,
            }
            for c in panel_criteria
        ],
        "answers": answers or None,
    }
    return {
        "mode": mode,
        "assignment_id": assignment_id,
        "turns": _prompt_turns(served["prompt"]),
        "documents": _documents(served["context"]),
        "responses": responses,
        "ranking_list": len(responses) > 2,
        "criteria": panel_criteria,
        "has_scores": any(c.kind in (CriterionKind.LIKERT, CriterionKind.FLAG) for c in criteria),
        "config": config,
    }
