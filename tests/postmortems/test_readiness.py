"""The readiness check and the lint summary (domain level; pages and API elsewhere)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from postmortems.models import PostMortem, ReadinessOverride
from postmortems.readiness import lint_summary, postmortem_lint, readiness_check
from postmortems.services import finding_waive, postmortem_save
from tests.factories import (
    ActionItemFactory,
    DeclinedChangeFactory,
    PostMortemFactory,
    TimelineEntryFactory,
    UserFactory,
    factor,
)


def _ready_document(**overrides) -> PostMortem:
    """A draft that passes every check."""
    pm = PostMortemFactory(
        status="draft", factors=[factor("config-change"), factor("missing-test")], **overrides
    )
    TimelineEntryFactory(postmortem=pm)
    future = timezone.localdate() + dt.timedelta(days=20)
    for text in (
        "Add a schema check that rejects a missing payment timeout",
        "Add a contract test for the gateway client timeouts",
        "Alert when checkout 5xx exceeds 2% for 5 minutes",
    ):
        ActionItemFactory(postmortem=pm, text=text, due_date=future)
    DeclinedChangeFactory(postmortem=pm)
    return pm


def _by_id(readiness):
    return {c.id: c for c in readiness.checks}


def test_a_complete_draft_is_ready(db):
    readiness = readiness_check(_ready_document())
    assert readiness.passed, readiness.failing
    assert [c.id for c in readiness.checks] == [
        "sections",
        "timeline",
        "factors",
        "broad-factor",
        "action-count",
        "action-items",
        "declined-changes",
        "language",
    ]


def test_missing_sections_and_bare_prompts_fail(db):
    from postmortems.onepager import SECTION_TEMPLATES

    pm = _ready_document(what_we_dont_change="", why_it_happened=SECTION_TEMPLATES["why_it_happened"])
    check = _by_id(readiness_check(pm))["sections"]
    assert not check.passed
    assert "Why it happened" in check.detail and "What we don't change" in check.detail


def test_timeline_and_factors_are_required(db):
    pm = _ready_document()
    pm.timeline.all().delete()
    pm.factors.clear()
    checks = _by_id(readiness_check(pm))
    assert not checks["timeline"].passed
    assert not checks["factors"].passed


def test_a_broad_factor_alone_only_warns(db):
    pm = _ready_document()
    pm.factors.set([factor("code-change")])
    readiness = readiness_check(pm)
    assert not _by_id(readiness)["broad-factor"].passed
    assert _by_id(readiness)["broad-factor"].blocking is False
    assert readiness.passed


@pytest.mark.parametrize(("count", "ok"), [(2, False), (3, True), (5, True), (6, False)])
def test_action_item_count_bounds(db, count, ok):
    pm = _ready_document()
    pm.action_items.all().delete()
    for n in range(count):
        ActionItemFactory(
            postmortem=pm,
            text=f"Add regression test number {n} for the gateway",
            due_date=timezone.localdate() + dt.timedelta(days=5),
        )
    assert _by_id(readiness_check(pm))["action-count"].passed is ok


def test_action_item_count_is_configurable(db, settings):
    settings.KB_READINESS_MIN_ACTIONS = 1
    pm = _ready_document()
    first = pm.action_items.first()
    pm.action_items.exclude(pk=first.pk).delete()
    assert readiness_check(pm).passed


def test_open_items_need_a_future_due_date_closed_ones_do_not(db):
    pm = _ready_document()
    item = pm.action_items.first()
    item.due_date = timezone.localdate()
    item.save()
    check = _by_id(readiness_check(pm))["action-items"]
    assert not check.passed and item.key in check.detail
    item.status = "done"
    item.save()
    assert _by_id(readiness_check(pm))["action-items"].passed


def test_blame_and_vague_actions_block_until_waived(db):
    pm = _ready_document(why_it_happened="The on-call engineer forgot to renew the certificate.")
    ActionItemFactory(
        postmortem=pm,
        text="Be more careful with certificates",
        due_date=timezone.localdate() + dt.timedelta(days=9),
    )
    findings = postmortem_lint(pm)
    rules = {(f.section, f.rule) for f in findings}
    assert ("why_it_happened", "blame") in rules
    assert ("action_item", "vague-action") in rules
    check = _by_id(readiness_check(pm))["language"]
    assert not check.passed and "forgot" in check.detail

    for f in findings:
        finding_waive(
            postmortem=pm,
            user=None,
            section=f.section,
            rule=f.rule,
            excerpt=f.excerpt,
            reason="Quoted from the incident channel",
        )
    assert _by_id(readiness_check(pm))["language"].passed
    summary = lint_summary(postmortem_lint(pm))
    assert summary["open"] == 0 and summary["waived"] == len(findings)


def test_counterfactuals_are_reported_but_do_not_block(db):
    pm = _ready_document(what_happened="If only the alert had fired, we would have caught it sooner.")
    findings = postmortem_lint(pm)
    assert any(f.rule == "counterfactual" for f in findings)
    assert _by_id(readiness_check(pm))["language"].passed


def test_waiver_needs_a_reason_and_a_known_section(db):
    pm = PostMortemFactory()
    with pytest.raises(ValidationError) as err:
        finding_waive(
            postmortem=pm, user=None, section="why_it_happened", rule="blame", excerpt="x", reason=" "
        )
    assert "reason" in err.value.message_dict
    with pytest.raises(ValidationError) as err:
        finding_waive(postmortem=pm, user=None, section="appendix", rule="blame", excerpt="x", reason="ok")
    assert "section" in err.value.message_dict
    assert pm.finding_waivers.count() == 0


def test_leaving_draft_is_refused_until_ready(db):
    pm = _ready_document(why_it_happened="Someone ignored the expiry warning.")
    with pytest.raises(ValidationError) as err:
        postmortem_save(postmortem=pm, fields={"status": "in_review"})
    assert any("No open blame" in message for message in err.value.message_dict["status"])
    pm.refresh_from_db()
    assert pm.status == "draft"
    postmortem_save(
        postmortem=pm,
        fields={"status": "in_review", "why_it_happened": "The expiry warning went to an unmonitored inbox."},
    )
    pm.refresh_from_db()
    assert pm.status == "in_review"


def test_creating_a_document_past_draft_is_checked_too(author, team):
    with pytest.raises(ValidationError):
        postmortem_save(
            user=author,
            fields={
                "title": "T",
                "team": team,
                "severity": "SEV3",
                "status": "published",
                "what_happened": "x",
                "why_it_happened": "y",
            },
        )
    assert PostMortem.objects.count() == 0


def test_staff_can_override_with_a_recorded_reason(db):
    admin = UserFactory(is_staff=True)
    pm = PostMortemFactory(status="draft")
    postmortem_save(
        user=admin,
        postmortem=pm,
        fields={"status": "in_review"},
        readiness_override_reason="Review meeting already booked; actions follow",
    )
    pm.refresh_from_db()
    assert pm.status == "in_review"
    override = ReadinessOverride.objects.get(postmortem=pm)
    assert (override.from_status, override.to_status, override.created_by) == ("draft", "in_review", admin)
    assert {c["id"] for c in override.failing_checks} >= {"timeline", "action-count"}


def test_non_staff_cannot_override(db):
    pm = PostMortemFactory(status="draft")
    with pytest.raises(ValidationError) as err:
        postmortem_save(
            user=UserFactory(),
            postmortem=pm,
            fields={"status": "in_review"},
            readiness_override_reason="trust me",
        )
    assert "Only an admin" in str(err.value)
    pm.refresh_from_db()
    assert pm.status == "draft"
    assert not ReadinessOverride.objects.exists()


def test_moves_between_later_statuses_are_not_gated(db):
    pm = PostMortemFactory(status="in_review")
    postmortem_save(postmortem=pm, fields={"status": "reviewed"})
    pm.refresh_from_db()
    assert pm.status == "reviewed"
