"""Is a post-mortem ready for its review? The lint summary and the readiness check.

The readiness check turns the practice of a blameless, specific, followed-through
post-mortem into a checklist a draft must pass before it goes to review: the
four sections written, a timeline, contributing factors, three to five specific
action items with owners and future due dates, declined changes with a
rationale, and no open blaming or vague wording. Sources: Google SRE book,
ch. 15 "Postmortem Culture" (the postmortem checklist and review criteria);
Etsy's "Debriefing Facilitation Guide" (Allspaw et al.) on specific actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone

from blameless import check_text
from postmortems.models import ActionItem, ContributingFactor, DeclinedChange, FindingWaiver, PostMortem
from postmortems.onepager import SECTION_FIELDS, SECTION_TITLES, is_filled

# Findings of these rules block the move to review until fixed or waived.
BLOCKING_RULES = frozenset({"blame", "vague-action"})


@dataclass(frozen=True)
class DocumentFinding:
    """A blameless-language finding located in a post-mortem.

    ``section`` is a section field name or ``"action_item"``; ``item_key`` names
    the action item (``"AI-3"``) for findings in one; ``start``/``end`` are offsets
    into that section's or item's text; ``waived`` is True when an author marked
    it intentional (``waiver_reason`` says why).
    """

    section: str
    rule: str
    message: str
    start: int
    end: int
    excerpt: str
    suggestion: str
    item_key: str = ""
    waived: bool = False
    waiver_reason: str = ""

    def as_dict(self) -> dict:
        return {
            "section": self.section,
            "item": self.item_key or None,
            "rule": self.rule,
            "message": self.message,
            "start": self.start,
            "end": self.end,
            "excerpt": self.excerpt,
            "suggestion": self.suggestion,
            "waived": self.waived,
            "waiver_reason": self.waiver_reason or None,
        }


def postmortem_lint(pm: PostMortem) -> list[DocumentFinding]:
    """Run the blameless-language checker over a post-mortem's sections and action items.

    Returns:
        Findings in document order (sections first, then action items), each
        marked ``waived`` when a ``FindingWaiver`` matches its section, rule and
        excerpt.
    """
    waivers = {
        (w.section, w.rule, w.excerpt): w.reason
        for w in FindingWaiver.objects.filter(postmortem=pm).only("section", "rule", "excerpt", "reason")
    }
    sources: list[tuple[str, str, str]] = [(name, "", getattr(pm, name) or "") for name in SECTION_FIELDS]
    items = ActionItem.objects.filter(postmortem=pm).order_by("id").values_list("pk", "text")
    sources += [("action_item", f"AI-{pk}", text) for pk, text in items]
    found: list[DocumentFinding] = []
    for section, item_key, text in sources:
        for f in check_text(text, section):
            reason = waivers.get((section, f.rule, f.excerpt[:300]), "")
            found.append(
                DocumentFinding(
                    section=section,
                    rule=f.rule,
                    message=f.message,
                    start=f.start,
                    end=f.end,
                    excerpt=f.excerpt,
                    suggestion=f.suggestion,
                    item_key=item_key,
                    waived=bool(reason),
                    waiver_reason=reason,
                )
            )
    return found


def lint_summary(findings: list[DocumentFinding]) -> dict:
    """Counts for the API and pages: ``{"open": n, "waived": n, "by_rule": {rule: open n}}``."""
    open_findings = [f for f in findings if not f.waived]
    by_rule: dict[str, int] = {}
    for f in open_findings:
        by_rule[f.rule] = by_rule.get(f.rule, 0) + 1
    return {"open": len(open_findings), "waived": len(findings) - len(open_findings), "by_rule": by_rule}


@dataclass(frozen=True)
class Check:
    """One line of the readiness checklist. ``blocking`` checks must pass; others warn."""

    id: str
    label: str
    passed: bool
    detail: str = ""
    blocking: bool = True


@dataclass(frozen=True)
class Readiness:
    """The readiness checklist of one post-mortem."""

    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True when every blocking check passes (warnings do not block)."""
        return all(c.passed for c in self.checks if c.blocking)

    @property
    def failing(self) -> list[Check]:
        return [c for c in self.checks if c.blocking and not c.passed]

    def as_dict(self) -> dict:
        return {
            "ready": self.passed,
            "checks": [
                {"id": c.id, "label": c.label, "passed": c.passed, "blocking": c.blocking, "detail": c.detail}
                for c in self.checks
            ],
        }


