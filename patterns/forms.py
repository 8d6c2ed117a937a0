"""Forms of the patterns pages: editing a Definition of Done, deciding a DoD
proposal, and a team's pattern settings. They check shapes; the rules live in
``patterns.services``."""

from __future__ import annotations

from django import forms

from patterns.conf import MIN_INCIDENTS_FLOOR, WINDOW_DAYS_MAX
from patterns.models import ITEM_TEXT_MAX, REASON_MAX
from patterns.services import ItemData
from postmortems.models import ContributingFactor


class DoDItemForm(forms.Form):
    """One row of the DoD editor: an existing item (``uid``) or a new one."""

    uid = forms.UUIDField(required=False, widget=forms.HiddenInput)
    text = forms.CharField(
        required=False,
        max_length=ITEM_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 2, "class": "dod-item-text"}),
        label="Item",
    )
    factor = forms.ModelChoiceField(
        queryset=ContributingFactor.objects.order_by("name"),
        required=False,
        to_field_name="slug",
        empty_label="— no factor —",
        label="Addresses",
    )
    order = forms.IntegerField(required=False, min_value=1, max_value=999, label="Position")
    remove = forms.BooleanField(required=False, label="Remove")

    def clean(self):
        data = super().clean()
        if data.get("uid") and not data.get("remove") and not (data.get("text") or "").strip():
            self.add_error("text", "Write the item, or tick “Remove”.")
        return data


DoDItemFormSet = forms.formset_factory(DoDItemForm, extra=3, max_num=100, absolute_max=130, validate_max=True)


def items_from_formset(formset) -> list[ItemData]:
    """The new item list from a valid editor formset: removed and blank new rows
    dropped, ordered by "Position" (rows without one keep their place)."""
    rows = []
    for index, form in enumerate(formset.forms):
        data = form.cleaned_data
        text = (data.get("text") or "").strip()
        if data.get("remove") or not text:
            continue
        order = data.get("order") or index + 1
        rows.append((order, index, ItemData(text=text, uid=data.get("uid"), factor=data.get("factor"))))
    return [item for _, _, item in sorted(rows, key=lambda row: (row[0], row[1]))]


class DoDChangeForm(forms.Form):
    """Why the Definition of Done changes, and the version the editor started from."""

    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why this change",
        help_text="Recorded with the new version and shown in the history.",
    )
    base_version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


class AcceptForm(forms.Form):
    text = forms.CharField(
        max_length=ITEM_TEXT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Definition-of-Done item",
        help_text="Edit the wording; it becomes an item of the Definition of Done, linked to the evidence.",
    )
    reason = forms.CharField(
        max_length=REASON_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why (optional)",
        help_text="Recorded with the new version; by default it names this proposal and its evidence.",
    )


class RejectForm(forms.Form):
    reason = forms.CharField(
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why we don't change the Definition of Done",
        help_text="Required. Shown on every evidence post-mortem under “What we don't change”.",
    )


class PatternSettingsForm(forms.Form):
    min_incidents = forms.IntegerField(min_value=MIN_INCIDENTS_FLOOR, max_value=100, label="K: post-mortems")
    window_days = forms.IntegerField(min_value=1, max_value=WINDOW_DAYS_MAX, label="W: days")
