"""The importer's bulk path (``postmortems.exchange.bulk``): new documents stored a batch at a time.

It must store exactly what the per-record path (``services.postmortem_save``)
stores — search text, revision snapshot, rows, names — keep the search index
current, stay idempotent on re-import, and still report bad records with their
file and line while importing the good ones.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from postmortems.exchange import bulk, importer
from postmortems.exchange.importer import import_paths
from postmortems.history import snapshot
from postmortems.models import ActionItem, DeclinedChange, FixPullRequest, PostMortem, Service, Team
from postmortems.search import search_postmortems
from postmortems.services import build_search_body
from tests.postmortems.exchange.test_import_command import ONE_PAGER

pytestmark = pytest.mark.django_db

User = get_user_model()


def one_pager(external_id: str, *, team: str = "payments", owner: str = "dana", factors="config-change"):
    return ONE_PAGER.format(
        external_id=external_id,
        team=team,
        owner=owner,
        due="2024-04-01",
        factors=factors,
        extra_front="",
        extra_body="",
    )


def write_docs(directory, count: int, **kwargs) -> None:
    directory.mkdir(exist_ok=True)
    for n in range(count):
        (directory / f"doc-{n:03d}.md").write_text(one_pager(f"ext-{n}", **kwargs), encoding="utf-8")


def test_new_documents_take_the_bulk_path_and_store_what_the_service_stores(tmp_path, monkeypatch):
    stored: list[int] = []
    original = bulk.BulkCreator.store

    def spy(self, batch):
        stored.append(len(batch))
        return original(self, batch)

    monkeypatch.setattr(bulk.BulkCreator, "store", spy)
    monkeypatch.setattr(importer, "BULK_BATCH", 2)
    write_docs(tmp_path / "md", 5)
    report = import_paths([tmp_path / "md"], create_users=True, progress=False)
    assert (report.created, report.bad) == (5, 0)
    assert stored == [2, 2, 1]
    assert (report.created_teams, report.created_users) == (1, 1)
    assert Service.objects.filter(slug="checkout").count() == 1
    for pm in PostMortem.objects.all():
        # The text and the revision the per-record path would write, from the stored rows.
        assert pm.search_body == build_search_body(pm)
        revisions = list(pm.history.all())
        assert len(revisions) == 1
        assert revisions[0].history_type == "+"
        assert revisions[0].related == snapshot(pm)
        assert pm.action_items.count() == 2
        assert pm.timeline.count() == 1
        assert pm.declined_changes.count() == 1
        assert pm.team.slug == "payments"
        assert [u.username for u in pm.authors.all()] == ["dana"]
    # Rows that keep their own history got a first record each.
    assert ActionItem.history.filter(history_type="+").count() == 10
    assert DeclinedChange.history.filter(history_type="+").count() == 5
    done = ActionItem.objects.get(postmortem__external_id="ext-0", status="done")
    assert done.completed_at is not None


def test_bulk_imported_documents_are_searchable_at_once(tmp_path):
    write_docs(tmp_path / "md", 3)
    import_paths([tmp_path / "md"], create_users=True, progress=False)
    # Section text, row text (search_body) and the action-item key are indexed.
    everything = PostMortem.objects.all()
    assert search_postmortems(everything, "default removed").count() == 3
    assert search_postmortems(everything, '"contract test"').count() == 3
    item = ActionItem.objects.order_by("pk").first()
    assert list(search_postmortems(everything, item.key).values_list("pk", flat=True)) == [item.postmortem_id]


def test_reimport_is_idempotent_and_updates_go_through_the_service(tmp_path):
    write_docs(tmp_path / "md", 4)
    first = import_paths([tmp_path / "md"], create_users=True, progress=False)
    ids = dict(PostMortem.objects.values_list("external_id", "pk"))
    items = set(ActionItem.objects.values_list("pk", flat=True))
    again = import_paths([tmp_path / "md"], create_users=True, progress=False)
    assert (first.created, again.created, again.updated, again.unchanged) == (4, 0, 0, 4)
    assert dict(PostMortem.objects.values_list("external_id", "pk")) == ids
    assert set(ActionItem.objects.values_list("pk", flat=True)) == items
    # A changed title updates the stored document (one more revision), nothing is duplicated.
    path = tmp_path / "md" / "doc-001.md"
    path.write_text(path.read_text().replace("Checkout errors", "Checkout failures"), encoding="utf-8")
    third = import_paths([tmp_path / "md"], create_users=True, progress=False)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 3)
    pm = PostMortem.objects.get(external_id="ext-1")
    assert pm.title.startswith("Checkout failures")
    assert pm.history.count() == 2
    assert PostMortem.objects.count() == 4


def test_a_repeated_id_in_one_run_updates_the_document_created_earlier(tmp_path):
    directory = tmp_path / "md"
    directory.mkdir()
    (directory / "a.md").write_text(one_pager("same"), encoding="utf-8")
    (directory / "b.md").write_text(
        one_pager("same").replace("Checkout errors", "Later title"), encoding="utf-8"
    )
    report = import_paths([directory], create_users=True, progress=False)
    assert (report.created, report.updated) == (1, 1)
    assert PostMortem.objects.get(external_id="same").title.startswith("Later title")


def test_bad_records_are_reported_and_the_good_ones_imported(tmp_path):
    directory = tmp_path / "md"
    write_docs(directory, 3)
    (directory / "doc-001.md").write_text(one_pager("bad", factors="no-such-factor"), encoding="utf-8")
    (directory / "doc-002.md").write_text(one_pager("stranger", owner="nobody"), encoding="utf-8")
    User.objects.create_user("dana")
    report = import_paths([directory], create_users=False, progress=False)
    assert report.created == 1
    messages = sorted(str(p) for p in report.problems)
    assert len(messages) == 2
    assert "doc-001.md" in messages[0] and "no-such-factor" in messages[0]
    assert "doc-002.md" in messages[1] and "unknown user 'nobody'" in messages[1]
    assert list(PostMortem.objects.values_list("external_id", flat=True)) == ["ext-0"]
    assert not User.objects.filter(username="nobody").exists()


def test_a_batch_the_database_refuses_is_redone_one_record_at_a_time(tmp_path, monkeypatch):
    def refuse(self, batch):
        raise IntegrityError("refused")

    monkeypatch.setattr(bulk.BulkCreator, "store", refuse)
    write_docs(tmp_path / "md", 3)
    report = import_paths([tmp_path / "md"], create_users=True, progress=False)
    assert (report.created, report.bad) == (3, 0)
    assert PostMortem.objects.count() == 3
    assert Team.objects.filter(slug="payments").count() == 1


def test_a_failed_batch_leaves_no_names_behind(tmp_path, monkeypatch):
    def fail_late(self, batch, teams, users, services):
        raise IntegrityError("refused after the names were created")

    monkeypatch.setattr(bulk.BulkCreator, "_write", fail_late)
    monkeypatch.setattr(importer.BulkCreator, "_write", fail_late)
    write_docs(tmp_path / "md", 2, team="brand-new-team", owner="newcomer")
    original = importer._Importer.store

    def no_store(self, doc):  # the per-record retry refuses too: nothing may be left
        raise IntegrityError("refused again")

    monkeypatch.setattr(importer._Importer, "store", no_store)
    report = import_paths([tmp_path / "md"], create_users=True, progress=False)
    monkeypatch.setattr(importer._Importer, "store", original)
    assert (report.created, report.bad) == (0, 2)
    assert not Team.objects.filter(slug="brand-new-team").exists()
    assert not User.objects.filter(username="newcomer").exists()
    assert not FixPullRequest.objects.exists()


def test_a_deleted_document_is_not_imported_again_nor_duplicated(tmp_path):
    from postmortems.services import postmortem_delete

    write_docs(tmp_path / "md", 3)
    import_paths([tmp_path / "md"], create_users=True, progress=False)
    gone = PostMortem.objects.get(external_id="ext-1")
    postmortem_delete(user=User.objects.create_user("root", is_staff=True), postmortem=gone)

    again = import_paths([tmp_path / "md"], create_users=True, progress=False)

    assert (again.created, again.unchanged, again.bad) == (0, 2, 1)
    assert f"{gone.key} (ext-1) was deleted" in str(again.problems[0])
    assert PostMortem.all_objects.filter(external_id="ext-1").count() == 1
    assert not PostMortem.objects.filter(external_id="ext-1").exists()


def test_insert_stores_what_bulk_create_stores():
    """``bulk._insert`` (COPY / executemany) against ``bulk_create`` on the same rows."""
    import datetime as dt

    from tests.factories import PostMortemFactory

    pm = PostMortemFactory()
    owner = User.objects.create_user("insert-owner")
    done_at = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)

    def rows(start: int):
        return [
            ActionItem(
                pk=start + n,
                postmortem=pm,
                text=f"Add a canary for the config push {n} — «ünïcode»",
                kind=ActionItem.Kind.PROCESS,  # a TextChoices member, not a plain str
                owner=owner,
                due_date=dt.date(2024, 4, n + 1),
                status=ActionItem.Status.DONE if n else "open",
                completed_at=done_at if n else None,
            )
            for n in range(3)
        ]

    ActionItem.objects.bulk_create(rows(1000))
    bulk._insert(ActionItem, rows(2000))

    fields = ["text", "kind", "owner_id", "due_date", "status", "completed_at", "version", "postmortem_id"]
    by_bulk_create = list(ActionItem.objects.filter(pk__lt=2000).order_by("pk").values(*fields))
    by_insert = list(ActionItem.objects.filter(pk__gte=2000).order_by("pk").values(*fields))
    assert by_insert == by_bulk_create
    assert len(by_insert) == 3
    stamped = ActionItem.objects.get(pk=2000)
    assert stamped.created_at is not None and stamped.updated_at is not None  # auto_now filled


def test_insert_reports_a_refused_row_as_an_integrity_error():
    from tests.factories import PostMortemFactory

    first = PostMortemFactory(external_id="dup-1")
    copy = PostMortem(title="Copy", team=first.team, external_id="dup-1")
    copy.pk = first.pk + 1000

    with pytest.raises(IntegrityError):
        bulk._insert(PostMortem, [copy])


def _reads(queries: CaptureQueriesContext, table: str) -> list[str]:
    """The SELECT statements among ``queries`` that read ``table``."""
    return [q["sql"] for q in queries if q["sql"].lstrip().startswith("SELECT") and table in q["sql"]]


def test_user_names_are_looked_up_together_not_one_query_per_name(tmp_path):
    # 12 documents, each owned by a different existing user and one missing user.
    (tmp_path / "md").mkdir()
    for n in range(12):
        User.objects.create(username=f"owner{n}")
        text = one_pager(f"ext-{n}", owner=f"owner{n}" if n else "newcomer")
        (tmp_path / "md" / f"doc-{n:03d}.md").write_text(text, encoding="utf-8")
    with CaptureQueriesContext(connection) as queries:
        report = import_paths([tmp_path / "md"], create_users=True, progress=False)
    assert (report.created, report.bad, report.created_users) == (12, 0, 1)  # newcomer
    user_reads = _reads(queries, "auth_user")
    assert len(user_reads) == 1, user_reads
    owners = dict(ActionItem.objects.values_list("postmortem__external_id", "owner__username").distinct())
    assert owners["ext-0"] == "newcomer" and owners["ext-5"] == "owner5"


def test_rows_of_one_statement_share_one_creation_time(tmp_path):
    write_docs(tmp_path / "md", 3)
    import_paths([tmp_path / "md"], create_users=True, progress=False)
    times = set(ActionItem.objects.values_list("created_at", flat=True))
    assert len(times) == 1
    assert set(ActionItem.objects.values_list("updated_at", flat=True)) == times
    assert PostMortem.objects.filter(created_at__isnull=True).count() == 0


def test_services_are_looked_up_together(tmp_path):
    team = Team.objects.create(slug="payments", name="payments")
    (tmp_path / "md").mkdir()
    for n in range(6):
        Service.objects.create(slug=f"svc-{n}", name=f"Svc {n}", team=team)
        text = one_pager(f"ext-{n}").replace("services: [checkout]", f"services: [svc-{n}, Svc {n + 100}]")
        assert f"svc-{n}" in text
        (tmp_path / "md" / f"doc-{n:03d}.md").write_text(text, encoding="utf-8")
    with CaptureQueriesContext(connection) as queries:
        report = import_paths([tmp_path / "md"], create_users=True, progress=False)
    assert (report.created, report.bad, report.created_services) == (6, 0, 6)
    reads = _reads(queries, "postmortems_service")
    assert len(reads) <= 2, reads  # the lookup, and the services' order for the search text
    pm = PostMortem.objects.get(external_id="ext-3")
    assert sorted(pm.services.values_list("slug", flat=True)) == ["svc-103", "svc-3"]
