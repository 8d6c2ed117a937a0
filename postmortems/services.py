"""Writes to the post-mortem domain: the one path that forms, the API, the admin,
management commands and tasks all use (HackSoft Django-Styleguide's services).

The central function is ``postmortem_save``: it validates the document and its
rows (timeline, action items, declined changes, fix PRs), saves them in one
transaction, rebuilds the search text and, after commit, enqueues the e-mail that
tells each new action-item owner what they own.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from postmortems.history import record_revision
from postmortems.models import (
    ActionItem,
    ContributingFactor,
    DeclinedChange,
    FindingWaiver,
    FixPullRequest,
    PostMortem,
    ReadinessOverride,
    Service,
    Team,
    TimelineEntry,
)

logger = logging.getLogger(__name__)


class StaleVersionError(Exception):
    """Someone saved the object after the caller read it (optimistic locking).

    Attributes:
        current_version: the version now stored (int); the caller read an older one.
    """

    def __init__(self, current_version: int):
        super().__init__(f"The object was changed by someone else (now version {current_version}).")
        self.current_version = current_version


# Fields of PostMortem that postmortem_save accepts as plain values.
DOCUMENT_FIELDS = (
    "title",
    "team",
    "severity",
    "status",
    "started_at",
    "detected_at",
    "mitigated_at",
    "resolved_at",
    "facilitator",
    "what_happened",
    "why_it_happened",
    "what_we_change",
    "what_we_dont_change",
    "source_url",
    "external_id",
    "visibility",
)
DOCUMENT_M2M = ("services", "authors", "factors", "restricted_to")
_TEXT_FIELDS = frozenset(
    {
        "title",
        "severity",
        "status",
        "what_happened",
        "why_it_happened",
        "what_we_change",
        "what_we_dont_change",
        "source_url",
        "external_id",
    }
)

_PR_PATTERNS = (
    # GitHub and GitHub Enterprise: /owner/repo/pull/123
    re.compile(r"^/(?P<repo>[\w.-]+/[\w.-]+)/pull/(?P<number>\d+)/?$"),
    # GitLab: /group/subgroup/repo/-/merge_requests/123
    re.compile(r"^/(?P<repo>[\w.-]+(?:/[\w.-]+)+)/-/merge_requests/(?P<number>\d+)/?$"),
    # Bitbucket: /workspace/repo/pull-requests/123
    re.compile(r"^/(?P<repo>[\w.-]+/[\w.-]+)/pull-requests/(?P<number>\d+)/?$"),
)


def parse_pull_request_url(url: str) -> tuple[str, int]:
    """Read the repository and number from a pull-request URL.

    Accepts GitHub (``https://github.com/o/r/pull/12``, also Enterprise hosts),
    GitLab merge requests (``…/group/repo/-/merge_requests/12``) and Bitbucket
    (``…/ws/repo/pull-requests/12``).

    Returns:
        ``(repository, number)``, e.g. ``("o/r", 12)``.

    Raises:
        ValidationError: when the URL is not http(s) or its path is not a pull
            request (an issue, a commit or a repository page, say).
    """
    parsed = urlparse((url or "").strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationError("Enter an http(s) URL of a pull request.", code="invalid_pr_url")
    for pattern in _PR_PATTERNS:
        match = pattern.match(parsed.path)
        if match:
            return match.group("repo"), int(match.group("number"))
    raise ValidationError(
        "This is not a pull-request URL (expected …/owner/repo/pull/123 or a merge request).",
        code="invalid_pr_url",
    )


def _prefixed(error: ValidationError, prefix: str, index: int) -> ValidationError:
    """Re-key a row's ValidationError as ``{prefix: {index: {field: [...]}}}``."""
    detail = error.message_dict if hasattr(error, "error_dict") else {"non_field_errors": error.messages}
    return ValidationError(
        {prefix: [f"Row {index + 1}: {field}: {'; '.join(msgs)}" for field, msgs in detail.items()]}
    )


def _check_row_count(name: str, rows: Sequence | None) -> None:
    if rows is not None and len(rows) > settings.KB_MAX_ROWS_PER_DOCUMENT:
        raise ValidationError({name: f"At most {settings.KB_MAX_ROWS_PER_DOCUMENT} rows per post-mortem."})


def _sync_rows(
    *,
    postmortem: PostMortem,
    model: type,
    related_name: str,
    rows: Sequence[dict[str, Any]],
    fields: Iterable[str],
    exclude_from_clean: Sequence[str] = (),
    user=None,
) -> list:
    """Make the document's rows of ``model`` equal ``rows`` (match by ``id``).

    Rows with an ``id`` update that row (it must belong to this post-mortem), rows
    without one are created, and existing rows not listed are deleted.

    Raises:
        ValidationError: keyed by ``related_name`` for an unknown id or an invalid row.
    """
    existing = {obj.pk: obj for obj in getattr(postmortem, related_name).all()}
    kept: list = []
    for index, row in enumerate(rows):
        row_id = row.get("id")
        if row_id:
            obj = existing.get(int(row_id))
            if obj is None:
                raise ValidationError({related_name: f"Row {index + 1}: no such row (id {row_id})."})
        else:
            obj = model(postmortem=postmortem)
        for field in fields:
            if field in row:
                setattr(obj, field, row[field])
        if obj.pk and hasattr(obj, "version"):
            obj.version += 1
        try:
            obj.full_clean(exclude=list(exclude_from_clean))
        except ValidationError as exc:
            raise _prefixed(exc, related_name, index) from exc
        if getattr(user, "pk", None):
            obj._history_user = user  # django-simple-history records who
        obj.save()
        kept.append(obj)
    kept_ids = {obj.pk for obj in kept}
    stale = [pk for pk in existing if pk not in kept_ids]
    for pk in stale:
        # One by one, so each row's history records who removed it.
        obj = existing[pk]
        if getattr(user, "pk", None):
            obj._history_user = user
        obj.delete()
    return kept


def postmortem_save(
    *,
    user=None,
    postmortem: PostMortem | None = None,
    fields: dict[str, Any],
    timeline: Sequence[dict[str, Any]] | None = None,
    action_items: Sequence[dict[str, Any]] | None = None,
    declined_changes: Sequence[dict[str, Any]] | None = None,
    fix_prs: Sequence[dict[str, Any]] | None = None,
    enforce_readiness: bool = True,
    readiness_override_reason: str = "",
    expected_version: int | None = None,
    detect_patterns: bool = True,
    change_reason: str = "",
) -> PostMortem:
    """Create or update a post-mortem and its rows in one transaction.

    Args:
        user: the acting user (recorded as ``created_by`` on create); may be None
            for system actors such as the importer.
        postmortem: the document to update, or None to create one.
        fields: values for ``DOCUMENT_FIELDS`` (model instances for ``team`` and
            ``facilitator``) and lists of instances for ``services``, ``authors``
            and ``factors``. Keys left out are left unchanged on update.
        timeline: rows ``{id?, at, text, evidence_url?}``; None leaves the rows as
            they are, a list replaces them (matching by ``id``).
        action_items: rows ``{id?, text, kind, owner (User), due_date (date),
            status, not_doing_reason?, ticket_url?}``; same replace semantics.
        declined_changes: rows ``{id?, text, rationale}``.
        fix_prs: rows ``{id?, url, title?, state?, action_item (ActionItem|None)}``;
            ``repository`` and ``number`` are read from the URL.
        enforce_readiness: when a document leaves "draft" (or is created in a
            later status) it must pass ``readiness.readiness_check``. Importers
            pass False: imported documents were reviewed elsewhere.
        readiness_override_reason: lets a staff user move a document on although
            the check fails; the override is recorded with the failing checks.
        detect_patterns: after commit, look for recurring contributing factors
            involving this document (``patterns``). Bulk imports pass False and
            rely on ``manage.py detect_patterns`` or the nightly run instead.
        expected_version: the ``version`` the caller read; the save happens only
            if it is still current (the row is locked while checking). Every save
            adds one to ``version`` whether or not this is given.
        change_reason: a note stored with the revision (``postmortems.history``),
            e.g. "restored revision 3"; at most 100 characters are kept.

    Every call stores exactly one revision of the whole document (who, when,
    the columns and a snapshot of its relations and rows).

    Returns:
        The saved ``PostMortem``.

    Raises:
        ValidationError: with a field → messages mapping (row errors under the
            row list's name) when anything is invalid; nothing is saved then.
        StaleVersionError: when ``expected_version`` is given and no longer
            current; nothing is saved then.
    """
    unknown = set(fields) - set(DOCUMENT_FIELDS) - set(DOCUMENT_M2M)
    if unknown:
        raise ValueError(f"Unknown post-mortem fields: {sorted(unknown)}")
    for name, rows in (
        ("timeline", timeline),
        ("action_items", action_items),
        ("declined_changes", declined_changes),
        ("fix_prs", fix_prs),
    ):
        _check_row_count(name, rows)

    creating = postmortem is None
    previous_status = None
    with transaction.atomic():
        pm = postmortem or PostMortem(created_by=user if getattr(user, "pk", None) else None)
        if not creating:
            # Lock the row and work on what is stored now, not on the caller's
            # copy: a copy read before another writer's save would otherwise write
            # that writer's changes back in fields this call never touched.
            pm = PostMortem.objects.select_for_update().get(pk=pm.pk)
            if expected_version is not None and pm.version != expected_version:
                raise StaleVersionError(pm.version)
            previous_status = pm.status
            pm.version += 1
        for name in DOCUMENT_FIELDS:
            if name in fields:
                value = fields[name]
                if value is None and name in _TEXT_FIELDS:
                    value = ""  # text columns store "nothing" as "", never NULL
                setattr(pm, name, value)
        pm.full_clean(exclude=["search_body"])
        pm.save_without_historical_record()  # one revision, at the end (postmortems.history)
        for name in DOCUMENT_M2M:
            if name in fields and fields[name] is not None:
                getattr(pm, name).set(fields[name])
        if creating and user is not None and getattr(user, "pk", None) and "authors" not in fields:
            pm.authors.add(user)

        if timeline is not None:
            _sync_rows(
                postmortem=pm,
                model=TimelineEntry,
                related_name="timeline",
                user=user,
                rows=timeline,
                fields=("at", "text", "evidence_url"),
            )
        touched_items: list[ActionItem] = []
        if action_items is not None:
            rows = [_with_completion(row, pm) for row in action_items]
            touched_items = _sync_rows(
                postmortem=pm,
                model=ActionItem,
                related_name="action_items",
                user=user,
                rows=rows,
                fields=(
                    "text",
                    "kind",
                    "owner",
                    "due_date",
                    "status",
                    "not_doing_reason",
                    "ticket_url",
                    "completed_at",
                ),
            )
        if declined_changes is not None:
            _sync_rows(
                postmortem=pm,
                model=DeclinedChange,
                related_name="declined_changes",
                user=user,
                rows=declined_changes,
                fields=("text", "rationale"),
            )
        if fix_prs is not None:
            _sync_rows(
                postmortem=pm,
                model=FixPullRequest,
                related_name="fix_prs",
                user=user,
                rows=[_with_pr_parts(row, index) for index, row in enumerate(fix_prs)],
                fields=("url", "repository", "number", "title", "state", "action_item"),
            )
        postmortem_reindex(pm)
        record_revision(pm, user=user, reason=change_reason, created=creating)
        if detect_patterns:
            from patterns.tasks import enqueue_detection_for_postmortem

            enqueue_detection_for_postmortem(pm.pk)
        if enforce_readiness and _leaves_draft(previous_status, pm.status, creating):
            _require_readiness(
                pm, user=user, from_status=previous_status or "", reason=readiness_override_reason
            )
        for item in touched_items:
            # Closed items (done, not doing) need nothing from their owner.
            if item.owner_id != item.notified_owner_id and not item.is_closed:
                _enqueue_owner_notification(item.pk)
    return pm


def _leaves_draft(previous: str | None, new: str, creating: bool) -> bool:
    draft = PostMortem.Status.DRAFT
    return new != draft and (creating or previous == draft)


def _require_readiness(pm: PostMortem, *, user, from_status: str, reason: str) -> None:
    """Refuse to move ``pm`` out of draft unless it is ready, or a staff user overrides.

    Raises:
        ValidationError: on ``status``, one message per failing check, or when a
            non-staff user tries to override.
    """
    from postmortems.readiness import readiness_check

    readiness = readiness_check(pm)
    if readiness.passed:
        return
    reason = (reason or "").strip()
    if reason:
        if not getattr(user, "is_staff", False):
            raise ValidationError({"status": "Only an admin can override the readiness check."})
        ReadinessOverride.objects.create(
            postmortem=pm,
            from_status=from_status,
            to_status=pm.status,
            reason=reason[:1000],
            failing_checks=[{"id": c.id, "label": c.label, "detail": c.detail} for c in readiness.failing],
            created_by=user if getattr(user, "pk", None) else None,
        )
        return
    raise ValidationError(
        {
            "status": [
                f"Not ready for review — {c.label}" + (f": {c.detail}" if c.detail else ".")
                for c in readiness.failing
            ]
        }
    )


def finding_waive(
    *, postmortem: PostMortem, user, section: str, rule: str, excerpt: str, reason: str
) -> FindingWaiver:
    """Mark a blameless-language finding as intentional (e.g. a quoted chat message).

    Args:
        section: a section field name or ``"action_item"``.
        rule, excerpt: as reported by ``readiness.postmortem_lint``.
        reason: why the wording stays; required.

    Returns:
        The ``FindingWaiver`` (an existing one is updated with the new reason).

    Raises:
        ValidationError: keyed by field for a blank reason or an unknown section.
    """
    from postmortems.onepager import SECTION_FIELDS

    if section not in (*SECTION_FIELDS, "action_item"):
        raise ValidationError({"section": f"Unknown section {section!r}."})
    if not (reason or "").strip():
        raise ValidationError({"reason": "Say why this wording is intentional."})
    waiver, _ = FindingWaiver.objects.update_or_create(
        postmortem=postmortem,
        section=section,
        rule=rule,
        excerpt=excerpt[:300],
        defaults={"reason": reason.strip()[:500], "created_by": user if getattr(user, "pk", None) else None},
    )
    return waiver


def _with_completion(row: dict[str, Any], pm: PostMortem) -> dict[str, Any]:
    """Fill in what a row leaves out from the stored item, and keep ``completed_at``
    in step with the status: stamped once when done, cleared when reopened."""
    row = dict(row)
    stored = None
    if row.get("id"):
        stored = (
            ActionItem.objects.filter(postmortem=pm, pk=row["id"]).values("status", "completed_at").first()
        )
    if "status" not in row:
        row["status"] = stored["status"] if stored else ActionItem.Status.OPEN
    if row["status"] == ActionItem.Status.DONE:
        if not row.get("completed_at"):
            row["completed_at"] = (stored or {}).get("completed_at") or timezone.now()
    else:
        row["completed_at"] = None
    return row


def _with_pr_parts(row: dict[str, Any], index: int) -> dict[str, Any]:
    row = dict(row)
    try:
        row["repository"], row["number"] = parse_pull_request_url(row.get("url", ""))
    except ValidationError as exc:
        raise ValidationError({"fix_prs": [f"Row {index + 1}: url: {exc.messages[0]}"]}) from exc
    row.setdefault("state", FixPullRequest.State.OPEN)
    row["title"] = row.get("title") or ""
    return row


def _enqueue_owner_notification(action_item_id: int) -> None:
    from postmortems.tasks import notify_action_item_owner

    def enqueue() -> None:
        notify_action_item_owner.delay(action_item_id)

    # robust=True: a broker outage must not turn a saved document into a 500;
    # the failure is logged and the owner can be told again on the next save.
    transaction.on_commit(enqueue, robust=True)


def build_search_body(pm: PostMortem) -> str:
    """The text of a document's rows and names that search indexes with the sections.

    Reads the rows fresh from the database (never a prefetch cache the caller
    may hold), so rows written moments ago are included.

    Returns:
        One string: team and service names, factor names and slugs, timeline
        texts, action-item keys and texts, declined changes with rationale, and
        fix-PR repositories and titles, one per line.
    """
    lines: list[str] = [Team.objects.filter(pk=pm.team_id).values_list("name", flat=True).first() or ""]
    lines += Service.objects.filter(postmortems=pm).values_list("name", flat=True)
    lines += [
        f"{name} {slug}"
        for name, slug in ContributingFactor.objects.filter(postmortems=pm).values_list("name", "slug")
    ]
    lines += TimelineEntry.objects.filter(postmortem=pm).values_list("text", flat=True)
    lines += [
        f"AI-{pk} {text}" for pk, text in ActionItem.objects.filter(postmortem=pm).values_list("pk", "text")
    ]
    lines += [
        f"{text} {why}"
        for text, why in DeclinedChange.objects.filter(postmortem=pm).values_list("text", "rationale")
    ]
    lines += [
        f"{repo} {title}"
        for repo, title in FixPullRequest.objects.filter(postmortem=pm).values_list("repository", "title")
    ]
    return "\n".join(line for line in lines if line)


def postmortem_reindex(pm: PostMortem) -> None:
    """Rebuild ``search_body`` for one document (the engines' indexes follow it).

    Uses a single UPDATE so ``updated_at`` and other fields are untouched; the
    SQLite trigger and the PostgreSQL generated column pick the change up.
    """
    body = build_search_body(pm)
    PostMortem.objects.filter(pk=pm.pk).update(search_body=body)
    pm.search_body = body


def action_item_set_status(
    *,
    item: ActionItem,
    status: str,
    not_doing_reason: str = "",
    expected_version: int | None = None,
    user=None,
) -> ActionItem:
    """Move an action item to ``status`` (one of ``ActionItem.Status``).

    Shorthand for ``action_item_update`` with only the status (and the reason,
    which "not doing" requires).

    Raises:
        ValidationError: for an unknown status, or "not doing" without a reason.
    """
    return action_item_update(
        item=item,
        data={"status": status, "not_doing_reason": not_doing_reason},
        expected_version=expected_version,
        user=user,
    )


ACTION_ITEM_EDITABLE = ("text", "kind", "owner", "due_date", "status", "not_doing_reason", "ticket_url")


def action_item_update(
    *, item: ActionItem, data: dict[str, Any], expected_version: int | None = None, user=None
) -> ActionItem:
    """Change one action item without touching its siblings.

    Args:
        item: the stored item.
        data: any of ``ACTION_ITEM_EDITABLE`` (``owner`` a User, ``due_date`` a date).
        user: who makes the change, for the item's history (None: the request's
            user when there is one, else nobody — a system actor).

    Returns:
        The saved item. A new owner is told by e-mail after commit; ``completed_at``
        is stamped when the item becomes done and cleared when it is reopened.

    The document's ``version`` goes up by one too: its action items are part of
    it, so a whole-document save (the edit form, the API's PUT/PATCH) or a
    revision restore made from a copy read before this change is refused as
    stale instead of silently writing the old status back. Locks are taken in
    the order ``postmortem_save`` takes them, the document's row first and then
    the item's, so the two cannot deadlock each other on PostgreSQL.

    Raises:
        ValidationError: keyed by field; nothing is saved then.
        ValueError: for a key outside ``ACTION_ITEM_EDITABLE``.
        StaleVersionError: when ``expected_version`` is given and no longer current.
    """
    unknown = set(data) - set(ACTION_ITEM_EDITABLE)
    if unknown:
        raise ValueError(f"Unknown action-item fields: {sorted(unknown)}")
    for name, value in data.items():
        setattr(item, name, "" if value is None and name in ("not_doing_reason", "ticket_url") else value)
    if item.status != ActionItem.Status.NOT_DOING:
        item.not_doing_reason = ""
    if item.status == ActionItem.Status.DONE:
        item.completed_at = item.completed_at or timezone.now()
    else:
        item.completed_at = None
    item.full_clean()
    with transaction.atomic():
        pm = PostMortem.all_objects.select_for_update().get(pk=item.postmortem_id)
        stored_version = (
            ActionItem.objects.select_for_update().values_list("version", flat=True).get(pk=item.pk)
        )
        if expected_version is not None and stored_version != expected_version:
            raise StaleVersionError(stored_version)
        item.version = stored_version + 1
        if getattr(user, "pk", None):
            item._history_user = user
        item.save()
        pm.version += 1
        PostMortem.objects.filter(pk=pm.pk).update(version=pm.version)
        postmortem_reindex(pm)
        item.postmortem = pm
        if item.owner_id != item.notified_owner_id and not item.is_closed:
            _enqueue_owner_notification(item.pk)
    return item


def postmortem_delete(*, user, postmortem: PostMortem) -> PostMortem:
    """Soft-delete a post-mortem: it disappears from every list, search and figure.

    Nothing is removed: the row, its rows and its history stay, and an admin can
    bring it back with ``postmortem_restore``. A revision records who and when.

    Raises:
        django.core.exceptions.PermissionDenied: unless ``access.can_delete``.
    """
    from postmortems import access

    access.require_delete(user, postmortem)
    with transaction.atomic():
        pm = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
        pm.deleted_at = timezone.now()
        pm.deleted_by = user if getattr(user, "pk", None) else None
        pm.version += 1
        pm.save_without_historical_record(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
        record_revision(pm, user=user, reason="deleted")
    return pm


def postmortem_restore(*, user, postmortem: PostMortem) -> PostMortem:
    """Bring a soft-deleted post-mortem back (admins only).

    Raises:
        django.core.exceptions.PermissionDenied: unless ``access.can_restore``.
        ValidationError: when the document is not deleted.
    """
    from postmortems import access

    access.require_restore(user)
    with transaction.atomic():
        pm = PostMortem.all_objects.select_for_update().get(pk=postmortem.pk)
        if pm.deleted_at is None:
            raise ValidationError("This post-mortem is not deleted.")
        pm.deleted_at = None
        pm.deleted_by = None
        pm.version += 1
        pm.save_without_historical_record(update_fields=["deleted_at", "deleted_by", "version", "updated_at"])
        record_revision(pm, user=user, reason="restored after deletion")
    return pm
