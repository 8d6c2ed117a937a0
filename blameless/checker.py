"""Run the blameless-language rules over a piece of Markdown.

``check_text`` is the one entry point: it masks the parts of the Markdown that
are code, runs every rule that applies to the section, and returns findings
whose ``start``/``end`` are character offsets into the text it was given, so an
editor can underline ``text[start:end]``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from blameless.rules import RULES, SECTIONS, WINDOW, Rule, Unless

#: Texts longer than this are checked only up to this many characters (see ``check_text``).
DEFAULT_MAX_CHARS = 200_000


@dataclass(frozen=True)
class Finding:
    """One flagged phrase. ``start``/``end`` are offsets into the original text
    (``text[start:end] == excerpt``); ``rule`` is a rule id from ``RULES``."""

    rule: str
    message: str
    start: int
    end: int
    excerpt: str
    suggestion: str


class Findings(list[Finding]):
    """The findings of one check, sorted by ``start``: a plain ``list`` that also
    says how much of the text was checked.

    ``truncated`` is True when the text was longer than ``max_chars`` and only
    its first ``checked_chars`` characters were checked; findings never point
    past ``checked_chars``.
    """

    def __init__(self, findings: Iterable[Finding] = (), *, truncated: bool = False, checked_chars: int = 0):
        super().__init__(findings)
        self.truncated = truncated
        self.checked_chars = checked_chars


def check_text(
    text: str, section: str | None = None, *, max_chars: int | None = DEFAULT_MAX_CHARS
) -> Findings:
    """Flag blaming, human-error, counterfactual and vague-action wording in ``text``.

    ``text`` is Markdown. Fenced code blocks (``` and ~~~), indented code blocks
    and inline code spans are not checked; block quotes are. ``section`` is one
    of ``rules.SECTIONS`` and selects the rules that apply to it (vague-action
    only applies to ``what_we_change`` and ``action_item``); ``None`` runs every
    rule.

    Returns a ``Findings`` list sorted by ``start``, with at most one finding per
    rule for any overlapping span (overlapping matches of a rule are merged).
    When ``len(text) > max_chars`` only the first ``max_chars`` characters (cut
    back to the last whitespace, so no word is split) are checked and the result
    has ``truncated=True``; ``max_chars=None`` checks everything. The patterns
    are linear, so the cap bounds the time: about 0.4 ms per KB of prose (8 ms
    for 20 KB, 80 ms at the default cap), and about 1 s at the cap for hostile
    input that repeats a trigger phrase on every word.

    Raises ``ValueError`` for an unknown ``section`` and ``TypeError`` when
    ``text`` is not a ``str``. Any ``str`` (control characters, lone surrogates,
    binary noise decoded with ``errors="surrogateescape"``) is accepted.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be a positive number of characters or None, not {max_chars!r}")
    rules = rules_for_section(section)
    truncated = max_chars is not None and len(text) > max_chars
    if truncated:
        cut = _cut_point(text, max_chars)
        text = text[:cut]
    if not text.strip():
        return Findings(truncated=truncated, checked_chars=len(text))

    prepared = _Text(mask_code(text).translate(_NORMALISE))
    candidates = _candidates(_anchor_finder(tuple(rule.id for rule in rules)), prepared.folded)
    found: list[Finding] = []
    for rule in rules:
        spans = sorted(_rule_spans(rule, prepared, candidates))
        for start, end in _merge(spans):
            found.append(Finding(rule.id, rule.message, start, end, text[start:end], rule.suggestion))
    found.sort(key=lambda f: (f.start, f.end, f.rule))
    return Findings(found, truncated=truncated, checked_chars=len(text))


def rules_for_section(section: str | None) -> list[Rule]:
    """The rules that apply to ``section`` (all of them for ``None``).

    Raises ``ValueError`` naming the valid sections when ``section`` is unknown."""
    if section is None:
        return list(RULES)
    if section not in SECTIONS:
        raise ValueError(
            f"unknown section {section!r}; expected one of: {', '.join(SECTIONS)} (or None for all)"
        )
    return [rule for rule in RULES if section in rule.sections]


# --- Markdown masking ---------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_BACKTICKS = re.compile(r"`+")
_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")


def mask_code(text: str) -> str:
    """``text`` with code replaced by spaces (newlines kept), same length.

    Follows CommonMark closely enough for prose checking: a fence of 3+
    backticks or tildes (at any indent, so fences nested in list items count)
    opens a block closed by a fence of the same character at least as long (or
    the end of the text); a line indented by 4+ spaces or a tab after a blank
    line, outside a list, is indented code; a run of N backticks opens an
    inline span closed by the next run of exactly N backticks in the same
    paragraph."""
    chars = list(text)
    _mask_blocks(text, chars)
    _mask_inline("".join(chars), chars)
    return "".join(chars)


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _mask_blocks(text: str, chars: list[str]) -> None:
    pos = 0
    fence: str | None = None  # the opening fence while inside a fenced block
    previous_blank = True
    in_list = False
    in_indented_code = False
    for line in text.splitlines(keepends=True):
        start, pos = pos, pos + len(line)
        body = line.rstrip("\r\n")
        if fence is not None:
            _blank(chars, start, pos)
            stripped = body.strip()
            if (
                stripped
                and stripped[0] == fence[0]
                and set(stripped) == {fence[0]}
                and len(stripped) >= len(fence)
            ):
                fence = None
            previous_blank = False
            continue
        opening = _FENCE_OPEN.match(body)
        if opening:
            fence = opening.group(1)
            _blank(chars, start, pos)
            previous_blank = in_indented_code = False
            continue
        if not body.strip():
            previous_blank = True
            continue
        indented = body.startswith(("    ", "\t"))
        if indented and not in_list and (previous_blank or in_indented_code):
            _blank(chars, start, pos)
            in_indented_code = True
        else:
            in_indented_code = False
            if _LIST_ITEM.match(body):
                in_list = True
            elif not indented and previous_blank:
                in_list = False
        previous_blank = False


def _mask_inline(text: str, chars: list[str]) -> None:
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(text)]
    if len(runs) < 2:
        return
    paragraph_breaks = [m.start() for m in _BLANK_LINE.finditer(text)]
    # next_same[i]: index of the next run with the same length as run i (linear, from the end).
    next_same: list[int | None] = [None] * len(runs)
    last_seen: dict[int, int] = {}
    for i in range(len(runs) - 1, -1, -1):
        length = runs[i][1] - runs[i][0]
        next_same[i] = last_seen.get(length)
        last_seen[length] = i
    cursor = 0
    for i, (start, _end) in enumerate(runs):
        if start < cursor:
            continue
        j = next_same[i]
        if j is None:
            continue
        close_start, close_end = runs[j]
        # A code span never crosses a blank line.
        if bisect_left(paragraph_breaks, start) != bisect_left(paragraph_breaks, close_start):
            continue
        _blank(chars, start, close_end)
        cursor = close_end


