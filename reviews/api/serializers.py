"""Serializers of the reviews API: they shape data and check field shapes only.

People are named by username, teams and contributing factors by slug,
post-mortems by id. Writes never go through ``serializer.save()``: the views
hand ``validated_data`` to ``reviews.services``.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from postmortems.api.serializers import ReadinessCheckSerializer
from postmortems.models import ActionItem, ContributingFactor, PostMortem
from postmortems.onepager import SECTION_FIELDS
from reviews import selectors
from reviews.agenda import STEP_KEYS
from reviews.models import MAX_STEP_MINUTES, PulseResponse, Review, ReviewNote, ReviewStepTime
from reviews.services import MAX_NOTE_CHARS, MAX_OUTCOME_CHARS, MAX_PULSE_CHANGE_CHARS

User = get_user_model()


def _username(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs
    )


def _username_read(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


# --- read ------------------------------------------------------------------------


class AgendaStepSerializer(serializers.Serializer):
    """One step of a review's agenda: ``step`` key, ``label``, ``minutes``."""

    step = serializers.ChoiceField(choices=STEP_KEYS)
    label = serializers.CharField()
    minutes = serializers.IntegerField(min_value=1)


class StepTimeSerializer(serializers.ModelSerializer):
    """When a step ran; ``seconds`` is null while it runs."""

    seconds = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = ReviewStepTime
        fields = ["index", "step", "planned_minutes", "started_at", "ended_at", "seconds"]
        read_only_fields = fields


class ReviewNoteSerializer(serializers.ModelSerializer):
    created_by = _username_read()

    class Meta:
        model = ReviewNote
        fields = ["id", "kind", "text", "step", "done", "created_by", "created_at"]
        read_only_fields = fields


class ReviewSerializer(serializers.ModelSerializer):
    """A review as lists show it. Durations in seconds; times ISO 8601."""

    url = serializers.HyperlinkedIdentityField(view_name="reviews-api:review-detail")
    html_url = serializers.SerializerMethodField()
    postmortem = serializers.IntegerField(source="postmortem_id", read_only=True)
    postmortem_key = serializers.CharField(source="postmortem.key", read_only=True)
    postmortem_status = serializers.CharField(source="postmortem.status", read_only=True)
    team = serializers.CharField(source="postmortem.team.slug", read_only=True)
    facilitator = _username_read()
    note_taker = _username_read(allow_null=True)
    invitees = _username_read(many=True)
    agenda = AgendaStepSerializer(many=True, read_only=True)
    planned_minutes = serializers.IntegerField(read_only=True)

    class Meta:
        model = Review
        fields = [
            "id",
            "url",
            "html_url",
            "postmortem",
            "postmortem_key",
            "postmortem_status",
            "team",
            "status",
            "scheduled_at",
            "location",
            "facilitator",
            "note_taker",
            "invitees",
            "agenda",
            "planned_minutes",
            "current_step",
            "started_at",
            "ended_at",
            "actual_seconds",
            "revision",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_html_url(self, obj: Review) -> str:
        request = self.context.get("request")
        path = obj.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class ReviewDetailSerializer(ReviewSerializer):
    """A whole review: besides the list fields, attendance, the outcome, the
    step log, the notes (decisions and parking lot) and the warnings about the
    facilitator (an author, named in the timeline, an action-item owner)."""

    attendees = _username_read(many=True)
    ended_by = _username_read(allow_null=True)
    created_by = _username_read(allow_null=True)
    step_times = StepTimeSerializer(many=True, read_only=True)
    notes = ReviewNoteSerializer(many=True, read_only=True)
    facilitator_warnings = serializers.SerializerMethodField()

    class Meta(ReviewSerializer.Meta):
        fields = [
            *ReviewSerializer.Meta.fields,
            "attendees",
            "outcome",
            "ended_by",
            "sequence",
            "step_times",
            "notes",
            "facilitator_warnings",
            "created_by",
        ]
        read_only_fields = fields

    def get_facilitator_warnings(self, obj: Review) -> list[str]:
        return selectors.facilitator_warnings(obj.postmortem, obj.facilitator)


class ClockStepSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    step = serializers.ChoiceField(choices=STEP_KEYS)
    label = serializers.CharField()
    minutes = serializers.IntegerField()
    state = serializers.CharField(help_text="`done`, `current` or `next`.")
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    seconds = serializers.IntegerField(allow_null=True)


class ClockSerializer(serializers.Serializer):
    """The review's clock, computed from server-stored times. Remaining seconds
    are negative when a step or the meeting runs over; screens correct for
    their own clock with ``server_now``. ``revision`` and ``postmortem_version``
    grow with every change: a screen that sees them move reloads."""

    status = serializers.ChoiceField(choices=Review.Status.choices)
    revision = serializers.IntegerField()
    postmortem_version = serializers.IntegerField()
    server_now = serializers.DateTimeField()
    current_step = serializers.IntegerField(allow_null=True)
    step = serializers.CharField(allow_null=True)
    step_label = serializers.CharField(allow_null=True)
    step_started_at = serializers.DateTimeField(allow_null=True)
    step_ends_at = serializers.DateTimeField(allow_null=True)
    step_remaining_seconds = serializers.IntegerField(allow_null=True)
    meeting_started_at = serializers.DateTimeField(allow_null=True)
    meeting_ends_at = serializers.DateTimeField(allow_null=True)
    meeting_remaining_seconds = serializers.IntegerField(allow_null=True)
    planned_minutes = serializers.IntegerField()
    elapsed_seconds = serializers.IntegerField(allow_null=True)
    is_last_step = serializers.BooleanField()
    steps = ClockStepSerializer(many=True)


class SuggestionSerializer(serializers.Serializer):
    username = serializers.CharField(source="user.username")
    name = serializers.CharField(source="user.get_full_name")
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=["author", "action-item owner", "named in the timeline"])
    )


