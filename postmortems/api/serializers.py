"""Serializers of the REST API: they shape data and check field shapes only.

Read and write shapes differ, so each resource has separate serializers:
``*ReadSerializer``/``*Serializer`` render responses, ``*WriteSerializer`` and
``*RowSerializer`` check request bodies. Writes never go through
``serializer.save()``: the views hand ``validated_data`` to
``postmortems.services``, which holds the domain rules (ordering of timestamps,
"not doing" needs a reason, a fix PR's action item must belong to the same
post-mortem, replace-the-rows semantics).

People are named by username, teams, services and contributing factors by slug.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator as DjangoNullCharactersValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from blameless import RULES, SECTIONS
from followthrough.api import FollowUpDueField, ItemsPastWindowField, PastFollowUpWindowField
from postmortems import search, services
from postmortems.models import (
    ActionItem,
    ContributingFactor,
    DeclinedChange,
    FindingWaiver,
    FixPullRequest,
    PostMortem,
    Service,
    Team,
    TimelineEntry,
)
from postmortems.writing_aids import FINDING_SECTIONS, lint_report

User = get_user_model()

# The nested row lists a post-mortem write may carry; each one given replaces
# the document's rows of that kind, each one left out leaves them alone.
ROW_LISTS = ("timeline", "action_items", "declined_changes", "fix_prs")


# --- small fields ------------------------------------------------------------------


@extend_schema_field({"type": "integer", "nullable": True, "description": "Seconds."})
class DurationSecondsField(serializers.Field):
    """A ``timedelta`` rendered as whole seconds (int), or None when unknown."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return None if value is None else int(value.total_seconds())


@extend_schema_field({"type": "array", "items": {"type": "string"}, "description": "Slugs."})
class PrefetchedSlugsField(serializers.Field):
    """The slugs of a prefetched list of objects (``Prefetch(to_attr=…)``), read-only.

    What ``SlugRelatedField(many=True)`` renders, without building a related
    manager and a queryset per row to reach an already fetched list.
    """

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value) -> list[str]:
        return [obj.slug for obj in value]


def _url_or_blank() -> serializers.CharField:
    """A read-only URL column that may be blank: typed as a plain string, because
    ``format: uri`` would make the ``""`` of "no URL" a schema violation."""
    return serializers.CharField(read_only=True, help_text='An http(s) URL, or "" when there is none.')


def _username_field(**kwargs) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", queryset=User.objects.all(), **kwargs)


def _section_field(*, required: bool, what: str) -> serializers.CharField:
    """A Markdown section: at most ``KB_MAX_SECTION_CHARS`` characters, kept verbatim.

    Required sections must hold more than whitespace; the message says which one.
    """
    limit = settings.KB_MAX_SECTION_CHARS
    missing = f"The post-mortem needs this section: {what}."
    return serializers.CharField(
        required=required,
        allow_blank=not required,
        trim_whitespace=False,  # leading spaces are Markdown (code blocks)
        max_length=limit,
        error_messages={
            "required": missing,
            "blank": missing,
            "max_length": f"A section holds at most {limit} characters.",
        },
    )


# --- blameless writing aids: the language check and the readiness check ---------------


class AnyTextField(serializers.CharField):
    """A JSON string taken exactly as sent: whitespace kept, blank allowed, and NUL,
    other control characters and lone surrogates accepted (the checker takes any
    ``str``; binary noise is a result, not an error). Numbers, booleans, lists
    and objects are refused ("Must be a string."), unlike DRF's ``CharField``,
    which turns ``5`` into ``"5"``."""

    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)
        self.validators = [
            v
            for v in self.validators
            if not isinstance(v, (ProhibitSurrogateCharactersValidator, DjangoNullCharactersValidator))
        ]

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return data


def _section_choices_message(names) -> str:
    return 'Unknown section "{input}"; expected one of: ' + ", ".join(names) + "."


class LintRequestSerializer(serializers.Serializer):
    """Body of ``POST /api/v1/lint/``: Markdown ``text`` and an optional ``section``
    that selects the rules (vague-action applies only to ``what_we_change`` and
    ``action_item``; no section runs every rule)."""

    text = AnyTextField(help_text="Markdown. Code blocks and inline code are not checked.")
    section = serializers.ChoiceField(
        choices=SECTIONS,
        required=False,
        allow_null=True,
        help_text="Leave out (or null) to run every rule.",
        error_messages={"invalid_choice": _section_choices_message(SECTIONS) + " Or leave it out."},
    )


