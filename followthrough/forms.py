"""Forms of the follow-through pages (shapes only; rules live in the model and services)."""

from __future__ import annotations

from django import forms
from django.db import models

from followthrough.models import TeamFollowUpPolicy
from followthrough.services import POLICY_EDITABLE


def _formfield(db_field, **kwargs):
    """Form fields for model fields; URLs without a scheme are read as https://."""
    if isinstance(db_field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return db_field.formfield(**kwargs)


class TeamFollowUpPolicyForm(forms.ModelForm):
    """A team's follow-up policy and nudge settings."""

    class Meta:
        model = TeamFollowUpPolicy
        formfield_callback = _formfield
        # The page explains the windows once, above the five fields.
        labels = {
            "window_days_sev1": "SEV1",
            "window_days_sev2": "SEV2",
            "window_days_sev3": "SEV3",
            "window_days_sev4": "SEV4",
            "window_days_unrated": "Unrated",
        }
        help_texts = {name: "" for name in POLICY_EDITABLE if name.startswith("window_days_")}
        fields = list(POLICY_EDITABLE)
        widgets = {
            name: forms.NumberInput(attrs={"min": 1, "max": 365, "inputmode": "numeric"})
            for name in POLICY_EDITABLE
            if name.startswith("window_days_")
        } | {
            "due_soon_days": forms.NumberInput(attrs={"min": 0, "max": 30, "inputmode": "numeric"}),
            "escalate_after_days": forms.NumberInput(attrs={"min": 1, "max": 90, "inputmode": "numeric"}),
            "slack_webhook_url": forms.URLInput(attrs={"placeholder": "https://hooks.slack.com/services/…"}),
        }


class NudgePreferencesForm(forms.Form):
    """One switch: whether the signed-in person gets follow-through e-mail."""

    send_me_nudges = forms.BooleanField(
        required=False,
        label="E-mail me a daily digest of my due and overdue action items, and escalations",
    )
