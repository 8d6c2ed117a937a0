"""HTML forms for writing post-mortems and updating action items.

The forms only validate and shape input: they never save. Views turn their
``cleaned_data`` into the arguments of ``services.postmortem_save`` (the one
write path) and ``services.action_item_set_status``.

Row forms (timeline, action items, declined changes, fix PRs) are Django inline
model formsets, so each row gets the model's own field validation and
``clean()`` (for example "not doing" needs a reason) with errors on the row,
and its hidden ``id`` can only name a row of the same post-mortem.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.forms import BaseInlineFormSet, inlineformset_factory
from django.urls import reverse
from django.utils import timezone

from blameless import RULES
from postmortems.models import (
    ActionItem,
    ContributingFactor,
    DeclinedChange,
    FixPullRequest,
    PostMortem,
    TimelineEntry,
)
from postmortems.onepager import SECTION_FIELDS, SECTION_TEMPLATES, is_filled
from postmortems.services import parse_pull_request_url

REQUIRED_SECTIONS = ("what_happened", "why_it_happened")

DATETIME_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def lint_attrs(section: str) -> dict[str, str]:
    """Widget attributes that check a field's wording as the author types (htmx).

    About 600 ms after the last keystroke (and once when the page loads) the
    field's text and ``section`` are posted to ``postmortems:lint``;
    ``static/js/lint.js`` sends only those two values, and the returned findings
    replace the ``.lint-findings`` box that ``_field.html`` puts under the field.
    """
    return {
        "data-lint-section": section,
        "hx-post": reverse("postmortems:lint"),
        "hx-trigger": "input changed delay:600ms, load",
        "hx-target": "next .lint-findings",
        "hx-select": ".lint-result",
        "hx-swap": "innerHTML",
        "hx-sync": "this:replace",
    }


def _datetime_widget() -> forms.DateTimeInput:
    return forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT_FORMAT)


def _date_widget() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _formfield(db_field, **kwargs):
    """Form fields for model fields; URLs without a scheme are read as https://."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


def user_label(user) -> str:
    """ "Full Name (username)", or the username alone when no name is set."""
    full = user.get_full_name()
    return f"{full} ({user.username})" if full else user.username


class UserChoiceField(forms.ModelChoiceField):
    """A user picker labelled "Full Name (username)"."""

    def label_from_instance(self, obj) -> str:
        return user_label(obj)


class UserMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multi-user picker labelled like ``UserChoiceField``."""

    def label_from_instance(self, obj) -> str:
        return user_label(obj)


def _active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class KeepSecondsMixin:
    """``datetime-local`` inputs show minutes only; an unchanged time keeps the
    seconds it had (imported documents carry them), so editing is lossless."""

    minute_fields: tuple[str, ...] = ()

    def _keep_seconds(self, name: str):
        value = self.cleaned_data.get(name)
        initial = self.initial.get(name)
        if value and isinstance(initial, dt.datetime) and value == initial.replace(second=0, microsecond=0):
            return initial
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.minute_fields:
            if name in data:
                data[name] = self._keep_seconds(name)
        return data


class PostMortemForm(KeepSecondsMixin, forms.ModelForm):
    """The document: title, team, services, severity, status, the four timestamps,
    people, contributing factors, source URL, who can read it and the four
    Markdown sections.

    Args (besides ModelForm's):
        user: the signed-in user; on create they become the default author and
            their first team the default team.

    A new document's sections start from ``SECTION_TEMPLATES``; "what happened"
    and "why it happened" are required and must not be the bare prompt.

    An existing document's form also carries ``version``, the version the page
    was read at (a hidden field, required on edit): the view hands it to
    ``services.postmortem_save`` as ``expected_version`` so a second writer can
    never overwrite the first one's save unseen (optimistic locking).
    """

    minute_fields = ("started_at", "detected_at", "mitigated_at", "resolved_at")
    authors = UserMultipleChoiceField(
        queryset=_active_users(),
        required=False,
        help_text="Ctrl/⌘-click to pick several.",
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    facilitator = UserChoiceField(queryset=_active_users(), required=False)
    restricted_to = UserMultipleChoiceField(
        queryset=_active_users(),
        required=False,
        label="Named readers",
        help_text="People outside the team who may read it while it is restricted. "
        "Ctrl/⌘-click to pick several.",
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    class Meta:
        model = PostMortem
        formfield_callback = _formfield
        fields = [
            "title",
            "team",
            "services",
            "severity",
            "status",
            "started_at",
            "detected_at",
            "mitigated_at",
            "resolved_at",
            "authors",
            "facilitator",
            "factors",
            "source_url",
            "visibility",
            "restricted_to",
            *SECTION_FIELDS,
        ]
        widgets = {
            "started_at": _datetime_widget(),
            "detected_at": _datetime_widget(),
            "mitigated_at": _datetime_widget(),
            "resolved_at": _datetime_widget(),
            "services": forms.SelectMultiple(attrs={"size": 4}),
            "factors": forms.CheckboxSelectMultiple,
            "visibility": forms.RadioSelect,
        }
        labels = {
            "visibility": "Who can read this",
            "started_at": "Started",
            "detected_at": "Detected",
            "mitigated_at": "Mitigated",
            "resolved_at": "Resolved",
            "factors": "Contributing factors",
            "source_url": "Source URL",
            "what_happened": "What happened",
            "why_it_happened": "Why it happened",
            "what_we_change": "What we change",
            "what_we_dont_change": "What we don't change, and why",
        }
        help_texts = {
            "services": "Ctrl/⌘-click to pick several.",
            "source_url": "Optional link to the incident ticket or an external write-up.",
            "factors": "Conditions of the system that contributed. There is no "
            '"human error": ask what made the action reasonable at the time.',
            "visibility": "Restricted: only the team, the authors, the facilitator, the named "
            "readers and admins can find or open it (e.g. a security incident).",
        }

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        creating = kwargs.get("instance") is None or kwargs["instance"].pk is None
        if creating:
            initial = dict(SECTION_TEMPLATES)
            if user is not None and user.pk:
                initial["authors"] = [user.pk]
                first_team = user.teams.order_by("name").first()
                if first_team is not None:
                    initial["team"] = first_team.pk
            initial.update(kwargs.get("initial") or {})
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        if not creating:
            self.fields["version"].required = True
            self.fields["version"].error_messages["required"] = (
                "This form has no version; reload the page and make your changes again."
            )
            if not self.is_bound:
                self.initial["version"] = self.instance.version
        self.fields["severity"].required = True
        self.fields["severity"].choices = [("", "Choose a severity…"), *PostMortem.Severity.choices]
        self.fields["factors"].queryset = ContributingFactor.objects.order_by("category", "name")
        self.fields["factors"].required = False
        zone = timezone.get_current_timezone_name()
        for name in ("started_at", "detected_at", "mitigated_at", "resolved_at"):
            self.fields[name].input_formats = [DATETIME_INPUT_FORMAT, "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"]
            self.fields[name].help_text = zone
        for name in SECTION_FIELDS:
            field = self.fields[name]
            field.validators.append(MaxLengthValidator(settings.KB_MAX_SECTION_CHARS))
            field.widget.attrs.update({"rows": 8, "class": "markdown-input", **lint_attrs(name)})
            field.lint_section = name  # _field.html puts the findings box under it
            field.help_text = "Markdown."
            if name in REQUIRED_SECTIONS:
                field.required = True
        self.fields["title"].widget.attrs["autofocus"] = True
        status_help = "Leaving draft needs the readiness checklist on the one-page view to pass."
        self.fields["status"].help_text = status_help
        if user is not None and user.is_staff:
            self.fields["readiness_override_reason"] = forms.CharField(
                required=False,
                max_length=1000,
                label="Override reason",
                widget=forms.Textarea(attrs={"rows": 2}),
                help_text="Admins only: why this post-mortem may leave draft although the "
                "readiness check fails. The reason and the failing checks are recorded.",
            )

    def clean(self) -> dict[str, Any]:
        """Reject a required section left as its bare prompt."""
        data = super().clean()
        for name in REQUIRED_SECTIONS:
            value = (data.get(name) or "").strip()
            if value and not is_filled(name, value):
                self.add_error(name, "Replace the prompts with what you know about this incident.")
        return data

    def factor_groups(self) -> list[tuple[str, list]]:
        """The factor checkboxes grouped by category, for the template.

        Returns:
            ``[(category label, [(BoundWidget, ContributingFactor), ...]), ...]``
            in category order.
        """
        labels = dict(ContributingFactor.Category.choices)
        groups: dict[str, list] = {}
        for widget in self["factors"]:
            factor = widget.data["value"].instance
            groups.setdefault(labels.get(factor.category, factor.category), []).append((widget, factor))
        return list(groups.items())

    def document_fields(self) -> dict[str, Any]:
        """The ``fields`` argument of ``services.postmortem_save`` from cleaned data."""
        return {name: self.cleaned_data.get(name) for name in self.Meta.fields}


class TimelineEntryForm(KeepSecondsMixin, forms.ModelForm):
    """One timeline row: time, what happened, optional evidence link."""

    minute_fields = ("at",)

    class Meta:
        model = TimelineEntry
        formfield_callback = _formfield
        fields = ["at", "text", "evidence_url"]
        widgets = {"at": _datetime_widget(), "text": forms.TextInput}
        labels = {"evidence_url": "Evidence link"}

    def __init__(self, *args: Any, postmortem=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["at"].input_formats = [DATETIME_INPUT_FORMAT, "%Y-%m-%d %H:%M:%S"]


class ActionItemForm(forms.ModelForm):
    """One action item: text, kind, owner, due date, status, reason, ticket URL.

    A stored item's row also carries ``version``, the item's version when the
    page was read (hidden, never saved from here): when the save meets a
    newer document, ``conflicts.edit_conflict`` merges the row against that exact
    revision of the item.
    """

    owner = UserChoiceField(queryset=_active_users())
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    class Meta:
        model = ActionItem
        formfield_callback = _formfield
        fields = ["text", "kind", "owner", "due_date", "status", "not_doing_reason", "ticket_url"]
        widgets = {"due_date": _date_widget(), "not_doing_reason": forms.TextInput}
        labels = {
            "text": "Action item",
            "not_doing_reason": "Reason (if not doing)",
            "ticket_url": "Ticket URL",
        }

    def __init__(self, *args: Any, postmortem=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["text"].widget.attrs.update(lint_attrs("action_item"))
        self.fields["text"].lint_section = "action_item"
        if self.instance.pk:
            self.initial.setdefault("version", self.instance.version)


class DeclinedChangeForm(forms.ModelForm):
    """A change considered and declined, with its rationale."""

    class Meta:
        model = DeclinedChange
        formfield_callback = _formfield
        fields = ["text", "rationale"]
        widgets = {"rationale": forms.TextInput}
        labels = {"text": "Change we don't make", "rationale": "Why not"}

    def __init__(self, *args: Any, postmortem=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)


class FixPullRequestForm(forms.ModelForm):
    """A fix pull request: URL (must be a PR / merge request), title, state and an
    optional action item of the same post-mortem.

    Args (besides ModelForm's):
        postmortem: the document being edited; its action items are the choices
            (none before the first save).
    """

    class Meta:
        model = FixPullRequest
        formfield_callback = _formfield
        fields = ["url", "title", "state", "action_item"]
        labels = {"url": "Pull-request URL", "action_item": "For action item"}

    def __init__(self, *args: Any, postmortem=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["action_item"]
        if postmortem is not None and postmortem.pk:
            field.queryset = ActionItem.objects.filter(postmortem=postmortem).order_by("id")
        else:
            field.queryset = ActionItem.objects.none()
            field.help_text = "Items can be linked after the first save."
        field.label_from_instance = lambda item: f"{item.key}: {item.text[:60]}"
        field.required = False

    def clean_url(self) -> str:
        """Accept only pull-request / merge-request URLs (see ``parse_pull_request_url``)."""
        url = self.cleaned_data["url"]
        parse_pull_request_url(url)  # raises ValidationError with a readable message
        return url


class RowFormSet(BaseInlineFormSet):
    """An inline formset whose rows are handed to the service, never saved by it."""

    def rows(self, fields: tuple[str, ...]) -> tuple[list[dict[str, Any]], list[forms.Form]]:
        """The kept rows as service dicts, and the form each row came from.

        Skips rows marked for deletion and blank extra rows.

        Returns:
            ``(rows, forms)`` with ``rows[i] = {"id": pk or None, field: value, ...}``
            built from ``forms[i].cleaned_data``.
        """
        rows: list[dict[str, Any]] = []
        kept: list[forms.Form] = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            existing = data.get("id")
            row = {"id": existing.pk if existing else None}
            row.update({name: data.get(name) for name in fields})
            rows.append(row)
            kept.append(form)
        return rows, kept

    def save(self, commit: bool = True):
        """Refuse: rows are written by ``services.postmortem_save`` (with the
        document's version check and one revision), never by the formset.

        Raises:
            RuntimeError: always; calling it is a programming error.
        """
        raise RuntimeError("Rows are written by services.postmortem_save only.")


def _row_formset(model, form, *, extra: int):
    return inlineformset_factory(
        PostMortem,
        model,
        form=form,
        formset=RowFormSet,
        extra=extra,
        can_delete=True,
        max_num=settings.KB_MAX_ROWS_PER_DOCUMENT,
        validate_max=True,
    )


# (service argument, formset prefix, formset class, fields handed to the service)
ROW_FORMSETS = (
    (
        "timeline",
        "timeline",
        _row_formset(TimelineEntry, TimelineEntryForm, extra=1),
        ("at", "text", "evidence_url"),
    ),
    (
        "action_items",
        "items",
        _row_formset(ActionItem, ActionItemForm, extra=1),
        ("text", "kind", "owner", "due_date", "status", "not_doing_reason", "ticket_url"),
    ),
    (
        "declined_changes",
        "declined",
        _row_formset(DeclinedChange, DeclinedChangeForm, extra=1),
        ("text", "rationale"),
    ),
    (
        "fix_prs",
        "prs",
        _row_formset(FixPullRequest, FixPullRequestForm, extra=1),
        ("url", "title", "state", "action_item"),
    ),
)


class ActionItemStatusForm(forms.Form):
    """Change one action item's status from "My action items".

    ``not_doing_reason`` is needed only for "not doing"; the service enforces that
    (``services.action_item_set_status`` raises, the view shows the message).
    """

    status = forms.ChoiceField(choices=ActionItem.Status.choices)
    not_doing_reason = forms.CharField(
        required=False,
        max_length=1000,
        label="Reason",
        widget=forms.TextInput(attrs={"placeholder": "Why not? (needed for “not doing”)"}),
    )


class FindingWaiveForm(forms.Form):
    """Mark one language finding of a post-mortem as intentional (the page's
    "Language check" panel); ``services.finding_waive`` does the rest."""

    section = forms.ChoiceField(choices=[(name, name) for name in (*SECTION_FIELDS, "action_item")])
    rule = forms.ChoiceField(choices=[(rule.id, rule.id) for rule in RULES])
    # Kept verbatim: the waiver matches the finding's excerpt exactly.
    excerpt = forms.CharField(max_length=2000, strip=False)
    reason = forms.CharField(
        max_length=500,
        error_messages={"required": "Say why this wording is intentional."},
    )


def iter_row_errors(error: ValidationError) -> Iterator[tuple[str, int | None, str | None, str]]:
    """Split a ``postmortem_save`` error into ``(key, row, field, message)`` tuples.

    Row errors arrive as ``{"timeline": ["Row 2: text: This field …"]}``; ``row`` is
    the 0-based index of the row list given to the service and ``field`` the row's
    field, or None when a message names no row or field.
    """
    pattern = re.compile(r"^Row (\d+): (?:(\w+): )?(.*)$", re.DOTALL)
    detail = error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}
    for key, messages in detail.items():
        for message in messages:
            match = pattern.match(message)
            if match:
                yield key, int(match.group(1)) - 1, match.group(2), match.group(3)
            else:
                yield key, None, None, message
