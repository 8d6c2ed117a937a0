"""The stored-XSS corpus (RELIABILITY.md T9/T10): vectors, the documents that
carry them in every user text field, and an HTML oracle for whole pages.

Each vector is a template with ``{js}`` where the script goes (``{b64}`` is a
base64 ``<script>{js}</script>`` page for ``data:`` URLs). The HTML checks fill
in ``alert(1)``; the browser check fills in ``__xss(n),alert(n)`` so that any
execution calls a recorder defined before the page loads, and opens a dialog.

The list holds the 26 vectors of RELIABILITY.md finding 4 (among them every
form the note names: mixed case, entity-encoded, tab-split and leading-space
schemes, autolinks, image ``onerror`` breakouts, ``&colon;``, reference links)
plus common ones from the OWASP XSS Filter Evasion Cheat Sheet and
mutation-XSS and htmx-attribute probes.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from postmortems.markdown import ALLOWED_ATTRIBUTES, ALLOWED_TAGS

VECTORS: list[str] = [
    # RELIABILITY.md finding 4 / tests/postmortems/test_markdown.py
    "<script>{js}</script>",
    "<img src=x onerror={js}>",
    "[click](javascript:{js})",
    "[click](JaVaScRiPt:{js})",
    "[click]( javascript:{js})",
    "[click](java\tscript:{js})",
    "[click](data:text/html;base64,{b64})",
    "[click](vbscript:{js})",
    "![x](javascript:{js})",
    '<a href="javascript:{js}">x</a>',
    "<details open ontoggle={js}>",
    "<svg onload={js}>",
    '<iframe srcdoc="&lt;script&gt;{js}&lt;/script&gt;"></iframe>',
    '<object data="javascript:{js}"></object>',
    "<style>@import 'javascript:{js}';</style>",
    '<div style="background:url(javascript:{js})">x</div>',
    '<p id="login" name="csrfmiddlewaretoken">clobber</p>',
    '<form action="javascript:{js}"><button>go</button></form>',
    '<meta http-equiv=refresh content="0;url=javascript:{js}">',
    '[x](https://ok.example "t" onmouseover={js})',
    "<!-- <script>{js}</script> -->",
    "<math><mtext><table><mglyph><style><img src=x onerror={js}>",
    '<base href="javascript:{js}//">',
    "<a href='&#106;avascript:{js}'>x</a>",
    "[x](&#x6A;avascript:{js})",
    "<<script>script>{js}<</script>/script>",
    # The other forms RELIABILITY.md T9 (b) names
    "[a](java&#x09;script:{js})",
    "<javascript:{js}>",
    '![x](x" onerror="{js})',
    '<a href=" javascript:{js}">x</a>',
    '<a href="javascript&colon;{js}">x</a>',
    "[a][r]\n\n[r]: javascript:{js}",
    # OWASP cheat sheet and mutation XSS
    '<svg><a xlink:href="javascript:{js}"><text x="20" y="20">x</text></a></svg>',
    "<input autofocus onfocus={js}>",
    "<video><source onerror={js}></video>",
    "<body onload={js}>",
    '<noscript><p title="</noscript><img src=x onerror={js}>"></noscript>',
    '<a href="#" onclick="{js}">click</a>',
    "<marquee onstart={js}>x</marquee>",
    '<button formaction="javascript:{js}">x</button>',
    '<embed src="javascript:{js}">',
    '<a href="javascript://%0a{js}">x</a>',
    "<x onmouseover={js}>hover me</x>",
    "`<img src=x onerror={js}>`",
    # htmx attributes would make the page send requests with the CSRF header
    '<div hx-post="/accounts/logout/" hx-trigger="load" hx-on:htmx:load="{js}">x</div>',
    '"><img src=x onerror={js}>',
]

# Where a vector goes inside a Markdown section (RELIABILITY.md T9 (c)).
MARKDOWN_CONTEXTS: dict[str, str] = {
    "raw": "{v}",
    "paragraph": "Before {v} after.",
    "link text": "[{v}](https://example.com/)",
    "list": "- {v}\n- second",
    "blockquote": "> {v}",
    "table cell": "| a | b |\n|---|---|\n| {v} | x |",
    "emphasis": "**{v}**",
    "fenced code": "```\n{v}\n```",
}
# A vector in a link target, image source or reference definition.
URL_CONTEXTS: dict[str, str] = {
    "link target": "[t]({u})",
    "image src": "![t]({u})",
    "reference": "[t][ref]\n\n[ref]: {u}",
}
URL_PAYLOADS = ["javascript:{js}", "JaVaScRiPt:{js}", "&#106;avascript:{js}", "data:text/html;base64,{b64}"]


def fill(template: str, js: str) -> str:
    """The vector ``template`` with script ``js`` in place of ``{js}``/``{b64}``."""
    page = base64.b64encode(f"<script>{js}</script>".encode()).decode()
    return template.replace("{js}", js).replace("{b64}", page)


def markdown_sections(vector: str, js: str, count: int = 4) -> list[str]:
    """``count`` Markdown sections that between them carry ``vector`` in every
    context (each context in one section, round robin), blank-line separated."""
    parts = [f"Context {name}:\n\n" + ctx.replace("{v}", vector) for name, ctx in MARKDOWN_CONTEXTS.items()]
    parts += [
        f"Context {name}:\n\n" + ctx.replace("{u}", fill(payload, js))
        for name, ctx in URL_CONTEXTS.items()
        for payload in URL_PAYLOADS
    ]
    return ["\n\n".join(parts[start::count]) for start in range(count)]


# --- the documents --------------------------------------------------------------------


@dataclass
class Seeded:
    """What ``seed`` made: one post-mortem per vector, all owned by ``viewer``."""

    viewer: object
    postmortems: list = field(default_factory=list)
    teams: list = field(default_factory=list)
    vectors: list[str] = field(default_factory=list)

    @property
    def fields_per_document(self) -> int:
        return len(PLAIN_FIELDS) + 4


# Field marker → where it shows up; each marker precedes the vector in that field.
PLAIN_FIELDS = {
    "TITLE": "title",
    "TEAM": "team name",
    "SVC": "service name",
    "FACTOR": "contributing factor name",
    "TL": "timeline text",
    "AI": "action item text",
    "NR": "not-doing reason",
    "DC": "declined change",
    "DR": "declined change rationale",
    "PR": "pull request title",
    "OWNER": "person's name",
}


def seed(*, viewer, js_for, count: int | None = None) -> Seeded:
    """Create one post-mortem per vector through ``postmortems.services``.

    Args:
        viewer: the user who will look at the pages: a member of every team, an
            author and the owner of every action item (so "My action items" shows them).
        js_for: ``index -> script`` to put in place of ``{js}`` for vector ``index``.
        count: only the first ``count`` vectors (all by default).

    Returns:
        ``Seeded`` with the documents in vector order.
    """
    from postmortems import services
    from postmortems.models import ActionItem, ContributingFactor, PostMortem
    from tests.factories import ServiceFactory, TeamFactory, TeamMembershipFactory, UserFactory

    seeded = Seeded(viewer=viewer)
    now = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)
    for index, template in enumerate(VECTORS[:count]):
        vector = fill(template, js_for(index))
        seeded.vectors.append(vector)
        team = TeamFactory(slug=f"xss-{index}", name=f"TEAM{index} {vector}"[:120])
        TeamMembershipFactory(team=team, user=viewer)
        service = ServiceFactory(slug=f"xss-svc-{index}", name=f"SVC{index} {vector}"[:120], team=team)
        factor = ContributingFactor.objects.create(
            slug=f"xss-factor-{index}",
            name=f"FACTOR{index} {vector}"[:100],
            category=ContributingFactor.Category.DESIGN,
            description=f"{vector}"[:300],
        )
        owner = UserFactory(username=f"xss-owner-{index}", first_name=f"OWNER{index}", last_name=vector[:150])
        TeamMembershipFactory(team=team, user=owner)
        sections = markdown_sections(vector, js_for(index))
        pm = services.postmortem_save(
            user=viewer,
            fields={
                "title": f"TITLE{index} xsscanary {vector}"[:200],
                "team": team,
                "severity": PostMortem.Severity.SEV2,
                "started_at": now,
                "what_happened": sections[0],
                "why_it_happened": sections[1],
                "what_we_change": sections[2],
                "what_we_dont_change": sections[3],
                "services": [service],
                "factors": [factor],
                "authors": [viewer, owner],
                "facilitator": owner,
            },
            timeline=[{"at": now, "text": f"TL{index} {vector}"[:1000]}],
            action_items=[
                {
                    "text": f"AI{index} {vector}"[:500],
                    "kind": ActionItem.Kind.TEST,
                    "owner": viewer,
                    "due_date": dt.date(2030, 1, 1),
                    "status": ActionItem.Status.OPEN,
                },
                {
                    "text": f"AI{index} second {vector}"[:500],
                    "kind": ActionItem.Kind.CODE,
                    "owner": owner,
                    "due_date": dt.date(2020, 1, 1),
                    "status": ActionItem.Status.NOT_DOING,
                    "not_doing_reason": f"NR{index} {vector}"[:1000],
                },
            ],
            declined_changes=[
                {"text": f"DC{index} {vector}"[:500], "rationale": f"DR{index} {vector}"[:2000]}
            ],
            fix_prs=[
                {
                    "url": f"https://github.com/acme/shop/pull/{index + 1}",
                    "title": f"PR{index} {vector}"[:300],
                }
            ],
        )
        seeded.postmortems.append(pm)
        seeded.teams.append(team)
    return seeded


# --- the oracle -----------------------------------------------------------------------

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "poster", "srcset", "xlink:href", "cite", "data",
                  "background", "ping"}  # fmt: skip
SAFE_SCHEMES = {"", "http", "https", "mailto"}
# Elements a page of ours may contain at all (its own markup plus sanitised Markdown).
PAGE_TAGS = ALLOWED_TAGS | {
    "html", "head", "meta", "title", "link", "script", "body", "header", "nav", "main", "footer",
    "section", "article", "aside", "div", "span", "form", "input", "button", "select", "option",
    "optgroup", "label", "textarea", "fieldset", "legend", "details", "summary", "small", "time",
    "mark", "template", "caption", "colgroup", "col", "tfoot", "noscript", "svg", "path", "figure",
    "figcaption", "u", "kbd", "q", "datalist", "progress", "meter", "output", "canvas",
    "use", "symbol", "defs", "g", "circle", "rect", "line", "polyline", "polygon",
}  # fmt: skip
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def url_scheme(url: str) -> str:
    """The scheme a browser reads from ``url`` (WHATWG: strip C0 controls and
    spaces at both ends, drop tab/CR/LF anywhere); "" for a relative URL. Not
    percent-decoded: browsers treat ``java%09script:`` as a path."""
    cleaned = re.sub(r"[\t\n\r]", "", url).strip("".join(chr(c) for c in range(0x21)))
    match = re.match(r"([a-zA-Z][a-zA-Z0-9+.-]*):", cleaned)
    return match.group(1).lower() if match else ""


class PageAudit(HTMLParser):
    """Finds anything in a page that could run script or restyle it.

    ``problems`` lists each finding; ``text`` is the page's text content. Inside
    ``<div class="prose">`` (rendered Markdown) only the sanitiser's allow-list
    is accepted; elsewhere, the page's own markup.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.chunks: list[str] = []
        self.stack: list[tuple[str, bool]] = []
        self.in_script = False

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def _in_prose(self) -> bool:
        return any(prose for _, prose in self.stack)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        in_prose = self._in_prose()
        if tag not in PAGE_TAGS:
            self.problems.append(f"element <{tag}>")
        if in_prose and tag not in ALLOWED_TAGS:
            self.problems.append(f"element <{tag}> in rendered Markdown")
        if tag == "script":
            src = attributes.get("src") or ""
            # json_script data blocks are not run (and escape "<", so cannot be closed early).
            is_data = attributes.get("type") == "application/json" and not src
            same_origin = src.startswith("/") and not src.startswith("//")
            if not same_origin and not is_data:
                self.problems.append(f"script not from this site: {src!r}")
            self.in_script = not is_data
        if tag == "meta" and "http-equiv" in attributes:
            self.problems.append("meta http-equiv")
        if tag == "link" and not (attributes.get("href") or "").startswith("/static/"):
            self.problems.append(f"link to {attributes.get('href')!r}")
        if tag == "base":
            self.problems.append("base element")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> event handler")
            if name in ("style", "srcdoc", "formaction") or name.startswith("hx-on"):
                self.problems.append(f"<{tag} {name}=…>")
            if name in URL_ATTRIBUTES and url_scheme(value) not in SAFE_SCHEMES:
                self.problems.append(f"<{tag} {name}={value!r}> unsafe URL scheme")
            if in_prose and name not in ALLOWED_ATTRIBUTES.get(tag, set()) and name != "rel":
                self.problems.append(f"<{tag} {name}=…> in rendered Markdown")
        if tag not in VOID:
            classes = (attributes.get("class") or "").split()
            self.stack.append((tag, "prose" in classes))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        if self.in_script and data.strip():
            self.problems.append("inline script content")
        self.chunks.append(data)


def audit(html: str) -> PageAudit:
    """Parse ``html`` with ``PageAudit``; read ``.problems`` and ``.text``."""
    page = PageAudit()
    page.feed(html)
    page.close()
    return page
