"""Definition-of-Done versions (who, when, why; items keep their uid), the diff
and the Markdown checklist, and decisions on DoD proposals."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from patterns import selectors, services
from patterns.detection import detect_patterns
from patterns.models import DefinitionOfDone, DoDItem, DoDProposal, DoDVersion, PatternSettings
from patterns.services import ItemData
from tests.factories import factor
from tests.patterns.conftest import day, pm_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def dod(team):
    return services.dod_get_or_create(team=team)


def change(dod, user, *texts_or_items, reason="Because.", **kwargs):
    items = [ItemData(text=t) if isinstance(t, str) else t for t in texts_or_items]
    return services.dod_change(dod=dod, user=user, items=items, reason=reason, **kwargs)


def test_every_change_makes_a_numbered_version_with_who_when_and_why(dod, author):
    first = change(dod, author, "Tests pass", "Config is validated", reason="Start from the team's habits.")
    current = services.dod_current(dod=dod)
    uids = [item.uid for item in current.items]
    second = change(
        dod,
        author,
        ItemData(text="Config is validated by a schema check", uid=uids[1]),
        ItemData(text="Tests pass", uid=uids[0]),
        reason="Sharper wording; config first.",
    )

    assert (first.number, second.number) == (1, 2)
    assert (second.created_by, second.reason) == (author, "Sharper wording; config first.")
    items = list(second.items.order_by("position"))
    assert [(i.position, i.text) for i in items] == [
        (1, "Config is validated by a schema check"),
        (2, "Tests pass"),
    ]
    assert [i.uid for i in items] == [uids[1], uids[0]]
    # The old version is kept as it was.
    assert list(first.items.order_by("position").values_list("text", flat=True)) == [
        "Tests pass",
        "Config is validated",
    ]


def test_adopted_at_moves_only_when_the_wording_changes(dod, author):
    change(dod, author, "Tests pass", "Config is validated")
    before = {i.text: i for i in services.dod_current(dod=dod).items}
    change(
        dod,
        author,
        ItemData(text="Tests pass", uid=before["Tests pass"].uid),
        ItemData(text="Config is validated by CI", uid=before["Config is validated"].uid),
    )
    after = {i.uid: i for i in services.dod_current(dod=dod).items}
    assert after[before["Tests pass"].uid].adopted_at == before["Tests pass"].adopted_at
    assert after[before["Config is validated"].uid].adopted_at > before["Config is validated"].adopted_at


def test_a_change_needs_a_reason_and_valid_items_and_saves_nothing_otherwise(dod, author):
    change(dod, author, "Tests pass")
    with pytest.raises(ValidationError) as blank:
        change(dod, author, "Tests pass", "More", reason="   ")
    assert "reason" in blank.value.message_dict
    with pytest.raises(ValidationError) as empty_item:
        change(dod, author, "Tests pass", "   ")
    assert "Item 2" in empty_item.value.message_dict["items"][0]
    with pytest.raises(ValidationError) as twice:
        change(dod, author, "Tests pass", "tests  PASS")
    assert "twice" in twice.value.message_dict["items"][0]
    with pytest.raises(ValidationError) as unknown:
        change(dod, author, ItemData(text="x", uid="00000000-0000-0000-0000-000000000000"))
    assert "no such item" in unknown.value.message_dict["items"][0]
    with pytest.raises(ValidationError) as same:
        change(dod, author, ItemData(text="Tests pass", uid=services.dod_current(dod=dod).items[0].uid))
    assert "Nothing changed" in same.value.message_dict["items"][0]
    assert DoDVersion.objects.filter(dod=dod).count() == 1


def test_a_change_from_a_stale_version_is_refused(dod, author):
    change(dod, author, "Tests pass")
    change(dod, author, "Tests pass", "Docs updated", base_version=1)
    with pytest.raises(services.StaleVersion):
        change(dod, author, "Tests pass", "Something else", base_version=1)
    assert DoDVersion.objects.filter(dod=dod).count() == 2


def test_one_org_dod_and_one_per_team(team, author):
    org = services.dod_get_or_create(team=None)
    assert services.dod_get_or_create(team=None) == org
    assert services.dod_get_or_create(team=team) == services.dod_get_or_create(team=team)
    assert DefinitionOfDone.objects.count() == 2
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        DefinitionOfDone.objects.create(scope="org", team=None)


def test_diff_names_added_removed_changed_and_moved_items(dod, author):
    v1 = change(dod, author, "A", "B", "C", "D")
    uid = {i.text: i.uid for i in services.dod_current(dod=dod).items}
    v2 = change(
        dod,
        author,
        ItemData(text="C", uid=uid["C"]),
        ItemData(text="A", uid=uid["A"]),
        ItemData(text="B plus more words", uid=uid["B"], factor=factor("config-change")),
        "E",
    )

    diff = selectors.dod_diff(old=v1, new=v2)

    ops = [(c.op, c.old_text, c.new_text) for c in diff.changes]
    assert ops == [
        ("moved", "C", "C"),
        ("removed", "D", ""),
        ("moved", "A", "A"),
        ("changed", "B", "B plus more words"),
        ("added", "", "E"),
    ]
    changed = diff.changes[3]
    assert [(p.op, p.text) for p in changed.words] == [("same", "B"), ("added", "plus more words")]
    assert (changed.old_factor, changed.new_factor) == ("", "config-change")
    assert "-- [ ] D" in diff.unified and "+- [ ] E" in diff.unified

    from_empty = selectors.dod_diff(old=None, new=v1)
    assert [c.op for c in from_empty.changes] == ["added"] * 4 and from_empty.old_number == 0


def test_markdown_checklist_is_ready_for_a_pull_request_template(dod, author):
    change(dod, author, "Config is <validated>", "Tests\npass")
    text = selectors.dod_markdown(
        current=services.dod_current(dod=dod), scope_name="Payments", url="http://x/y"
    )
    assert text == (
        "<!-- Definition of Done: Payments, version 1 (http://x/y) -->\n"
        "## Definition of Done\n\n"
        "- [ ] Config is &lt;validated>\n"
        "- [ ] Tests pass\n"
    )


# --- decisions -----------------------------------------------------------------------------


@pytest.fixture
def proposal(team):
    pms = [pm_at(team, day(d), "config-change") for d in (0, 30, 60)]
    detect_patterns()
    found = DoDProposal.objects.get(status="open")
    found.evidence_pms = pms
    return found


def test_accept_creates_a_version_with_the_item_linked_to_the_evidence(proposal, author, team):
    decided = services.proposal_accept(
        proposal=proposal, user=author, text="  Config changes pass a schema check. "
    )

    assert (decided.status, decided.decided_by, decided.accepted_text) == (
        "accepted",
        author,
        "Config changes pass a schema check.",
    )
    version = decided.dod_version
    assert version.dod.team == team and version.number == 1 and version.created_by == author
    assert f"#{proposal.pk}" in version.reason and "PM-" in version.reason
    item = version.items.get()
    assert (item.text, item.factor.slug) == ("Config changes pass a schema check.", "config-change")
    assert set(item.postmortems.all()) == set(proposal.evidence_pms)


def test_accept_twice_or_after_reject_is_refused(proposal, author):
    services.proposal_accept(proposal=proposal, user=author)
    with pytest.raises(services.ProposalDecided):
        services.proposal_accept(proposal=proposal, user=author)
    with pytest.raises(services.ProposalDecided):
        services.proposal_reject(proposal=proposal, user=author, reason="No")
    assert DoDVersion.objects.count() == 1


def test_reject_needs_a_reason(proposal, author):
    with pytest.raises(ValidationError) as error:
        services.proposal_reject(proposal=proposal, user=author, reason="  ")
    assert "reason" in error.value.message_dict
    proposal.refresh_from_db()
    assert proposal.status == "open" and proposal.reason == ""

    services.proposal_reject(proposal=proposal, user=author, reason="Each config change had another cause.")
    proposal.refresh_from_db()
    assert (proposal.status, proposal.reason, proposal.decided_by) == (
        "rejected",
        "Each config change had another cause.",
        author,
    )


def test_accepting_not_working_rewrites_the_item_and_readopts_it(proposal, author, team):
    accepted = services.proposal_accept(
        proposal=proposal, user=author, text="Config changes pass a schema check."
    )
    item = accepted.dod_version.items.get()
    later = [
        pm_at(team, item.adopted_at.replace(microsecond=0) + (day(d) - day(0)), "config-change")
        for d in (1, 2, 3)
    ]
    detect_patterns()
    not_working = DoDProposal.objects.get(status="open")

    again = services.proposal_accept(
        proposal=not_working, user=author, text="Config changes pass a schema check and a canary."
    )

    rewritten = again.dod_version.items.get()
    assert rewritten.uid == item.uid and again.dod_version.number == 2
    assert rewritten.text == "Config changes pass a schema check and a canary."
    assert rewritten.adopted_at > item.adopted_at
    assert set(rewritten.postmortems.all()) == set(proposal.evidence_pms) | set(later)


def test_pattern_settings_are_created_on_demand_and_validated(team, author):
    assert not PatternSettings.objects.exists()
    assert services.pattern_settings_for(team=team).min_incidents == 3
    saved = services.pattern_settings_update(team=team, user=author, min_incidents=4, window_days=30)
    assert (saved.min_incidents, saved.window_days, saved.updated_by) == (4, 30, author)
    with pytest.raises(ValidationError):
        services.pattern_settings_update(team=team, user=author, min_incidents=1, window_days=30)
    saved.refresh_from_db()
    assert saved.min_incidents == 4


def test_dod_items_reject_blank_text_at_the_database(dod, author):
    from django.db import IntegrityError, transaction

    version = change(dod, author, "A")
    with pytest.raises(IntegrityError), transaction.atomic():
        DoDItem.objects.create(version=version, position=2, text="")