# --- Matching -----------------------------------------------------------------------------

# Same-length substitutions so that curly quotes and odd spaces match the
# patterns; offsets are unchanged because every mapping is one char to one char.
_NORMALISE = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " ", "\u2011": "-"})
# ASCII lower-casing for the scan pass (str.lower() may change the length, e.g. "İ").
_FOLD = str.maketrans({chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)})

#: How far before an anchor a subject may start (a noun phrase plus a few adverbs).
SUBJECT_REACH = 80

# Sentence ends: ., ! or ? before a space or the end, a blank line, or a new
# list item, heading, quote or table row.
_SENTENCE_BREAK = re.compile(
    r"[.!?]+(?=[\s\"')\]*_]|$)|\n[ \t\r]*\n|\n(?=[ \t]*(?:[-*+>#|]|\d{1,9}[.)])[ \t])"
)


class _Text:
    """The masked text, its lower-cased copy for scanning, and its sentence breaks."""

    def __init__(self, masked: str):
        self.masked = masked
        self.folded = masked.translate(_FOLD)
        found = [(m.start(), m.end()) for m in _SENTENCE_BREAK.finditer(masked)]
        self.break_starts = [s for s, _ in found]
        self.break_ends = [e for _, e in found]

    def before(self, start: int) -> str:
        """The sentence text that ends at ``start`` (at most ``WINDOW`` characters)."""
        i = bisect_right(self.break_ends, start)
        sentence_start = self.break_ends[i - 1] if i else 0
        return self.masked[max(sentence_start, start - WINDOW) : start]

    def after(self, end: int) -> str:
        """The sentence text that starts at ``end`` (at most ``WINDOW`` characters)."""
        i = bisect_left(self.break_starts, end)
        sentence_end = self.break_starts[i] if i < len(self.break_starts) else len(self.masked)
        return self.masked[end : min(sentence_end, end + WINDOW)]


