"""postmortem_save is the one write path: validation, row sync, notifications."""

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from postmortems.models import ActionItem, FixPullRequest, PostMortem, TimelineEntry
from postmortems.services import action_item_set_status, parse_pull_request_url, postmortem_save
from tests.factories import ActionItemFactory, UserFactory, factor


def _fields(team, **extra):
    fields = {
        "title": "Search index went read-only",
        "team": team,
        "severity": "SEV2",
        "status": "draft",
        "started_at": timezone.now() - dt.timedelta(hours=5),
        "what_happened": "Search returned stale results for 3 hours.",
        "why_it_happened": "The disk filled and the index switched to read-only.",
    }
    fields.update(extra)
    return fields


def _item(owner, **extra):
    row = {
        "text": "Alert at 80% disk on index nodes",
        "kind": "check",
        "owner": owner,
        "due_date": timezone.localdate() + dt.timedelta(days=10),
        "status": "open",
    }
    row.update(extra)
    return row


def test_create_saves_document_rows_and_authors(author, team, django_capture_on_commit_callbacks):
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        pm = postmortem_save(
            user=author,
            fields=_fields(team, factors=[factor("capacity"), factor("monitoring-gap")]),
            timeline=[
                {"at": timezone.now() - dt.timedelta(hours=4), "text": "Disk alert", "evidence_url": ""}
            ],
            action_items=[_item(owner)],
            declined_changes=[
                {"text": "Double the disks", "rationale": "Growth is flat; the alert suffices."}
            ],
            fix_prs=[
                {"url": "https://github.com/acme/search/pull/7", "title": "Disk alert", "state": "merged"}
            ],
            detect_patterns=False,
        )
    pm.refresh_from_db()
    assert pm.created_by == author
    assert list(pm.authors.all()) == [author]
    assert set(pm.factors.values_list("slug", flat=True)) == {"capacity", "monitoring-gap"}
    assert pm.timeline.count() == 1
    assert pm.declined_changes.get().rationale.startswith("Growth")
    pr = pm.fix_prs.get()
    assert (pr.repository, pr.number, pr.state) == ("acme/search", 7, "merged")
    assert "Alert at 80% disk" in pm.search_body
    # One notification for the one new owner, enqueued after commit (test_tasks
    # covers delivery, in-process and through a real Redis worker).
    assert len(callbacks) == 1
    assert mail.outbox == []


def test_update_replaces_rows_by_id(author, team):
    owner = UserFactory()
    pm = postmortem_save(
        user=author, fields=_fields(team), action_items=[_item(owner), _item(owner, text="Second")]
    )
    first, second = pm.action_items.order_by("id")
    postmortem_save(
        postmortem=pm,
        fields={"title": "Renamed"},
        action_items=[{"id": first.pk, **_item(owner, text="First, reworded")}, _item(owner, text="New")],
    )
    texts = sorted(pm.action_items.values_list("text", flat=True))
    assert texts == ["First, reworded", "New"]
    assert not ActionItem.objects.filter(pk=second.pk).exists()
    assert ActionItem.objects.get(pk=first.pk).text == "First, reworded"
    assert PostMortem.objects.get(pk=pm.pk).title == "Renamed"


def test_omitted_row_lists_are_left_alone(author, team):
    pm = postmortem_save(user=author, fields=_fields(team), action_items=[_item(UserFactory())])
    postmortem_save(postmortem=pm, fields={"severity": "SEV1"})
    assert pm.action_items.count() == 1


def test_invalid_row_rolls_back_everything(author, team):
    pm = postmortem_save(user=author, fields=_fields(team))
    with pytest.raises(ValidationError) as err:
        postmortem_save(
            postmortem=pm,
            fields={"title": "Should not stick"},
            timeline=[{"at": timezone.now(), "text": "kept?", "evidence_url": ""}],
            action_items=[_item(UserFactory(), status="not_doing", not_doing_reason="")],
        )
    assert "action_items" in err.value.message_dict
    assert "not_doing_reason" in err.value.message_dict["action_items"][0]
    pm.refresh_from_db()
    assert pm.title == "Search index went read-only"
    assert TimelineEntry.objects.filter(postmortem=pm).count() == 0


def test_row_ids_from_another_document_are_rejected(author, team):
    other = ActionItemFactory()
    pm = postmortem_save(user=author, fields=_fields(team))
    with pytest.raises(ValidationError) as err:
        postmortem_save(postmortem=pm, fields={}, action_items=[{"id": other.pk, **_item(other.owner)}])
    assert "no such row" in str(err.value)
    assert ActionItem.objects.get(pk=other.pk).postmortem_id == other.postmortem_id


