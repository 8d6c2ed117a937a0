"""Issue 9 in the GitHub webhook: a soft-deleted post-mortem is never acted on.

A pull request that names a deleted document (``PM-n``) or one of its action
items (``fixes AI-n``) links nothing and closes nothing there; the delivery
records the keys as unknown. Rows pasted by hand on a deleted document are not
refreshed either. Restoring the document brings it back unchanged.
"""

from __future__ import annotations

from django.test import Client

from integrations.github.models import WebhookDelivery
from postmortems.models import ActionItem, FixPullRequest, PostMortem
from postmortems.services import postmortem_delete
from tests.factories import ActionItemFactory, FixPullRequestFactory, PostMortemFactory, UserFactory
from tests.integrations.conftest import deliver, pr_payload


def _delete(pm: PostMortem) -> None:
    postmortem_delete(user=UserFactory(is_staff=True), postmortem=pm)


def test_a_merged_pr_does_not_close_an_item_of_a_deleted_document(db, django_capture_on_commit_callbacks):
    item = ActionItemFactory()
    _delete(item.postmortem)

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(Client(), pr_payload("closed", merged=True, body=f"Fixes {item.key}"))

    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "processed" and f"unknown: {item.key}" in delivery.note
    stored = ActionItem.all_objects.get(pk=item.pk)
    assert stored.status == ActionItem.Status.OPEN
    assert not FixPullRequest.objects.filter(postmortem_id=item.postmortem_id).exists()


def test_a_pr_naming_a_deleted_document_links_nothing(db, django_capture_on_commit_callbacks):
    pm = PostMortemFactory()
    live = PostMortemFactory()
    _delete(pm)
    version = PostMortem.all_objects.get(pk=pm.pk).version

    with django_capture_on_commit_callbacks(execute=True):
        deliver(Client(), pr_payload(title=f"{pm.key} and {live.key}: fix timeouts"))

    delivery = WebhookDelivery.objects.get()
    assert f"unknown: {pm.key}" in delivery.note and f"{live.key}: linked" in delivery.note
    assert not FixPullRequest.objects.filter(postmortem=pm).exists()
    assert FixPullRequest.objects.filter(postmortem=live).count() == 1
    assert PostMortem.all_objects.get(pk=pm.pk).version == version  # no revision written


def test_a_hand_pasted_row_on_a_deleted_document_is_not_refreshed(db, django_capture_on_commit_callbacks):
    row = FixPullRequestFactory(
        url="https://github.com/acme/shop/pull/42", title="old title", state=FixPullRequest.State.OPEN
    )
    _delete(row.postmortem)

    with django_capture_on_commit_callbacks(execute=True):
        deliver(Client(), pr_payload("closed", merged=True, title="New title"))

    row.refresh_from_db()
    assert (row.title, row.state) == ("old title", FixPullRequest.State.OPEN)
    assert WebhookDelivery.objects.get().status == "processed"
