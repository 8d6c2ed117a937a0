"""The one visibility/edit rule set (postmortems.access), its queryset form and
the soft delete and revision services that sit on it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from postmortems import access, services
from postmortems.models import ActionItem, PostMortem, TeamMembership
from tests.factories import (
    ActionItemFactory,
    PostMortemFactory,
    TeamFactory,
    TeamMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(team, author, teammate, outsider):
    """Everyone in the policy table, keyed by role name."""
    lead = UserFactory(username="lena")
    TeamMembershipFactory(team=team, user=lead, role=TeamMembership.Role.LEAD)
    facilitator = UserFactory(username="fiona")
    named = UserFactory(username="nadia")
    admin = UserFactory(username="root", is_staff=True)
    inactive = UserFactory(username="gone", is_active=False)
    TeamMembershipFactory(team=team, user=inactive)
    return {
        "anonymous": AnonymousUser(),
        "outsider": outsider,
        "member": teammate,
        "lead": lead,
        "author": author,
        "facilitator": facilitator,
        "named": named,
        "admin": admin,
        "inactive": inactive,
    }


@pytest.fixture
def restricted(team, people):
    other_team_author = people["author"]
    pm = PostMortemFactory(
        team=team,
        visibility=PostMortem.Visibility.RESTRICTED,
        facilitator=people["facilitator"],
        authors=[other_team_author],
        title="Leaked signing key",
    )
    pm.restricted_to.add(people["named"])
    return pm


# Who reads a restricted document, who changes it (the policy table).
RESTRICTED_POLICY = {
    "anonymous": (False, False),
    "inactive": (False, False),
    "outsider": (False, False),
    "member": (True, True),
    "lead": (True, True),
    "author": (True, True),
    "facilitator": (True, True),
    "named": (True, False),
    "admin": (True, True),
}


@pytest.mark.parametrize("who", sorted(RESTRICTED_POLICY))
def test_restricted_document_policy(people, restricted, who):
    user = people[who]
    may_read, may_edit = RESTRICTED_POLICY[who]
    assert access.can_view(user, restricted) is may_read
    assert access.can_edit(user, restricted) is may_edit
    assert PostMortem.objects.visible_to(user).filter(pk=restricted.pk).exists() is may_read
    assert PostMortem.objects.editable_by(user).filter(pk=restricted.pk).exists() is may_edit


@pytest.mark.parametrize("who", sorted(RESTRICTED_POLICY))
def test_organisation_document_is_read_by_every_active_user(people, team, who):
    pm = PostMortemFactory(team=team, facilitator=people["facilitator"], authors=[people["author"]])
    expected = who not in ("anonymous", "inactive")
    assert access.can_view(people[who], pm) is expected
    assert PostMortem.objects.visible_to(people[who]).filter(pk=pm.pk).exists() is expected
    # Reading is not changing: outsiders and named readers may not edit.
    assert access.can_edit(people[who], pm) is (RESTRICTED_POLICY[who][1])


def test_queryset_has_no_duplicates_when_several_rules_match(people, restricted):
    # The author is also a team member and a named reader: still one row.
    restricted.restricted_to.add(people["author"])
    assert PostMortem.objects.visible_to(people["author"]).filter(pk=restricted.pk).count() == 1


def test_action_items_follow_their_document(people, restricted):
    item = ActionItemFactory(postmortem=restricted, owner=people["member"])
    assert ActionItem.objects.visible_to(people["outsider"]).filter(pk=item.pk).exists() is False
    assert ActionItem.objects.visible_to(people["named"]).filter(pk=item.pk).exists() is True


def test_outsider_gets_404_not_403(people, restricted):
    with pytest.raises(Http404):
        access.get_visible_postmortem(people["outsider"], restricted.pk)
    with pytest.raises(Http404):
        access.get_visible_postmortem(people["outsider"], 10**9)  # same answer as missing
    assert access.get_visible_postmortem(people["named"], restricted.pk) == restricted
    with pytest.raises(PermissionDenied):
        access.require_edit(people["named"], restricted)


def test_an_action_item_owner_reads_the_restricted_document_but_may_not_edit_it(people, restricted):
    owner = UserFactory(username="oscar")
    assert access.can_view(owner, restricted) is False
    ActionItemFactory(postmortem=restricted, owner=owner)
    assert access.can_view(owner, restricted) is True
    assert PostMortem.objects.visible_to(owner).filter(pk=restricted.pk).count() == 1
    assert access.can_edit(owner, restricted) is False


def test_sees_restricted(people, restricted):
    assert access.sees_restricted(people["member"]) is True
    assert access.sees_restricted(people["admin"]) is True
    assert access.sees_restricted(people["outsider"]) is False
    assert access.sees_restricted(people["anonymous"]) is False


def test_soft_delete_hides_everywhere_and_admin_restores(people, team):
    pm = PostMortemFactory(team=team)
    item = ActionItemFactory(postmortem=pm, owner=people["member"])
    with pytest.raises(PermissionDenied):
        services.postmortem_delete(user=people["member"], postmortem=pm)
    assert PostMortem.objects.filter(pk=pm.pk).exists()

    services.postmortem_delete(user=people["lead"], postmortem=pm)
    assert not PostMortem.objects.filter(pk=pm.pk).exists()
    assert not PostMortem.objects.visible_to(people["admin"]).filter(pk=pm.pk).exists()
    assert not ActionItem.objects.filter(pk=item.pk).exists()
    stored = PostMortem.all_objects.get(pk=pm.pk)
    assert stored.deleted_by == people["lead"] and stored.deleted_at is not None
    # The rows are kept: an action item still reaches its (deleted) document.
    assert ActionItem.all_objects.get(pk=item.pk).postmortem.pk == pm.pk
    assert access.can_view(people["admin"], stored) is False

    with pytest.raises(PermissionDenied):
        services.postmortem_restore(user=people["lead"], postmortem=stored)
    services.postmortem_restore(user=people["admin"], postmortem=stored)
    assert PostMortem.objects.filter(pk=pm.pk).exists()
    assert ActionItem.objects.filter(pk=item.pk).exists()
    reasons = list(PostMortem.history.filter(id=pm.pk).values_list("history_change_reason", flat=True))
    assert "deleted" in reasons and "restored after deletion" in reasons


def test_author_may_delete_own_draft_but_not_a_published_document(people, team):
    draft = PostMortemFactory(team=TeamFactory(), authors=[people["outsider"]])
    assert access.can_delete(people["outsider"], draft) is True
    draft.status = PostMortem.Status.PUBLISHED
    assert access.can_delete(people["outsider"], draft) is False


def test_each_save_stores_one_revision_with_relations(people, team):
    pm = services.postmortem_save(
        user=people["author"],
        fields={"title": "Checkout 500s", "team": team, "severity": "SEV2"},
        action_items=[
            {
                "text": "Add a contract test",
                "kind": "test",
                "owner": people["member"],
                "due_date": "2030-01-01",
            }
        ],
    )
    first = PostMortem.history.filter(id=pm.pk).get()
    assert first.history_type == "+"
    assert first.history_user == people["author"]
    assert first.related["authors"] == [people["author"].pk]
    assert first.related["action_items"][0]["text"] == "Add a contract test"

    services.postmortem_save(
        user=people["member"], postmortem=pm, fields={"title": "Checkout 500s after deploy"}
    )
    revisions = PostMortem.history.filter(id=pm.pk).order_by("history_id")
    assert [r.history_type for r in revisions] == ["+", "~"]
    assert revisions[1].title == "Checkout 500s after deploy"
    assert revisions[1].history_user == people["member"]
    assert revisions[1].version == 2
    # The action item has its own history, with who created it.
    item = ActionItem.objects.get(postmortem=pm)
    assert item.history.get().history_user == people["author"]