class PlanSerializer(serializers.Serializer):
    """What scheduling needs to know: whether the post-mortem is ready, whom to
    invite and why, warnings about the chosen facilitator, the team's agenda."""

    postmortem = serializers.IntegerField()
    ready = serializers.BooleanField()
    checks = ReadinessCheckSerializer(many=True)
    open_review = serializers.IntegerField(allow_null=True)
    suggestions = SuggestionSerializer(many=True)
    facilitator_warnings = serializers.ListField(child=serializers.CharField())
    agenda = AgendaStepSerializer(many=True)


class PulseSummarySerializer(serializers.Serializer):
    """Pulse results: ``learned_average`` (1–5), ``learned_counts`` per score
    ("1"–"5"), ``come_again_share`` (0–1), the latest "what should change" answers."""

    responses = serializers.IntegerField()
    reviews = serializers.IntegerField()
    learned_average = serializers.FloatField(allow_null=True)
    learned_counts = serializers.DictField(child=serializers.IntegerField())
    come_again = serializers.IntegerField()
    come_again_share = serializers.FloatField(allow_null=True)
    changes = serializers.ListField(child=serializers.CharField())


class PulseResponseSerializer(serializers.ModelSerializer):
    respondent = _username_read()

    class Meta:
        model = PulseResponse
        fields = ["id", "review", "respondent", "learned", "come_again", "what_should_change", "created_at"]
        read_only_fields = fields


class TeamAgendaSerializer(serializers.Serializer):
    team = serializers.CharField()
    agenda = AgendaStepSerializer(many=True)
    total_minutes = serializers.IntegerField()


# --- write -----------------------------------------------------------------------


class ReviewScheduleSerializer(serializers.Serializer):
    """Body of ``POST /api/v1/reviews/``: schedule a review of a post-mortem
    that passes the readiness check. Leave ``invitees`` out to invite the
    suggested people (authors, action-item owners, people the timeline names)."""

    postmortem = serializers.PrimaryKeyRelatedField(queryset=PostMortem.objects.all())
    scheduled_at = serializers.DateTimeField()
    facilitator = _username()
    note_taker = _username(required=False, allow_null=True)
    invitees = _username(many=True, required=False)
    location = serializers.CharField(required=False, allow_blank=True, max_length=300)


class ReviewUpdateSerializer(serializers.Serializer):
    """Body of ``PATCH /api/v1/reviews/{id}/``: any of the schedule's fields."""

    scheduled_at = serializers.DateTimeField(required=False)
    facilitator = _username(required=False)
    note_taker = _username(required=False, allow_null=True)
    invitees = _username(many=True, required=False)
    location = serializers.CharField(required=False, allow_blank=True, max_length=300)


