"""The admin deletes softly and restores (issue 9): nothing is lost through /admin/."""

from __future__ import annotations

import pytest

from postmortems.models import PostMortem
from tests.factories import ActionItemFactory, PostMortemFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_admin_delete_view_soft_deletes(admin_client, team):
    pm = PostMortemFactory(team=team)
    item = ActionItemFactory(postmortem=pm)
    response = admin_client.post(f"/admin/postmortems/postmortem/{pm.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    stored = PostMortem.all_objects.get(pk=pm.pk)
    assert stored.deleted_at is not None and stored.deleted_by.username == "root"
    assert not PostMortem.objects.filter(pk=pm.pk).exists()
    assert stored.action_items.model.all_objects.filter(pk=item.pk).exists()  # rows kept


def test_admin_bulk_delete_action_soft_deletes_and_restore_action_brings_back(admin_client, team):
    first, second = PostMortemFactory(team=team), PostMortemFactory(team=team)
    changelist = "/admin/postmortems/postmortem/"
    response = admin_client.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [first.pk, second.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert PostMortem.all_objects.filter(pk__in=[first.pk, second.pk], deleted_at__isnull=False).count() == 2
    assert PostMortem.objects.filter(pk__in=[first.pk, second.pk]).count() == 0

    # Deleted documents are still listed in the admin, and the action restores them.
    listing = admin_client.get(changelist)
    assert first.title in listing.content.decode()
    response = admin_client.post(
        changelist, {"action": "restore_selected", "_selected_action": [first.pk]}, follow=True
    )
    assert f"Restored {first.key}" in response.content.decode()
    assert PostMortem.objects.filter(pk=first.pk).exists()
    assert not PostMortem.objects.filter(pk=second.pk).exists()
    reasons = list(PostMortem.history.filter(id=first.pk).values_list("history_change_reason", flat=True))
    assert "deleted" in reasons and "restored after deletion" in reasons
