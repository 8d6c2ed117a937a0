"""Wording for DoD proposals: the suggested item text, the candidate wordings
shown beside the evidence, and the "why it happened" excerpt of each post-mortem.

The suggested text starts from the factor's ``suggested_dod_item`` (the
taxonomy's check for that condition) and borrows one concrete example from the
evidence's "What we change" action items, preferring tests, checks and process
changes — the kinds of action item that can become a Definition-of-Done check.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from patterns.models import ITEM_TEXT_MAX
from postmortems.models import ActionItem, ContributingFactor

EXCERPT_CHARS = 280
# Action-item kinds that read as a check a change must pass, best first.
_KIND_RANK = {
    ActionItem.Kind.TEST: 0,
    ActionItem.Kind.CHECK: 1,
    ActionItem.Kind.PROCESS: 2,
    ActionItem.Kind.DOCUMENTATION: 3,
    ActionItem.Kind.CODE: 4,
}
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_LINE_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_MD_EMPHASIS = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def plain(text: str) -> str:
    """Markdown as one line of plain text (links become their text)."""
    text = _MD_LINE_MARKS.sub("", _MD_LINK.sub(r"\1", text or ""))
    return " ".join(_MD_EMPHASIS.sub("", text).split())


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first sentences of ``text`` (Markdown) as plain text, at most ``limit`` characters."""
    flat = plain(text)
    if len(flat) <= limit:
        return flat
    kept = ""
    for sentence in _SENTENCE_END.split(flat):
        if len(kept) + len(sentence) + 1 > limit - 1:
            break
        kept = f"{kept} {sentence}".strip()
    if kept:
        return kept + " …"  # whole sentences kept, more follow
    return flat[: limit - 1].rsplit(" ", 1)[0] + "…"


def why_excerpt(*, why_it_happened: str, what_happened: str) -> tuple[str, str]:
    """The "why" excerpt of a post-mortem for the evidence list.

    Returns:
        ``(excerpt, section)`` where section is "why" or, when "Why it happened"
        is empty (most imported corpora), "what" for a "What happened" excerpt.
    """
    if (why_it_happened or "").strip():
        return excerpt(why_it_happened), "why"
    return excerpt(what_happened), "what"


def fallback_item(factor: ContributingFactor) -> str:
    """An item for a factor whose taxonomy entry has no suggestion."""
    return f"The change was checked for this contributing factor before release: {factor.name.lower()}."


def suggest_item_text(
    *,
    factor: ContributingFactor,
    action_items: Iterable[tuple[str, str]] = (),
    current_item_text: str = "",
) -> str:
    """The text a new proposal suggests.

    Args:
        factor: the recurring factor (its ``suggested_dod_item`` leads).
        action_items: ``(text, kind)`` of the evidence's action items, most
            recent post-mortem first.
        current_item_text: for an item that is not working, its current text;
            the suggestion then keeps it and adds the factor's check when the
            two differ.

    Returns:
        At most ``ITEM_TEXT_MAX`` characters.
    """
    base = (factor.suggested_dod_item or "").strip() or fallback_item(factor)
    if current_item_text:
        if current_item_text.strip().rstrip(".").lower() == base.rstrip(".").lower():
            text = base
        else:
            text = f"{current_item_text.strip().rstrip('.')}; and: {base[0].lower()}{base[1:]}"
    else:
        text = base
        ranked = sorted(enumerate(action_items), key=lambda pair: (_KIND_RANK.get(pair[1][1], 9), pair[0]))
        for _, (item_text, _kind) in ranked:
            example = " ".join(item_text.split()).rstrip(".")
            if example:
                candidate = f"{base.rstrip('.')}. For example: {example[0].lower()}{example[1:]}."
                if len(candidate) <= ITEM_TEXT_MAX:
                    text = candidate
                break
    return text[:ITEM_TEXT_MAX]


@dataclass(frozen=True)
class Wording:
    """A candidate wording shown beside a proposal: where it comes from and its text."""

    source: str  # "factor", "action_item" or "what_we_change"
    text: str
    postmortem_key: str = ""
    action_item_key: str = ""
    kind: str = ""
    status: str = ""


def candidate_wordings(
    *, factor: ContributingFactor, postmortems: Sequence, limit: int = 12
) -> list[Wording]:
    """Wordings a facilitator can start from when accepting a proposal.

    Args:
        factor: the proposal's factor.
        postmortems: evidence ``PostMortem`` objects, most recent first, with
            ``action_items`` prefetched.
        limit: most wordings returned (the factor's comes first).

    Returns:
        The factor's suggestion, then the evidence's action items (tests, checks
        and process changes first), then "What we change" excerpts of evidence
        without action items; duplicates (same text) once.
    """
    found = [Wording(source="factor", text=(factor.suggested_dod_item or fallback_item(factor)))]
    seen = {found[0].text.lower()}
    items: list[tuple[int, int, Wording]] = []
    for order, pm in enumerate(postmortems):
        rows = list(pm.action_items.all())
        for item in rows:
            wording = Wording(
                source="action_item",
                text=item.text,
                postmortem_key=pm.key,
                action_item_key=item.key,
                kind=item.kind,
                status=item.status,
            )
            items.append((_KIND_RANK.get(item.kind, 9), order, wording))
        if not rows and (pm.what_we_change or "").strip():
            items.append((10, order, Wording("what_we_change", excerpt(pm.what_we_change), pm.key)))
    for _, _, wording in sorted(items, key=lambda row: (row[0], row[1])):
        if wording.text.lower() not in seen:
            seen.add(wording.text.lower())
            found.append(wording)
        if len(found) >= limit:
            break
    return found