def test_document_validation_errors_are_keyed_by_field(author, team):
    start = timezone.now()
    with pytest.raises(ValidationError) as err:
        postmortem_save(
            user=author,
            fields=_fields(
                team, started_at=start, detected_at=start - dt.timedelta(minutes=5), severity="SEV9"
            ),
        )
    assert {"detected_at", "severity"} <= set(err.value.message_dict)
    assert PostMortem.objects.count() == 0


def test_oversized_section_is_rejected(author, team, settings):
    with pytest.raises(ValidationError) as err:
        postmortem_save(
            user=author, fields=_fields(team, what_happened="x" * (settings.KB_MAX_SECTION_CHARS + 1))
        )
    assert "what_happened" in err.value.message_dict
    assert PostMortem.objects.count() == 0


def test_too_many_rows_are_rejected(author, team, settings):
    settings.KB_MAX_ROWS_PER_DOCUMENT = 2
    owner = UserFactory()
    with pytest.raises(ValidationError) as err:
        postmortem_save(user=author, fields=_fields(team), action_items=[_item(owner)] * 3)
    assert "action_items" in err.value.message_dict
    assert PostMortem.objects.count() == 0


def test_bad_pr_url_is_a_row_error(author, team):
    with pytest.raises(ValidationError) as err:
        postmortem_save(
            user=author, fields=_fields(team), fix_prs=[{"url": "https://github.com/acme/shop/issues/3"}]
        )
    assert "fix_prs" in err.value.message_dict
    assert FixPullRequest.objects.count() == 0


def test_done_items_are_stamped_and_reopened_items_cleared(author, team):
    owner = UserFactory()
    pm = postmortem_save(user=author, fields=_fields(team), action_items=[_item(owner, status="done")])
    item = pm.action_items.get()
    assert item.completed_at is not None
    stamped = item.completed_at
    postmortem_save(postmortem=pm, fields={}, action_items=[{"id": item.pk, **_item(owner, status="done")}])
    assert pm.action_items.get().completed_at == stamped
    action_item_set_status(item=pm.action_items.get(), status="open")
    assert pm.action_items.get().completed_at is None


def test_set_status_not_doing_needs_reason(db):
    item = ActionItemFactory()
    with pytest.raises(ValidationError):
        action_item_set_status(item=item, status="not_doing", not_doing_reason="  ")
    item.refresh_from_db()
    assert item.status == "open"
    action_item_set_status(item=item, status="not_doing", not_doing_reason="Superseded by the queue rewrite")
    item.refresh_from_db()
    assert (item.status, item.not_doing_reason) == ("not_doing", "Superseded by the queue rewrite")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/shop/pull/12", ("acme/shop", 12)),
        ("https://github.com/acme/shop.js/pull/12/", ("acme/shop.js", 12)),
        ("https://git.corp.example/acme/shop/pull/3", ("acme/shop", 3)),
        ("https://gitlab.com/acme/infra/dns/-/merge_requests/45", ("acme/infra/dns", 45)),
        ("https://bitbucket.org/acme/shop/pull-requests/9", ("acme/shop", 9)),
    ],
)
def test_pull_request_urls_are_parsed(url, expected):
    assert parse_pull_request_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/acme/shop/issues/12",
        "https://github.com/acme/shop",
        "https://github.com/acme/shop/commit/abc123",
        "javascript:alert(1)//github.com/a/b/pull/1",
        "ftp://github.com/acme/shop/pull/1",
        "not a url",
        "",
    ],
)
def test_non_pull_request_urls_are_rejected(url):
    with pytest.raises(ValidationError):
        parse_pull_request_url(url)


def test_reindex_reads_rows_fresh_even_when_the_caller_prefetched(author, team):
    from postmortems.search import search_postmortems
    from postmortems.selectors import postmortem_detail

    pm = postmortem_save(user=author, fields=_fields(team))
    loaded = postmortem_detail(user=author).get(pk=pm.pk)  # action_items prefetched: empty
    postmortem_save(
        postmortem=loaded, fields={}, action_items=[_item(UserFactory(), text="Add a quokka probe")]
    )
    assert [p.pk for p in search_postmortems(PostMortem.objects.all(), "quokka")] == [pm.pk]


def test_a_row_sent_without_status_keeps_its_status(author, team):
    owner = UserFactory()
    pm = postmortem_save(user=author, fields=_fields(team), action_items=[_item(owner, status="done")])
    item = pm.action_items.get()
    row = {k: v for k, v in _item(owner, text="Reworded").items() if k != "status"}
    postmortem_save(postmortem=pm, fields={}, action_items=[{"id": item.pk, **row}])
    item.refresh_from_db()
    assert (item.text, item.status) == ("Reworded", "done")
    assert item.completed_at is not None