class StepRequestSerializer(serializers.Serializer):
    from_step = serializers.IntegerField(
        min_value=0, help_text="The step index the screen showed; a stale one changes nothing."
    )


class EndRequestSerializer(serializers.Serializer):
    outcome = serializers.CharField(max_length=MAX_OUTCOME_CHARS)


class SectionRequestSerializer(serializers.Serializer):
    """An inline edit of one section: the text, the post-mortem ``version`` the
    editor read and, optionally, the section as read (``base_text``), which
    lets the save go ahead when only other parts changed."""

    section = serializers.ChoiceField(choices=SECTION_FIELDS)
    text = serializers.CharField(
        allow_blank=True, trim_whitespace=False, max_length=settings.KB_MAX_SECTION_CHARS
    )
    version = serializers.IntegerField(min_value=1)
    base_text = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        trim_whitespace=False,
        max_length=settings.KB_MAX_SECTION_CHARS,
    )


class SectionResponseSerializer(serializers.Serializer):
    section = serializers.ChoiceField(choices=SECTION_FIELDS)
    text = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()


class SectionConflictSerializer(serializers.Serializer):
    """409: the section changed since the editor read it; nothing was saved.
    Send ``yours`` again with ``version`` = ``current_version`` to keep it."""

    detail = serializers.CharField()
    section = serializers.ChoiceField(choices=SECTION_FIELDS)
    yours = serializers.CharField(allow_blank=True)
    theirs = serializers.CharField(allow_blank=True)
    current_version = serializers.IntegerField()


class ActionItemAddSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    owner = _username()
    due_date = serializers.DateField()
    kind = serializers.ChoiceField(choices=ActionItem.Kind.choices, default=ActionItem.Kind.CODE)


class DeclinedChangeAddSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=500)
    rationale = serializers.CharField(max_length=2000)


class DeclineItemSerializer(serializers.Serializer):
    rationale = serializers.CharField(max_length=2000, help_text="Why the item will not be done.")


class FactorSetSerializer(serializers.Serializer):
    factor = serializers.SlugRelatedField(slug_field="slug", queryset=ContributingFactor.objects.all())
    tagged = serializers.BooleanField()


class FactorListSerializer(serializers.Serializer):
    factors = serializers.ListField(child=serializers.SlugField())


class NoteCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ReviewNote.Kind.choices)
    text = serializers.CharField(max_length=MAX_NOTE_CHARS)


class NoteUpdateSerializer(serializers.Serializer):
    done = serializers.BooleanField()


class AttendanceSerializer(serializers.Serializer):
    """``attendees`` replace the list (``replace`` true, the default) or are added to it."""

    attendees = _username(many=True, allow_empty=True)
    replace = serializers.BooleanField(default=True)


class AttendanceResultSerializer(serializers.Serializer):
    attendees = serializers.ListField(child=serializers.CharField())


class PulseRequestSerializer(serializers.Serializer):
    learned = serializers.IntegerField(
        min_value=1,
        max_value=5,
        help_text="Did you learn something that will change your work? 1 (nothing) to 5 (a lot).",
    )
    come_again = serializers.BooleanField(help_text="Would you come to another review?")
    what_should_change = serializers.CharField(
        required=False, allow_blank=True, max_length=MAX_PULSE_CHANGE_CHARS, help_text="What should change?"
    )


@extend_schema_field(
    {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1, "maximum": MAX_STEP_MINUTES}}
)
class MinutesField(serializers.DictField):
    """Minutes per step key (``frame``, ``timeline``, ``factors``, ``actions``, ``wrapup``)."""

    child = serializers.IntegerField(min_value=1, max_value=MAX_STEP_MINUTES)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        unknown = sorted(set(value) - set(STEP_KEYS))
        if unknown:
            raise serializers.ValidationError(
                f"Unknown agenda steps: {', '.join(unknown)}; expected {', '.join(STEP_KEYS)}."
            )
        return value


class TeamAgendaUpdateSerializer(serializers.Serializer):
    minutes = MinutesField()
