"""Markdown rendering: the one place where user text becomes HTML.

Pipeline: Python-Markdown (``extra`` + ``sane_lists``) turns Markdown into HTML,
then the nh3 allow-list sanitiser (the Python binding of the Rust crate ammonia)
removes anything not on the list. Python-Markdown does not sanitise its output
(its own docs say so), and Markdown links alone can carry ``javascript:``, so the
sanitiser always runs. The allow-list follows shared/RELIABILITY.md §3.5: a short
tag list, no ``id``/``class``/``style``, only http(s) and mailto URLs, comments
stripped and ``rel="noopener noreferrer nofollow"`` on every link.
"""

from __future__ import annotations

from functools import lru_cache

import markdown as python_markdown
import nh3

# Bump when the allow-list changes, so cached renders can be told apart.
SANITIZER_VERSION = 1

ALLOWED_TAGS = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1024)
def render_markdown(text: str) -> str:
    """Render user Markdown to sanitised HTML.

    Args:
        text: Markdown source (any length the models allow; ``None``-safe callers
            pass ``""``).

    Returns:
        An HTML fragment (``str``) that contains only allow-listed tags,
        attributes and URL schemes. Raw HTML in the source is escaped by the
        sanitiser's rules, never passed through: no ``<script>``, event handler
        attribute or ``javascript:`` URL survives.
    """
    if not text:
        return ""
    html = python_markdown.markdown(
        text,
        extensions=["extra", "sane_lists"],
        output_format="html",
    )
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
