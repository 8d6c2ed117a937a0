"""The edit-conflict page (HTTP 409): what to show when a save meets a newer document.

A three-way comparison, per field and per action item, of the revision the
user's form was read at, their input and the document now (the approach of
``diff3`` and of wiki edit conflicts). ``postmortems.views`` calls
``edit_conflict`` when ``services.postmortem_save`` raises
``StaleVersionError``; nothing here saves.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils import timezone

from postmortems.forms import DATETIME_INPUT_FORMAT, PostMortemForm, user_label
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Service
from postmortems.onepager import SECTION_FIELDS

# --- edit conflicts (two people saved the same version) ---------------------------------------

#: The document fields the conflict page compares: all the form's, in form order.
CONFLICT_FIELDS = tuple(PostMortemForm.Meta.fields)
_MULTI_FIELDS = frozenset({"services", "authors", "factors", "restricted_to"})
_TIME_FIELDS = frozenset({"started_at", "detected_at", "mitigated_at", "resolved_at"})
#: (formset prefix, snapshot key, label) of the row lists the conflict page compares.
_CONFLICT_ROWS = (
    ("timeline", "timeline", "Timeline"),
    ("items", "action_items", "Action items"),
    ("declined", "declined_changes", "Declined changes"),
)


@dataclass
class FieldConflict:
    """One field both writers changed, differently: ``mine`` and ``theirs`` are
    display texts (labels for choices, the raw Markdown for sections)."""

    name: str
    label: str
    mine: str
    theirs: str
    is_section: bool


@dataclass
class RowsConflict:
    """A row list the other save changed: its rows now and the user's rows, as
    texts; or one action-item field both saves changed (``note`` says which
    of the two the form holds)."""

    label: str
    mine: list[str]
    theirs: list[str]
    note: str = (
        "Your rows are in the form below; saving replaces the current rows with them, "
        "so add back any current row you want to keep."
    )


@dataclass
class EditConflict:
    """What the conflict page (HTTP 409) shows, and the data that re-fills the form.

    Attributes:
        current_version: the version stored now; the re-filled form carries it.
        fields: fields both writers changed differently (the user merges them).
        taken: labels of fields only the other writer changed; their current
            values are put in the form, so saving again does not undo them.
        rows: row lists the other save changed (the user's rows stay in the form).
        data: the user's POST data with ``version`` and the ``taken`` fields updated.
    """

    current_version: int
    fields: list[FieldConflict] = dc_field(default_factory=list)
    taken: list[str] = dc_field(default_factory=list)
    rows: list[RowsConflict] = dc_field(default_factory=list)
    data: Any = None


def _normal_text(value) -> str:
    return str(value).replace("\r\n", "\n").replace("\r", "\n")


def _stored_value(name: str, value) -> str | list[str]:
    """A stored value as the browser would post it back."""
    if name in _MULTI_FIELDS:
        return sorted(str(getattr(v, "pk", v)) for v in (value or []))
    if value is None:
        return ""
    if name in _TIME_FIELDS:
        return timezone.localtime(value).strftime(DATETIME_INPUT_FORMAT)
    if isinstance(value, models.Model):
        return str(value.pk)
    return _normal_text(value)


def _posted_value(data, name: str) -> str | list[str]:
    if name in _MULTI_FIELDS:
        return sorted(v for v in data.getlist(name) if v)
    return _normal_text(data.get(name, ""))


def _current_values(pm: PostMortem) -> dict[str, str | list[str]]:
    values: dict[str, str | list[str]] = {}
    for name in CONFLICT_FIELDS:
        if name in _MULTI_FIELDS:
            values[name] = _stored_value(name, getattr(pm, name).all())
        elif name in ("team", "facilitator"):
            values[name] = _stored_value(name, getattr(pm, f"{name}_id"))
        else:
            values[name] = _stored_value(name, getattr(pm, name))
    return values


def _base_values(revision) -> dict[str, str | list[str]] | None:
    """The field values of the revision the user started from (``PostMortem.history`` row)."""
    if revision is None:
        return None
    related = revision.related or {}
    factor_pks = dict(ContributingFactor.objects.values_list("slug", "pk"))
    service_pks = dict(Service.objects.values_list("slug", "pk"))
    values: dict[str, str | list[str]] = {}
    for name in CONFLICT_FIELDS:
        if name == "factors":
            values[name] = sorted(str(factor_pks.get(slug, "")) for slug in related.get("factors", []))
        elif name == "services":
            values[name] = sorted(str(service_pks.get(slug, "")) for slug in related.get("services", []))
        elif name in _MULTI_FIELDS:
            values[name] = sorted(str(pk) for pk in related.get(name, []))
        elif name in ("team", "facilitator"):
            values[name] = _stored_value(name, getattr(revision, f"{name}_id"))
        else:
            values[name] = _stored_value(name, getattr(revision, name))
    return values


def _display(form: forms.Form, name: str, value: str | list[str]) -> str:
    form_field = form.fields[name]
    choices = getattr(form_field, "choices", None)
    if choices is None:
        return value if isinstance(value, str) else ", ".join(value)
    labels = {str(key): label for key, label in choices}
    shown = [labels.get(v, v) for v in ([value] if isinstance(value, str) else value) if v]
    return ", ".join(str(label) for label in shown) or "—"


def _posted_rows(data, prefix: str) -> list[str]:
    try:
        total = min(int(data.get(f"{prefix}-TOTAL_FORMS", 0)), settings.KB_MAX_ROWS_PER_DOCUMENT + 1)
    except (TypeError, ValueError):
        total = 0
    texts = []
    for index in range(total):
        text = (data.get(f"{prefix}-{index}-text") or "").strip()
        if text and not data.get(f"{prefix}-{index}-DELETE"):
            texts.append(text)
    return texts


#: The action-item fields merged row by row, with their labels on the conflict page.
_ITEM_MERGE_FIELDS = (
    ("text", "text"),
    ("kind", "kind"),
    ("owner", "owner"),
    ("due_date", "due date"),
    ("status", "status"),
    ("not_doing_reason", "reason"),
    ("ticket_url", "ticket URL"),
)


def _posted_int(data, name: str) -> int | None:
    try:
        return int(data.get(name) or "")
    except (TypeError, ValueError):
        return None


def _item_values(row: dict[str, Any]) -> dict[str, str]:
    """An action item (a snapshot row, or a history record's ``values()``) as the
    browser posts it back: text, ids and ISO dates, trimmed."""
    return {
        name: _normal_text(row[name] if row[name] is not None else "").strip()
        for name, _ in _ITEM_MERGE_FIELDS
    }


def _item_display(name: str, value: str) -> str:
    """An action-item field's posted value as a reader knows it: a choice's
    label, an owner's name; other values as they are."""
    if name in ("status", "kind"):
        choices = dict(ActionItem._meta.get_field(name).choices)
        return str(choices.get(value, value))
    if name == "owner" and value.isdigit():
        user = get_user_model().objects.filter(pk=int(value)).first()
        return user_label(user) if user else value
    return value or "—"


def _merge_action_items(data, refill, now_items: list[dict[str, Any]], conflict: EditConflict) -> None:
    """Three-way merge of each posted action-item row that names a stored item.

    The base is the item's own revision at the version the row was read at
    (``ActionItem.history``), so an item changed on its own since (marked done
    from "My action items", closed by a merged pull request) is merged exactly:
    fields only the other side changed are put in ``refill`` (listed in
    ``conflict.taken`` as "AI-12 status"), fields both changed differently
    become a ``RowsConflict``. Every merged row's ``version`` is moved to the
    item's current one. Rows without a readable id or version are left alone.
    """
    current = {row["id"]: row for row in now_items}
    versions = dict(ActionItem.objects.filter(pk__in=current).values_list("pk", "version"))
    total = _posted_int(data, "items-TOTAL_FORMS") or 0
    for index in range(min(total, settings.KB_MAX_ROWS_PER_DOCUMENT + 1)):
        prefix = f"items-{index}-"
        item_id, version = _posted_int(data, prefix + "id"), _posted_int(data, prefix + "version")
        if item_id not in current or version is None or data.get(prefix + "DELETE"):
            continue
        base_row = (
            ActionItem.history.filter(id=item_id, version=version)
            .order_by("-history_id")
            .values(*(name for name, _ in _ITEM_MERGE_FIELDS))
            .first()
        )
        if base_row is None:
            continue
        base, theirs = _item_values(base_row), _item_values(current[item_id])
        for name, label in _ITEM_MERGE_FIELDS:
            mine = _normal_text(data.get(prefix + name) or "").strip()
            if theirs[name] == base[name] or mine == theirs[name]:
                continue
            if mine == base[name]:
                refill[prefix + name] = theirs[name]
                conflict.taken.append(f"AI-{item_id} {label}")
            else:
                conflict.rows.append(
                    RowsConflict(
                        label=f"AI-{item_id} {label}",
                        mine=[_item_display(name, mine)],
                        theirs=[_item_display(name, theirs[name])],
                        note="Your value is in the form below; saving keeps it unless you change it.",
                    )
                )
        refill[prefix + "version"] = str(versions[item_id])


def edit_conflict(*, data, postmortem: PostMortem, base_version: int | None) -> EditConflict:
    """Compare an edit made from version ``base_version`` with what is stored now.

    A three-way comparison per field (the revision the user read, their input,
    the document now; the approach of ``diff3`` and of wiki edit conflicts):

    * only the other writer changed it → the current value goes into the form;
    * only the user changed it → their value stays;
    * both changed it, differently → a ``FieldConflict`` with both texts; the
      form keeps the user's text so they can merge.

    When the revision read is not in the history, every field whose input
    differs from the stored value is a conflict. Row lists (timeline, action
    items, declined changes) the other save changed are listed with both sets
    of rows; the form keeps the user's rows.

    Args:
        data: the user's POST (a ``QueryDict``).
        postmortem: the document as stored now.
        base_version: the ``version`` the user's form was read at.

    Returns:
        An ``EditConflict``; nothing is saved.
    """
    from postmortems.history import snapshot

    revision = None
    if base_version is not None:
        # An action item changed on its own raises the version without a
        # revision: the base is the newest revision at or before base_version.
        revision = (
            postmortem.history.filter(version__lte=base_version).order_by("-version", "-history_id").first()
        )
    base = _base_values(revision)
    current = _current_values(postmortem)
    display_form = PostMortemForm(instance=postmortem)
    refill = data.copy()
    refill["version"] = str(postmortem.version)
    conflict = EditConflict(current_version=postmortem.version, data=refill)
    for name in CONFLICT_FIELDS:
        mine = _posted_value(data, name)
        theirs = current[name]
        if mine == theirs:
            continue
        label = str(display_form.fields[name].label or name)
        if base is not None and mine == base[name]:
            # Only the other writer changed it: keep their change.
            if isinstance(theirs, list):
                refill.setlist(name, theirs)
            else:
                refill[name] = theirs
            conflict.taken.append(label)
        elif base is None or theirs != base[name]:
            conflict.fields.append(
                FieldConflict(
                    name=name,
                    label=label,
                    mine=_display(display_form, name, mine),
                    theirs=_display(display_form, name, theirs),
                    is_section=name in SECTION_FIELDS,
                )
            )
    now = snapshot(postmortem)
    _merge_action_items(data, refill, now["action_items"], conflict)
    for prefix, key, label in _CONFLICT_ROWS:
        if revision is not None and (revision.related or {}).get(key) == now[key]:
            continue
        theirs_rows = [row["text"] for row in now[key]]
        mine_rows = _posted_rows(data, prefix)
        if mine_rows != theirs_rows:
            conflict.rows.append(RowsConflict(label=label, mine=mine_rows, theirs=theirs_rows))
    return conflict
