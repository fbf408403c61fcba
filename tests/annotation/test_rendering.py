"""render_markdown: imported text becomes HTML that cannot run anything, and the Markdown an
annotator needs (code, lists, tables, links) still reads as intended."""

from html.parser import HTMLParser

import pytest

from annotation.services.rendering import render_markdown

ATTACKS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="https://x" onclick="alert(1)">click</a>',
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    '<svg onload="alert(1)"><circle/></svg>',
    "<div>\n<script>alert(1)</script>\n</div>",
    '<details open ontoggle="alert(1)">x</details>',
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "[x](vbscript:msgbox(1))",
]


class Elements(HTMLParser):
    """Every element and attribute a browser would build from the HTML."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("payload", ATTACKS)
def test_no_attack_survives_as_markup(payload):
    for tag, attrs in Elements(render_markdown(payload)).found:
        assert tag in {"p", "a", "br", "pre", "code", "ul", "li"}, tag
        assert not [name for name in attrs if name.startswith("on")]
        assert "style" not in attrs
        href = attrs.get("href")
        assert href is None or href.startswith(("https://", "http://", "mailto:")), href


def test_raw_html_is_shown_as_text():
    assert render_markdown("<script>alert(1)</script>") == (
        "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    html = render_markdown("<img src=x onerror=alert(1)>")
    assert "<img" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_link_with_an_event_handler_is_text_not_a_link():
    html = render_markdown('<a href="https://x" onclick="alert(1)">y</a>')
    assert "<a " not in html
    assert "&lt;a href=" in html


def test_javascript_links_lose_their_target():
    html = render_markdown("[click me](javascript:alert(document.cookie))")
    assert "click me" in html
    assert "href" not in html


def test_safe_links_get_rel_and_a_new_tab():
    html = render_markdown("[docs](https://example.com/a?b=1) and <https://auto.example>")
    assert (
        '<a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer nofollow">'
        in html
    )
    assert 'href="https://auto.example"' in html
    assert 'href="mailto:a@b.example"' in render_markdown("[m](mailto:a@b.example)")


def test_relative_and_protocol_relative_links_are_dropped():
    html = render_markdown("[admin](/admin/) [other](//evil.example/x)")
    assert "href" not in html


def test_images_become_links_and_are_never_loaded():
    html = render_markdown("![a cat](https://img.example/cat.png)")
    assert "<img" not in html
    assert '<a href="https://img.example/cat.png"' in html
    assert "[image: a cat]" in html


def test_code_blocks_keep_their_content_literally():
    text = '```python\nif a < b and c > d:\n    print("<script>alert(1)</script>")\n```'
    html = render_markdown(text)
    assert html.startswith('<pre><code class="language-python">')
    assert "if a &lt; b and c &gt; d:" in html
    assert "print(&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;)" in html or (
        'print("&lt;script&gt;alert(1)&lt;/script&gt;")' in html
    )
    assert "`<b>x</b>`" not in render_markdown("`<b>x</b>`")
    assert "<code>&lt;b&gt;x&lt;/b&gt;</code>" in render_markdown("`<b>x</b>`")


def test_only_language_classes_survive():
    assert Elements(render_markdown("```c++\ncode\n```")).found == [("pre", {}), ("code", {})]
    html = render_markdown('```hidden" onclick="x\ncode\n```')
    assert all(not any(n.startswith("on") for n in a) for _, a in Elements(html).found)


def test_basic_formatting_lists_and_tables():
    html = render_markdown(
        "**bold** _it_\nnext line\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |"
    )
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    assert "<br>" in html
    assert "<ul>" in html and "<li>one</li>" in html
    assert "<table>" in html and "<td>1</td>" in html


def test_empty_text_is_empty():
    assert render_markdown("") == ""