def readiness_check(pm: PostMortem, *, today=None) -> Readiness:
    """Check whether a post-mortem may move from draft to review.

    Args:
        pm: a saved post-mortem (rows are read from the database).
        today: the date "future due dates" are measured from (default: today in
            the server's time zone).

    Returns:
        A ``Readiness`` whose ``checks`` are, in order: ``sections``, ``timeline``,
        ``factors``, ``broad-factor`` (a warning), ``action-count``,
        ``action-items``, ``declined-changes`` and ``language``. The bounds of
        the action-item count come from ``KB_READINESS_MIN_ACTIONS`` and
        ``KB_READINESS_MAX_ACTIONS`` (defaults 3 and 5).
    """
    today = today or timezone.localdate()
    checks: list[Check] = []

    missing = [SECTION_TITLES[name] for name in SECTION_FIELDS if not is_filled(name, getattr(pm, name))]
    checks.append(
        Check(
            "sections",
            "All four sections are written",
            not missing,
            f"Missing: {', '.join(missing)}" if missing else "",
        )
    )

    timeline_count = pm.timeline.count()
    checks.append(
        Check(
            "timeline",
            "The timeline has at least one entry",
            timeline_count > 0,
            "" if timeline_count else "Add what happened when, from first signal to resolution.",
        )
    )

    factors = list(ContributingFactor.objects.filter(postmortems=pm).values_list("name", "is_broad"))
    checks.append(
        Check(
            "factors",
            "At least one contributing factor is tagged",
            bool(factors),
            "" if factors else "Tag the conditions of the system that contributed.",
        )
    )
    only_broad = len(factors) == 1 and factors[0][1]
    checks.append(
        Check(
            "broad-factor",
            "Contributing factors say more than a broad label",
            not only_broad,
            f"“{factors[0][0]}” alone explains little: what made it possible?" if only_broad else "",
            blocking=False,
        )
    )

    items = list(ActionItem.objects.filter(postmortem=pm).order_by("id"))
    low, high = settings.KB_READINESS_MIN_ACTIONS, settings.KB_READINESS_MAX_ACTIONS
    checks.append(
        Check(
            "action-count",
            f"Between {low} and {high} action items",
            low <= len(items) <= high,
            f"There are {len(items)}." if not low <= len(items) <= high else "",
        )
    )
    problems = []
    for item in items:
        if not item.is_closed and item.due_date <= today:
            problems.append(f"{item.key} is due {item.due_date:%Y-%m-%d}, not in the future")
    checks.append(
        Check(
            "action-items",
            "Each open action item has an owner and a future due date",
            not problems,
            "; ".join(problems),
        )
    )

    no_rationale = DeclinedChange.objects.filter(postmortem=pm, rationale__regex=r"^\s*$").count()
    checks.append(
        Check(
            "declined-changes",
            "Every declined change has a rationale",
            no_rationale == 0,
            f"{no_rationale} without a rationale." if no_rationale else "",
        )
    )

    blocking = [f for f in postmortem_lint(pm) if not f.waived and f.rule in BLOCKING_RULES]
    detail = "; ".join(
        f"{f.rule}: “{f.excerpt}”" + (f" ({f.item_key})" if f.item_key else "") for f in blocking[:5]
    )
    checks.append(
        Check(
            "language",
            "No open blame or vague-action findings",
            not blocking,
            detail + (f" and {len(blocking) - 5} more" if len(blocking) > 5 else ""),
        )
    )
    return Readiness(checks=checks)
