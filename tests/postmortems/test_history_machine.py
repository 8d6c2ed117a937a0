"""Revision history is complete and revertible: a hypothesis state machine
(RELIABILITY.md, T16) over the service layer.

Random sequences of create / edit / tag and untag / add an action item / close
one on its own / soft-delete / restore after deletion / restore an earlier
revision, by an admin, an editor or a system actor (None, as the importer and
the webhook act), each checked after every step against a model of what the
history must hold:

* one document revision per document-level change (the services' promise),
  none for an action item changed on its own (the item keeps its own record);
* each revision names its actor (a user, or None for a system actor) and a date,
  in the order the changes were made;
* the newest revision's snapshot is the document's state, except for item
  changes made since — and those are the newest records of the items' own
  history;
* no revision is ever rewritten (what a step stored is still there, unchanged);
* restoring revision k gives back revision k's title, factors and action items;
* the document's version rises by one per change, an item's change included.

The API and the admin write through these same services (tested in
test_history.py and test_policy_*); the webhook acts through
``postmortem_save``/``action_item_update`` with no user, the "system" actor here.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from postmortems import restore, services
from postmortems.history import snapshot
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Team

pytestmark = pytest.mark.django_db

User = get_user_model()
TITLES = ["Checkout 500s after a config push", "Search index lag", "Card payments declined", "DNS timeouts"]
ITEM_TEXTS = ["Add a contract test for the timeout", "Alert on 5xx above 2%", "Check the schema in CI"]
DUE = dt.date(2031, 3, 1)
_RUN = itertools.count()


@dataclass
class Expected:
    """What the machine knows a document's history must hold."""

    version: int
    actors: list[int | None]  # one per revision, oldest first
    deleted: bool = False
    items_changed_since_revision: bool = False
    # history_id → (title, related snapshot, user id) as stored when the step ran
    stored: dict[int, tuple] = field(default_factory=dict)


class HistoryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # Every example runs inside the test's transaction; a savepoint per
        # example gives each one an empty slate.
        self.savepoint = transaction.savepoint()
        n = next(_RUN)
        self.users = {
            "admin": User.objects.create(username=f"hm-admin-{n}", is_staff=True),
            "editor": User.objects.create(username=f"hm-editor-{n}"),
            "system": None,
        }
        self.team = Team.objects.create(slug=f"hm-team-{n}", name=f"History machine {n}")
        self.factors = list(ContributingFactor.objects.order_by("slug")[:5])
        self.docs: dict[int, Expected] = {}

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # --- helpers ---------------------------------------------------------------------------

    def _pick(self, pick: int, *, deleted: bool = False) -> PostMortem:
        pks = sorted(pk for pk, e in self.docs.items() if e.deleted == deleted)
        return PostMortem.all_objects.get(pk=pks[pick % len(pks)])

    def _live(self) -> bool:
        return any(not e.deleted for e in self.docs.values())

    def _remember(self, pm: PostMortem, actor) -> None:
        """After a document-level change: one more revision, by ``actor``."""
        expected = self.docs[pm.pk]
        expected.actors.append(getattr(actor, "pk", None))
        expected.version += 1
        expected.items_changed_since_revision = False
        newest = PostMortem.history.filter(id=pm.pk).order_by("-history_date", "-history_id").first()
        expected.stored[newest.history_id] = (newest.title, newest.related, newest.history_user_id)

    @staticmethod
    def _item_rows(pm: PostMortem) -> list[dict]:
        return [
            {
                "id": item.pk,
                "text": item.text,
                "kind": item.kind,
                "owner": item.owner,
                "due_date": item.due_date,
                "status": item.status,
            }
            for item in pm.action_items.order_by("id")
        ]

    # --- rules -------------------------------------------------------------------------------

    @rule(
        title=st.sampled_from(TITLES),
        factors=st.sets(st.integers(0, 4), max_size=3),
        items=st.integers(0, 2),
        actor=st.sampled_from(["admin", "editor", "system"]),
    )
    def create(self, title, factors, items, actor):
        user = self.users[actor]
        owner = self.users["editor"]
        pm = services.postmortem_save(
            user=user,
            fields={
                "title": title,
                "team": self.team,
                "severity": "SEV3",
                "started_at": timezone.now() - dt.timedelta(days=1),
                "what_happened": "Checkout failed for 40 minutes.",
                "factors": [self.factors[i] for i in sorted(factors)],
            },
            action_items=[
                {"text": ITEM_TEXTS[i], "kind": "test", "owner": owner, "due_date": DUE} for i in range(items)
            ],
            detect_patterns=False,
        )
        self.docs[pm.pk] = Expected(version=pm.version - 1, actors=[])
        self._remember(pm, user)

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 99), title=st.sampled_from(TITLES), actor=st.sampled_from(["admin", "editor"]))
    def edit_title(self, pick, title, actor):
        pm = self._pick(pick)
        user = self.users[actor]
        services.postmortem_save(user=user, postmortem=pm, fields={"title": title}, detect_patterns=False)
        self._remember(pm, user)

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 99), factors=st.sets(st.integers(0, 4), max_size=3))
    def retag(self, pick, factors):
        pm = self._pick(pick)
        user = self.users["editor"]
        chosen = [self.factors[i] for i in sorted(factors)]
        services.postmortem_save(user=user, postmortem=pm, fields={"factors": chosen}, detect_patterns=False)
        self._remember(pm, user)

    @precondition(lambda self: self._live())
    @rule(
        pick=st.integers(0, 99), text=st.sampled_from(ITEM_TEXTS), actor=st.sampled_from(["editor", "system"])
    )
    def add_action_item(self, pick, text, actor):
        pm = self._pick(pick)
        user = self.users[actor]
        rows = self._item_rows(pm)
        if len(rows) >= 4:
            return
        rows.append({"text": text, "kind": "check", "owner": self.users["editor"], "due_date": DUE})
        services.postmortem_save(
            user=user, postmortem=pm, fields={}, action_items=rows, detect_patterns=False
        )
        self._remember(pm, user)

    @precondition(lambda self: self._live())
    @rule(
        pick=st.integers(0, 99),
        index=st.integers(0, 3),
        status=st.sampled_from(["in_progress", "done", "open"]),
        actor=st.sampled_from(["editor", "system"]),
    )
    def change_item_on_its_own(self, pick, index, status, actor):
        pm = self._pick(pick)
        items = list(pm.action_items.order_by("id"))
        if not items:
            return
        item = items[index % len(items)]
        services.action_item_update(item=item, data={"status": status}, user=self.users[actor])
        expected = self.docs[pm.pk]
        expected.version += 1  # the document's version, not its revisions
        expected.items_changed_since_revision = True

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 99))
    def soft_delete(self, pick):
        pm = self._pick(pick)
        services.postmortem_delete(user=self.users["admin"], postmortem=pm)
        self.docs[pm.pk].deleted = True
        self._remember(pm, self.users["admin"])

    @precondition(lambda self: any(e.deleted for e in self.docs.values()))
    @rule(pick=st.integers(0, 99))
    def restore_after_deletion(self, pick):
        pm = self._pick(pick, deleted=True)
        services.postmortem_restore(user=self.users["admin"], postmortem=pm)
        self.docs[pm.pk].deleted = False
        self._remember(pm, self.users["admin"])

    @precondition(lambda self: self._live())
    @rule(pick=st.integers(0, 99), back=st.integers(0, 20))
    def restore_an_earlier_revision(self, pick, back):
        pm = self._pick(pick)
        revisions = list(PostMortem.history.filter(id=pm.pk).order_by("history_date", "history_id"))
        target = revisions[back % len(revisions)]
        if target.deleted_at is not None:
            return  # the revision that recorded a deletion: restoring it is not an undo
        user = self.users["admin"]
        restore.revision_restore(
            user=user, postmortem=pm, history_id=target.history_id, expected_version=pm.version
        )
        self._remember(pm, user)
        pm.refresh_from_db()
        assert pm.title == target.title
        now = snapshot(pm)
        assert now["factors"] == target.related["factors"]
        assert [(i["text"], i["status"], i["owner"], i["due_date"]) for i in now["action_items"]] == [
            (i["text"], i["status"], i["owner"], i["due_date"]) for i in target.related["action_items"]
        ]

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def one_revision_per_change_with_its_actor_in_order(self):
        for pk, expected in self.docs.items():
            revisions = list(PostMortem.history.filter(id=pk).order_by("history_date", "history_id"))
            assert [r.history_user_id for r in revisions] == expected.actors
            assert all(r.history_date is not None for r in revisions)
            assert revisions[0].history_type == "+"
            assert all(r.history_type == "~" for r in revisions[1:])

    @invariant()
    def no_revision_is_rewritten(self):
        for pk, expected in self.docs.items():
            stored = {
                r.history_id: (r.title, r.related, r.history_user_id)
                for r in PostMortem.history.filter(id=pk)
            }
            for history_id, then in expected.stored.items():
                assert stored[history_id] == then

    @invariant()
    def the_newest_revision_and_item_records_give_the_current_state(self):
        for pk, expected in self.docs.items():
            pm = PostMortem.all_objects.get(pk=pk)
            assert pm.version == expected.version
            assert (pm.deleted_at is not None) == expected.deleted
            assert PostMortem.objects.filter(pk=pk).exists() is not expected.deleted
            newest = PostMortem.history.filter(id=pk).order_by("-history_date", "-history_id").first()
            assert newest.title == pm.title
            now = snapshot(pm)
            if not expected.items_changed_since_revision:
                assert newest.related == now
            else:
                assert {k: v for k, v in newest.related.items() if k != "action_items"} == {
                    k: v for k, v in now.items() if k != "action_items"
                }
            # Every item's own newest record is the item as it is (or its removal).
            # The base manager: the default one hides the items of a deleted document.
            for item in ActionItem._base_manager.filter(postmortem_id=pk):
                record = (
                    ActionItem.history.filter(id=item.pk).order_by("-history_date", "-history_id").first()
                )
                assert record.history_type in ("+", "~")
                assert (record.text, record.status, record.owner_id, record.due_date) == (
                    item.text,
                    item.status,
                    item.owner_id,
                    item.due_date,
                )
            live_ids = set(ActionItem._base_manager.filter(postmortem_id=pk).values_list("pk", flat=True))
            for item_id in (
                set(ActionItem.history.filter(postmortem_id=pk).values_list("id", flat=True)) - live_ids
            ):
                record = (
                    ActionItem.history.filter(id=item_id).order_by("-history_date", "-history_id").first()
                )
                assert record.history_type == "-"


def test_revision_history_is_complete_and_revertible():
    run_state_machine_as_test(
        HistoryMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            database=None,
        ),
    )
