"""HTML forms of the review pages. They validate and shape input only; the views
hand ``cleaned_data`` to ``reviews.services``."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone

from postmortems.forms import UserChoiceField, UserMultipleChoiceField, lint_attrs
from postmortems.models import ActionItem, ContributingFactor
from reviews.agenda import STEPS
from reviews.models import MAX_STEP_MINUTES, ReviewNote
from reviews.services import MAX_NOTE_CHARS, MAX_OUTCOME_CHARS, MAX_PULSE_CHANGE_CHARS

DATETIME_INPUT_FORMAT = "%Y-%m-%dT%H:%M"


def active_users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class ScheduleForm(forms.Form):
    """Schedule (or reschedule) a review. ``invitees`` start ticked with the suggestions.

    ``accept_warnings`` confirms a facilitator the page warned about (an author,
    or named in the timeline); the view asks for it only when there are warnings.
    """

    scheduled_at = forms.DateTimeField(
        label="When",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_INPUT_FORMAT),
        input_formats=[DATETIME_INPUT_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    location = forms.CharField(
        label="Where", required=False, max_length=300, help_text="A room or a video-call link."
    )
    facilitator = UserChoiceField(
        queryset=active_users(),
        help_text="Someone who did not write the post-mortem or work the incident.",
    )
    note_taker = UserChoiceField(queryset=active_users(), required=False, label="Note-taker")
    invitees = UserMultipleChoiceField(
        queryset=active_users(), required=False, widget=forms.CheckboxSelectMultiple
    )
    accept_warnings = forms.BooleanField(
        required=False, label="Schedule anyway: I have read the warnings about the facilitator."
    )

    def clean_scheduled_at(self) -> dt.datetime:
        value = self.cleaned_data["scheduled_at"]
        return value if timezone.is_aware(value) else timezone.make_aware(value)


class SectionForm(forms.Form):
    """An inline edit of one section: the text, the version and the text as read."""

    text = forms.CharField(required=False, strip=False, widget=forms.Textarea(attrs={"rows": 10}))
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    base_text = forms.CharField(required=False, strip=False, widget=forms.HiddenInput)

    def __init__(self, *args, section: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].widget.attrs.update(
            {"class": "markdown-input review-editor", **(lint_attrs(section) if section else {})}
        )


class ActionItemQuickForm(forms.Form):
    """Quick-add of an action item: text, owner, due date, kind."""

    text = forms.CharField(max_length=500, label="Action item")
    owner = UserChoiceField(queryset=active_users())
    due_date = forms.DateField(label="Due", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    kind = forms.ChoiceField(choices=ActionItem.Kind.choices, initial=ActionItem.Kind.CODE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["text"].widget.attrs.update(lint_attrs("action_item"))
        self.fields["text"].lint_section = "action_item"  # _field.html adds the findings box
        self.fields["text"].widget.attrs["placeholder"] = "Add a test / check / alert that …"


class DeclinedChangeForm(forms.Form):
    text = forms.CharField(max_length=500, label="Change we decline")
    rationale = forms.CharField(max_length=2000, label="Why")


class DeclineItemForm(forms.Form):
    rationale = forms.CharField(max_length=2000, label="Why not")


class FactorForm(forms.Form):
    """Tag or untag one contributing factor."""

    factor = forms.ModelChoiceField(queryset=ContributingFactor.objects.all(), to_field_name="slug")
    tagged = forms.BooleanField(required=False)


class NoteForm(forms.Form):
    kind = forms.ChoiceField(choices=ReviewNote.Kind.choices)
    text = forms.CharField(max_length=MAX_NOTE_CHARS)


class NoteUpdateForm(forms.Form):
    done = forms.BooleanField(required=False)
    delete = forms.BooleanField(required=False)


class AttendanceForm(forms.Form):
    attendees = UserMultipleChoiceField(
        queryset=active_users(), required=False, widget=forms.CheckboxSelectMultiple
    )


class EndForm(forms.Form):
    outcome = forms.CharField(
        max_length=MAX_OUTCOME_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the room agreed: the main learning and what happens next.",
        error_messages={"required": "Record the outcome of the review."},
    )


class StepForm(forms.Form):
    from_step = forms.IntegerField(min_value=0, widget=forms.HiddenInput)


LEARNED_CHOICES = [
    (5, "5 — yes, a lot"),
    (4, "4"),
    (3, "3"),
    (2, "2"),
    (1, "1 — nothing"),
]


class PulseForm(forms.Form):
    """The three-question pulse."""

    learned = forms.TypedChoiceField(
        label="Did you learn something that will change your work?",
        choices=LEARNED_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    come_again = forms.TypedChoiceField(
        label="Would you come to another review?",
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    what_should_change = forms.CharField(
        label="What should change?",
        required=False,
        max_length=MAX_PULSE_CHANGE_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class AgendaForm(forms.Form):
    """A team's minutes per agenda step."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for step in STEPS:
            self.fields[step.key] = forms.IntegerField(
                label=f"{step.label} (min)",
                min_value=1,
                max_value=MAX_STEP_MINUTES,
                initial=step.default_minutes,
            )
