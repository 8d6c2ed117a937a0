"""The filter of every insights page and of the API: a team and a date range."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django import forms
from django.utils import timezone

from insights.conf import MAX_RANGE_DAYS
from insights.selectors import InsightsScope, default_range
from postmortems.models import Team


class InsightsFilterForm(forms.Form):
    """``team`` (slug, optional), ``from`` and ``to`` (ISO dates, inclusive).

    Missing dates default to the last ``INSIGHTS_DEFAULT_MONTHS`` whole months up
    to today. ``from`` and ``to`` are Python keywords, so those two fields are
    added in ``__init__``.
    """

    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        to_field_name="slug",
        required=False,
        empty_label="All teams",
        error_messages={"invalid_choice": "Unknown team; use the slug of an existing team."},
    )

    def __init__(self, data=None, *, now: dt.datetime | None = None, **kwargs):
        now = now or timezone.now()
        start, end = default_range(timezone.localdate(now))
        if data is not None:
            # Fill in the default dates, so the inputs show the range the figures use.
            data = data.copy()
            for name, value in (("from", start), ("to", end)):
                if not data.get(name):
                    data[name] = value.isoformat()
        super().__init__(data, **kwargs)
        self.now = now
        date_input = {"type": "date"}
        self.fields["from"] = forms.DateField(
            required=False, label="From", initial=start, widget=forms.DateInput(date_input, format="%Y-%m-%d")
        )
        self.fields["to"] = forms.DateField(
            required=False, label="To", initial=end, widget=forms.DateInput(date_input, format="%Y-%m-%d")
        )
        self.default_start, self.default_end = start, end

    def clean(self):
        data = super().clean()
        start = data.get("from") or self.default_start
        end = data.get("to") or self.default_end
        if "from" in self.errors or "to" in self.errors:
            return data
        if start > end:
            self.add_error("to", "The end of the range must not be before its start.")
        elif (end - start).days > MAX_RANGE_DAYS:
            self.add_error("from", f"The range may be at most {MAX_RANGE_DAYS} days (about ten years).")
        data["from"], data["to"] = start, end
        return data

    def scope(self, viewer) -> InsightsScope:
        """The scope asked for by ``viewer`` (whose readable documents the figures
        count); call after ``is_valid()`` returned True."""
        data = self.cleaned_data
        return InsightsScope(
            start=data["from"], end=data["to"], team=data.get("team"), now=self.now, viewer=viewer
        )

    def query(self, **override) -> str:
        """The query string of the current filter (for CSV links and the zoom links)."""
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        params = {
            "team": (data.get("team").slug if data.get("team") else ""),
            "from": (data.get("from") or self.default_start).isoformat(),
            "to": (data.get("to") or self.default_end).isoformat(),
        }
        params.update(override)
        return urlencode({k: v for k, v in params.items() if v})