def test_action_item_update_changes_one_item_only(author, team, django_capture_on_commit_callbacks):
    from postmortems.services import action_item_update

    owner, new_owner = UserFactory(), UserFactory()
    pm = postmortem_save(
        user=author, fields=_fields(team), action_items=[_item(owner), _item(owner, text="B")]
    )
    first, second = pm.action_items.order_by("id")
    before = second.updated_at
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        action_item_update(item=first, data={"owner": new_owner, "status": "in_progress"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.owner, first.status) == (new_owner, "in_progress")
    assert second.updated_at == before
    assert len(callbacks) == 1  # the new owner is told
    with pytest.raises(ValidationError) as err:
        action_item_update(item=first, data={"status": "not_doing"})
    assert "not_doing_reason" in err.value.message_dict
    first.refresh_from_db()
    assert first.status == "in_progress"


def test_closed_items_do_not_notify_their_owner(author, team, django_capture_on_commit_callbacks):
    owner = UserFactory()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        postmortem_save(
            user=author,
            fields=_fields(team),
            action_items=[
                _item(owner, status="done"),
                _item(owner, status="not_doing", not_doing_reason="Covered by the rewrite"),
                _item(owner, status="open"),
            ],
            detect_patterns=False,
        )
    assert len(callbacks) == 1


def test_every_save_adds_one_to_the_version(author, team):
    pm = postmortem_save(user=author, fields=_fields(team), action_items=[_item(UserFactory())])
    assert pm.version == 1
    item = pm.action_items.get()
    assert item.version == 1
    postmortem_save(
        postmortem=pm, fields={"title": "Again"}, action_items=[{"id": item.pk, **_item(item.owner)}]
    )
    pm.refresh_from_db()
    item.refresh_from_db()
    assert (pm.version, item.version) == (2, 2)


def test_a_stale_version_saves_nothing(author, team):
    from postmortems.services import StaleVersionError

    pm = postmortem_save(user=author, fields=_fields(team))
    postmortem_save(
        postmortem=PostMortem.objects.get(pk=pm.pk), fields={"title": "First writer"}, expected_version=1
    )
    with pytest.raises(StaleVersionError) as err:
        postmortem_save(postmortem=pm, fields={"title": "Second writer"}, expected_version=1)
    assert err.value.current_version == 2
    pm.refresh_from_db()
    assert (pm.title, pm.version) == ("First writer", 2)


def test_a_stale_action_item_version_saves_nothing(db):
    from postmortems.services import StaleVersionError, action_item_update

    item = ActionItemFactory()
    action_item_update(item=ActionItem.objects.get(pk=item.pk), data={"text": "Writer A"}, expected_version=1)
    with pytest.raises(StaleVersionError):
        action_item_update(item=item, data={"text": "Writer B"}, expected_version=1)
    item.refresh_from_db()
    assert (item.text, item.version) == ("Writer A", 2)


def test_an_item_update_raises_the_documents_version_so_a_stale_save_is_refused(author, team):
    from postmortems.services import StaleVersionError, action_item_update

    item = ActionItemFactory()
    pm = PostMortem.objects.get(pk=item.postmortem_id)
    read_at = pm.version
    action_item_update(item=ActionItem.objects.get(pk=item.pk), data={"status": "done"})
    assert PostMortem.objects.get(pk=pm.pk).version == read_at + 1
    with pytest.raises(StaleVersionError):
        postmortem_save(
            user=author,
            postmortem=pm,
            fields={"title": "Stale"},
            action_items=[{"id": item.pk, "status": "open"}],
            expected_version=read_at,
        )
    assert ActionItem.objects.get(pk=item.pk).status == "done"
    assert PostMortem.objects.get(pk=pm.pk).title != "Stale"


def test_a_stale_copy_never_writes_back_fields_it_did_not_change(author, team):
    pm = postmortem_save(user=author, fields=_fields(team))
    stale_copy = PostMortem.objects.get(pk=pm.pk)
    postmortem_save(postmortem=PostMortem.objects.get(pk=pm.pk), fields={"why_it_happened": "Rewritten by B"})
    postmortem_save(postmortem=stale_copy, fields={"title": "Retitled by A"})
    pm.refresh_from_db()
    assert (pm.title, pm.why_it_happened, pm.version) == ("Retitled by A", "Rewritten by B", 3)


def test_a_save_queues_pattern_detection_after_commit(author, team, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        postmortem_save(user=author, fields=_fields(team))
    assert [c.__qualname__ for c in callbacks] == ["enqueue_detection_for_postmortem.<locals>.<lambda>"]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        postmortem_save(user=author, fields=_fields(team, title="Bulk"), detect_patterns=False)
    assert callbacks == []
