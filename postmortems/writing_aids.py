"""The blameless writing aids as the pages and the API show them.

The checker (``blameless``) and the readiness check (``postmortems.readiness``)
hold the rules; this module only says who sees and acts on their results and
shapes them for display, so the web views and the API share one answer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from postmortems import access
from postmortems.models import PostMortem
from postmortems.onepager import SECTION_FIELDS, SECTION_TITLES
from postmortems.readiness import DocumentFinding, lint_summary, postmortem_lint

#: Short labels for the rule badges (rule ids come from ``blameless.RULES``).
RULE_LABELS = {
    "blame": "Blame",
    "human-error": "Human error",
    "counterfactual": "Hindsight",
    "vague-action": "Vague action",
}

#: Where a finding can be: the four sections and the action items, in page order.
FINDING_SECTIONS = (*SECTION_FIELDS, "action_item")
FINDING_SECTION_TITLES = {**SECTION_TITLES, "action_item": "Action items"}


def may_review_language(user, pm: PostMortem) -> bool:
    """True when ``user`` sees the language check and readiness checklist of ``pm``
    and may waive findings or move it to review: whoever may change the
    document (``access.can_edit``: its authors, its team, its facilitator, whoever
    created it and admins — the people who write and run the review, as in the
    Google SRE book, ch. 15). One rule for the pages and the API (issue 9).

    Reads ``pm.authors.all()`` when prefetched, so a prefetch of ``authors`` saves a query.
    """
    return access.can_edit(user, pm)


def lint_report(pm: PostMortem, findings: list[DocumentFinding] | None = None) -> dict:
    """The ``lint`` block of the API detail.

    Returns:
        ``{"open": int, "waived": int, "by_rule": {rule: open count},
        "findings": [DocumentFinding.as_dict(), ...]}`` (document order).
    """
    findings = postmortem_lint(pm) if findings is None else findings
    return {**lint_summary(findings), "findings": [f.as_dict() for f in findings]}


def finding_for_display(finding) -> dict:
    """A ``blameless.Finding`` or ``DocumentFinding`` as a dict for templates, with
    ``label`` (the rule's badge text) added."""
    shown = finding.as_dict() if isinstance(finding, DocumentFinding) else asdict(finding)
    shown["label"] = RULE_LABELS.get(finding.rule, finding.rule)
    return shown


@dataclass
class FindingGroup:
    """The findings of one section (or of the action items), for the page panel:
    ``findings`` are ``finding_for_display`` dicts in document order."""

    section: str
    title: str
    findings: list[dict] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return sum(1 for f in self.findings if not f["waived"])


def findings_by_section(findings: list[DocumentFinding]) -> list[FindingGroup]:
    """Group findings by section in page order; sections without findings are left out."""
    groups = {name: FindingGroup(name, FINDING_SECTION_TITLES[name]) for name in FINDING_SECTIONS}
    for finding in findings:
        group = groups.get(finding.section)
        if group is None:  # a section name the page does not know: still show it
            group = groups.setdefault(finding.section, FindingGroup(finding.section, finding.section))
        group.findings.append(finding_for_display(finding))
    return [group for group in groups.values() if group.findings]