@lru_cache(maxsize=32)
def _anchor_finder(rule_ids: tuple[str, ...]) -> re.Pattern[str]:
    """One regex that matches wherever any scan pattern of these rules matches.

    Running ~30 patterns over the whole text costs ~30 passes; this finds the
    few places where some pattern can start in a single pass, and each pattern
    is then tried only there (``_rule_spans``). Every scan pattern starts with
    ``\\b`` (``rules._scan`` checks), so one shared ``\\b`` leads the alternation."""
    sources = [pattern.scan.pattern[2:] for rule in RULES if rule.id in rule_ids for pattern in rule.patterns]
    return re.compile(r"\b(?:" + "|".join(f"(?:{source})" for source in sources) + ")", re.MULTILINE)


def _candidates(finder: re.Pattern[str], folded: str) -> list[int]:
    """Every offset where ``finder`` matches, overlapping matches included."""
    found: list[int] = []
    match = finder.search(folded)
    while match is not None:
        found.append(match.start())
        match = finder.search(folded, match.start() + 1)
    return found


def _rule_spans(rule: Rule, text: _Text, candidates: list[int]):
    for pattern in rule.patterns:
        for candidate in candidates:
            match = pattern.scan.match(text.folded, candidate)
            if match is None:
                continue
            start, end = match.span()
            if start == end:
                continue
            if pattern.subject is not None:
                # search() with pos/endpos: lookbehinds still see the text before pos, and $ is the anchor.
                subject = pattern.subject.search(text.masked, max(0, start - SUBJECT_REACH), start)
                if subject is None:
                    continue
                start = subject.start()
            if pattern.object is not None:
                obj = pattern.object.match(text.masked, end, min(len(text.masked), end + WINDOW))
                if obj is None:
                    continue
                end = obj.end()
            if any(_applies(unless, text, start, end) for unless in pattern.unless):
                continue
            start, end = _trim(text.masked, start, end)
            if start < end:
                yield start, end


def _applies(unless: Unless, text: _Text, start: int, end: int) -> bool:
    if unless.before is not None and not unless.before.search(text.before(start)):
        return False
    return unless.after is None or bool(unless.after.match(text.after(end)))


def _trim(masked: str, start: int, end: int) -> tuple[int, int]:
    while start < end and masked[start].isspace():
        start += 1
    while end > start and masked[end - 1].isspace():
        end -= 1
    return start, end


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge overlapping (start, end) spans; ``spans`` must be sorted."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _cut_point(text: str, max_chars: int) -> int:
    """Where to cut an over-long text: at ``max_chars``, moved back to the last
    whitespace within 1,000 characters so that no word is split."""
    window = max(0, max_chars - 1000)
    space = max(text.rfind(" ", window, max_chars), text.rfind("\n", window, max_chars))
    return space if space > 0 else max_chars