class LintFindingSerializer(serializers.Serializer):
    """One finding of the checker; ``start``/``end`` are offsets in Unicode code
    points into the text sent, and ``text[start:end] == excerpt``."""

    rule = serializers.ChoiceField(choices=[rule.id for rule in RULES])
    message = serializers.CharField()
    start = serializers.IntegerField(min_value=0)
    end = serializers.IntegerField(min_value=0)
    excerpt = serializers.CharField()
    suggestion = serializers.CharField()


class LintResponseSerializer(serializers.Serializer):
    """The checker's answer. ``truncated`` is true when the text was longer than
    the checker's cap and only its first ``checked_chars`` characters were
    checked."""

    findings = LintFindingSerializer(many=True)
    truncated = serializers.BooleanField()
    checked_chars = serializers.IntegerField(min_value=0)


class DocumentFindingSerializer(LintFindingSerializer):
    """A finding located in a post-mortem: ``section`` is a section field name or
    ``action_item`` (then ``item`` is its key, e.g. ``AI-3``); offsets are into
    that section's or item's text. A ``waived`` finding no longer counts."""

    section = serializers.ChoiceField(choices=FINDING_SECTIONS)
    item = serializers.CharField(allow_null=True)
    waived = serializers.BooleanField()
    waiver_reason = serializers.CharField(allow_null=True)


class LintSummarySerializer(serializers.Serializer):
    """The ``lint`` block of a post-mortem: open and waived counts, open findings
    per rule, and every finding in document order."""

    open = serializers.IntegerField(min_value=0)
    waived = serializers.IntegerField(min_value=0)
    by_rule = serializers.DictField(child=serializers.IntegerField(min_value=0))
    findings = DocumentFindingSerializer(many=True)


class ReadinessCheckSerializer(serializers.Serializer):
    """One line of the checklist. A ``blocking`` check must pass before the move
    to review; a non-blocking one only warns."""

    id = serializers.CharField()
    label = serializers.CharField()
    passed = serializers.BooleanField()
    blocking = serializers.BooleanField()
    detail = serializers.CharField(allow_blank=True)


class ReadinessSerializer(serializers.Serializer):
    """``ready`` is true when every blocking check passes."""

    ready = serializers.BooleanField()
    checks = ReadinessCheckSerializer(many=True)


class FindingWaiverWriteSerializer(serializers.Serializer):
    """Body of ``POST /api/v1/postmortems/{id}/waivers/``: the finding's ``section``,
    ``rule`` and ``excerpt`` as the ``lint`` block reports them, and why the
    wording is intentional (e.g. "a quoted chat message")."""

    section = serializers.ChoiceField(
        choices=FINDING_SECTIONS,
        error_messages={"invalid_choice": _section_choices_message(FINDING_SECTIONS)},
    )
    rule = serializers.ChoiceField(choices=[rule.id for rule in RULES])
    excerpt = serializers.CharField(max_length=2000, trim_whitespace=False)
    reason = serializers.CharField(
        max_length=500, error_messages={"blank": "Say why this wording is intentional."}
    )


class FindingWaiverSerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = FindingWaiver
        fields = ["id", "section", "rule", "excerpt", "reason", "created_by", "created_at"]
        read_only_fields = fields


# --- read: post-mortems --------------------------------------------------------------


class PostMortemSummarySerializer(serializers.ModelSerializer):
    """One row of the post-mortem list.

    ``action_items_open``/``action_items_total`` come from annotations added by
    the view. ``snippet`` (HTML: escaped text with ``<mark>`` around matches) and
    ``search_rank`` (float, higher is better, comparable only within one
    response) are filled when the list is searched with ``?q=``, null otherwise.
    ``visibility`` is "organisation" or "restricted"; ``version`` is the number
    the document's ``ETag`` carries.
    """

    url = serializers.HyperlinkedIdentityField(view_name="api:postmortem-detail")
    key = serializers.CharField(read_only=True)
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    # The lists ``selectors.postmortem_list`` prefetches (no related manager per row).
    services = PrefetchedSlugsField(source="service_list")
    factors = PrefetchedSlugsField(source="factor_list")
    action_items_open = serializers.IntegerField(read_only=True)
    action_items_total = serializers.IntegerField(read_only=True)
    snippet = serializers.SerializerMethodField(allow_null=True)
    search_rank = serializers.FloatField(read_only=True, allow_null=True)
    action_items_past_window = ItemsPastWindowField()

    class Meta:
        model = PostMortem
        fields = [
            "id",
            "key",
            "url",
            "title",
            "team",
            "services",
            "severity",
            "status",
            "started_at",
            "factors",
            "action_items_open",
            "action_items_total",
            "snippet",
            "search_rank",
            "action_items_past_window",
            "visibility",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_snippet(self, obj: PostMortem) -> str | None:
        parts = getattr(obj, "search_snippet", None)
        return None if parts is None else search.snippet_html(parts)


class TimelineEntrySerializer(serializers.ModelSerializer):
    evidence_url = _url_or_blank()

    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "text", "evidence_url"]
        read_only_fields = fields


class ActionItemInlineSerializer(serializers.ModelSerializer):
    """An action item as shown inside its post-mortem; ``version`` is the one its
    own ``ETag`` carries (``/api/v1/action-items/{id}/``)."""

    key = serializers.CharField(read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    ticket_url = _url_or_blank()
    is_overdue = serializers.BooleanField(read_only=True)
    followup_due = FollowUpDueField()
    past_followup_window = PastFollowUpWindowField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "key",
            "text",
            "kind",
            "owner",
            "due_date",
            "status",
            "not_doing_reason",
            "ticket_url",
            "completed_at",
            "is_overdue",
            "followup_due",
            "past_followup_window",
            "version",
        ]
        read_only_fields = fields


class DeclinedChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeclinedChange
        fields = ["id", "text", "rationale"]
        read_only_fields = fields


class FixPullRequestSerializer(serializers.ModelSerializer):
    action_item = serializers.IntegerField(source="action_item_id", read_only=True, allow_null=True)

    class Meta:
        model = FixPullRequest
        fields = ["id", "url", "repository", "number", "title", "state", "action_item"]
        read_only_fields = fields


class PostMortemDetailSerializer(serializers.ModelSerializer):
    """A whole post-mortem: the document, its sections (Markdown) and its rows.

    Durations are whole seconds from the start, null when either end is unknown.
    ``html_url`` is the absolute address of the web page. ``visibility`` says who
    may read it ("organisation": everyone signed in; "restricted": its team, its
    authors, its facilitator, the usernames in ``restricted_to`` and admins).
    ``version`` grows by one with every change and is what the ``ETag`` header
    carries; send it back in ``If-Match`` to change the document.
    """

    url = serializers.HyperlinkedIdentityField(view_name="api:postmortem-detail")
    key = serializers.CharField(read_only=True)
    html_url = serializers.SerializerMethodField()
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    services = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    factors = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True)
    authors = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    facilitator = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    restricted_to = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    time_to_detect = DurationSecondsField()
    time_to_mitigate = DurationSecondsField()
    time_to_resolve = DurationSecondsField()
    action_items = ActionItemInlineSerializer(many=True, read_only=True)
    declined_changes = DeclinedChangeSerializer(many=True, read_only=True)
    timeline = TimelineEntrySerializer(many=True, read_only=True)
    fix_prs = FixPullRequestSerializer(many=True, read_only=True)
    followup_due = FollowUpDueField()
    action_items_past_window = ItemsPastWindowField()
    lint = serializers.SerializerMethodField()
    source_url = _url_or_blank()

    class Meta:
        model = PostMortem
        fields = [
            "id",
            "key",
            "url",
            "html_url",
            "title",
            "team",
            "services",
            "severity",
            "status",
            "started_at",
            "detected_at",
            "mitigated_at",
            "resolved_at",
            "time_to_detect",
            "time_to_mitigate",
            "time_to_resolve",
            "authors",
            "facilitator",
            "what_happened",
            "why_it_happened",
            "what_we_change",
            "what_we_dont_change",
            "factors",
            "action_items",
            "declined_changes",
            "timeline",
            "fix_prs",
            "followup_due",
            "action_items_past_window",
            "lint",
            "source_url",
            "external_id",
            "visibility",
            "restricted_to",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_html_url(self, obj: PostMortem) -> str:
        path = obj.get_absolute_url()
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    @extend_schema_field(LintSummarySerializer)
    def get_lint(self, obj: PostMortem) -> dict:
        """Blameless-language findings of the sections and action items (waived ones marked)."""
        return lint_report(obj)


# --- write: post-mortems -------------------------------------------------------------


class RowSerializer(serializers.ModelSerializer):
    """A nested row: ``id`` names an existing row of this post-mortem to update.

    Rows without ``id`` are new, so their required fields are required even in a
    PATCH (DRF would otherwise skip every missing field of a partial update).
    """

    id = serializers.IntegerField(required=False, min_value=1)

    def validate(self, attrs):
        if "id" not in attrs:
            missing = {
                name: [serializers.Field.default_error_messages["required"]]
                for name, field in self.fields.items()
                if field.required and not field.read_only and name not in attrs
            }
            if missing:
                raise serializers.ValidationError(missing)
        return attrs


class TimelineRowSerializer(RowSerializer):
    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "text", "evidence_url"]


class ActionItemRowSerializer(RowSerializer):
    """An action item row: ``owner`` is a username, ``due_date`` is ``YYYY-MM-DD``."""

    owner = _username_field()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "text",
            "kind",
            "owner",
            "due_date",
            "status",
            "not_doing_reason",
            "ticket_url",
        ]


class DeclinedChangeRowSerializer(RowSerializer):
    class Meta:
        model = DeclinedChange
        fields = ["id", "text", "rationale"]


class VisibleActionItemField(serializers.PrimaryKeyRelatedField):
    """An action item id, looked up among the items the request's user may read,
    so an item of a document they may not see reads as "does not exist" — the
    same answer as for an id that was never used."""

    def get_queryset(self):
        request = self.context.get("request")
        return ActionItem.objects.visible_to(getattr(request, "user", None))


class FixPullRequestRowSerializer(RowSerializer):
    """A fix PR row: the URL must be a pull (or merge) request; repository and
    number are read from it. ``action_item`` is the id of an action item of the
    same post-mortem, or null."""

    action_item = VisibleActionItemField(required=False, allow_null=True)

    class Meta:
        model = FixPullRequest
        fields = ["id", "url", "title", "state", "action_item"]

    def validate_url(self, value: str) -> str:
        try:
            services.parse_pull_request_url(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from exc
        return value


class PostMortemWriteSerializer(serializers.ModelSerializer):
    """Body of a post-mortem create (POST) or partial update (PATCH).

    Required on create: ``title``, ``team`` (slug), ``severity`` (SEV1–SEV4),
    ``what_happened`` and ``why_it_happened`` (non-blank Markdown). ``services``
    and ``factors`` are lists of slugs, ``authors`` a list of usernames,
    ``facilitator`` a username. ``visibility`` is "organisation" (the default)
    or "restricted"; ``restricted_to`` lists the usernames of people outside the
    team who may read a restricted document. A row list (``timeline``, ``action_items``,
    ``declined_changes``, ``fix_prs``) replaces that kind of row: listed rows with
    an ``id`` are updated, rows without one created, unlisted rows deleted.
    """

    team = serializers.SlugRelatedField(slug_field="slug", queryset=Team.objects.all())
    services = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), many=True, required=False
    )
    factors = serializers.SlugRelatedField(
        slug_field="slug", queryset=ContributingFactor.objects.all(), many=True, required=False
    )
    authors = _username_field(many=True, required=False)
    facilitator = _username_field(required=False, allow_null=True)
    visibility = serializers.ChoiceField(choices=PostMortem.Visibility.choices, required=False)
    restricted_to = _username_field(many=True, required=False)
    severity = serializers.ChoiceField(choices=PostMortem.Severity.choices)
    what_happened = _section_field(required=True, what="what happened")
    why_it_happened = _section_field(required=True, what="why it happened")
    what_we_change = _section_field(required=False, what="what we change")
    what_we_dont_change = _section_field(required=False, what="what we don't change, and why")
    timeline = TimelineRowSerializer(many=True, required=False)
    action_items = ActionItemRowSerializer(many=True, required=False)
    declined_changes = DeclinedChangeRowSerializer(many=True, required=False)
    fix_prs = FixPullRequestRowSerializer(many=True, required=False)
    readiness_override_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        write_only=True,
        help_text=(
            "Admins only: move the document out of draft although the readiness check "
            "fails; the reason and the failing checks are recorded."
        ),
    )

    class Meta:
        model = PostMortem
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
            "what_happened",
            "why_it_happened",
            "what_we_change",
            "what_we_dont_change",
            "factors",
            "source_url",
            "visibility",
            "restricted_to",
            "timeline",
            "action_items",
            "declined_changes",
            "fix_prs",
            "readiness_override_reason",
        ]

    def _non_blank(self, name: str, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(self.fields[name].error_messages["blank"])
        return value

    def validate_what_happened(self, value: str) -> str:
        return self._non_blank("what_happened", value)

    def validate_why_it_happened(self, value: str) -> str:
        return self._non_blank("why_it_happened", value)

    def service_arguments(self) -> dict:
        """``validated_data`` split into ``services.postmortem_save`` keyword arguments.

        An existing action item listed without ``status`` keeps its status: the
        service expects every row to carry one and treats a missing one as "open"
        (which would also clear ``completed_at``).

        Returns:
            ``{"fields": {...}, "timeline": [...]?, "action_items": [...]?, ...,
            "readiness_override_reason": str?}``; a row list (and the override
            reason) appears only when the request gave it.
        """
        data = dict(self.validated_data)
        override = data.pop("readiness_override_reason", "")
        rows = {name: data.pop(name) for name in ROW_LISTS if name in data}
        if self.instance is not None and "action_items" in rows:
            current = {item.pk: item.status for item in self.instance.action_items.all()}
            rows["action_items"] = [
                {"status": current[row["id"]], **row} if row.get("id") in current else row
                for row in rows["action_items"]
            ]
        arguments = {"fields": data, **rows}
        if override.strip():
            arguments["readiness_override_reason"] = override
        return arguments


# --- action items ------------------------------------------------------------------


class ActionItemSerializer(serializers.ModelSerializer):
    """An action item with the post-mortem it belongs to (``postmortem`` is its id).

    ``version`` grows by one with every change and is what the ``ETag`` header
    carries; send it back in ``If-Match`` to change the item.
    """

    key = serializers.CharField(read_only=True)
    postmortem = serializers.IntegerField(source="postmortem_id", read_only=True)
    postmortem_key = serializers.SerializerMethodField()
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    ticket_url = _url_or_blank()
    is_overdue = serializers.BooleanField(read_only=True)
    followup_due = FollowUpDueField()
    past_followup_window = PastFollowUpWindowField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "key",
            "postmortem",
            "postmortem_key",
            "text",
            "kind",
            "owner",
            "due_date",
            "status",
            "not_doing_reason",
            "ticket_url",
            "completed_at",
            "is_overdue",
            "followup_due",
            "past_followup_window",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_postmortem_key(self, obj: ActionItem) -> str:
        return f"PM-{obj.postmortem_id}"


class ActionItemWriteSerializer(serializers.ModelSerializer):
    """Body of an action item PATCH; every field is optional."""

    owner = _username_field(required=False)

    class Meta:
        model = ActionItem
        fields = ["text", "kind", "owner", "due_date", "status", "not_doing_reason", "ticket_url"]


# --- taxonomy and organisation (read-only) -----------------------------------------


class ContributingFactorSerializer(serializers.ModelSerializer):
    """A contributing factor; ``postmortem_count`` counts the documents tagged with it
    that the caller may read (deleted ones never count)."""

    postmortem_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContributingFactor
        fields = [
            "slug",
            "name",
            "category",
            "description",
            "suggested_dod_item",
            "postmortem_count",
        ]
        read_only_fields = fields


class TeamSerializer(serializers.ModelSerializer):
    members = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)

    class Meta:
        model = Team
        fields = ["slug", "name", "description", "members"]
        read_only_fields = fields


class ServiceSerializer(serializers.ModelSerializer):
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "team"]
        read_only_fields = fields
