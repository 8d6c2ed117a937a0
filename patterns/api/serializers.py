"""Serializers of the patterns API: they shape data and check field shapes only.

Writes never go through ``serializer.save()``: views hand ``validated_data`` to
``patterns.services`` (DoD changes, decisions, settings) or
``patterns.detection``. Teams and factors are named by slug, people by username,
post-mortems by key (``PM-12``).
"""

from __future__ import annotations

import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patterns.conf import MIN_INCIDENTS_FLOOR, WINDOW_DAYS_MAX
from patterns.models import (
    ITEM_TEXT_MAX,
    REASON_MAX,
    DoDItem,
    DoDProposal,
    DoDVersion,
    PatternSettings,
    Scope,
)
from patterns.selectors import item_links_annotate
from patterns.suggestions import why_excerpt
from postmortems.models import ContributingFactor, PostMortem

_PM_KEY = re.compile(r"PM-([1-9]\d{0,17})", re.IGNORECASE)


# --- Definition of Done --------------------------------------------------------------------


class DoDItemSerializer(serializers.ModelSerializer):
    """One checklist item. ``postmortems`` are the keys of the motivating
    post-mortems the reader may open; ``restricted_postmortems`` counts the
    others (restricted documents: never named, only counted)."""

    factor = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    postmortems = serializers.SerializerMethodField()
    restricted_postmortems = serializers.SerializerMethodField()

    class Meta:
        model = DoDItem
        fields = ["uid", "position", "text", "factor", "postmortems", "restricted_postmortems", "adopted_at"]
        read_only_fields = fields

    def _links(self, item: DoDItem) -> DoDItem:
        if not hasattr(item, "shown_postmortems"):  # not annotated by the view: do it now, safely
            request = self.context.get("request")
            item_links_annotate([item], user=getattr(request, "user", None))
        return item

    def get_postmortems(self, item: DoDItem) -> list[str]:
        return [pm.key for pm in self._links(item).shown_postmortems]

    def get_restricted_postmortems(self, item: DoDItem) -> int:
        return self._links(item).hidden_postmortems


class DoDSerializer(serializers.Serializer):
    """A Definition of Done as it stands: its newest version and items.

    ``version`` is 0 and ``items`` empty before the first version.
    """

    scope = serializers.ChoiceField(choices=Scope.choices)
    team = serializers.CharField(allow_null=True, help_text="Team slug; null for the organisation.")
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField(allow_null=True)
    created_by = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_blank=True)
    items = DoDItemSerializer(many=True)


class DoDVersionSerializer(serializers.ModelSerializer):
    """One version in the history: who, when, why, how many items, and the
    DoD proposal it accepted (if any)."""

    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    item_count = serializers.IntegerField(read_only=True)
    proposal = serializers.SerializerMethodField()

    class Meta:
        model = DoDVersion
        fields = ["number", "created_at", "created_by", "reason", "item_count", "proposal"]
        read_only_fields = fields

    def get_proposal(self, version: DoDVersion) -> int | None:
        proposal = getattr(version, "proposal", None)
        return proposal.pk if proposal else None


class DoDVersionDetailSerializer(DoDVersionSerializer):
    items = DoDItemSerializer(many=True, read_only=True)

    class Meta(DoDVersionSerializer.Meta):
        fields = [*DoDVersionSerializer.Meta.fields, "items"]
        read_only_fields = fields


class ItemChangeSerializer(serializers.Serializer):
    op = serializers.ChoiceField(choices=["added", "removed", "changed", "moved", "same"])
    uid = serializers.CharField()
    old_position = serializers.IntegerField(allow_null=True)
    new_position = serializers.IntegerField(allow_null=True)
    old_text = serializers.CharField(allow_blank=True)
    new_text = serializers.CharField(allow_blank=True)
    old_factor = serializers.CharField(allow_blank=True)
    new_factor = serializers.CharField(allow_blank=True)


class DoDDiffSerializer(serializers.Serializer):
    """Two versions compared: item by item, and as a unified diff of the checklists."""

    old_version = serializers.IntegerField(source="old_number")
    new_version = serializers.IntegerField(source="new_number")
    changes = ItemChangeSerializer(many=True)
    unified = serializers.CharField(allow_blank=True)


class DoDItemWriteSerializer(serializers.Serializer):
    """One item of a DoD change: existing items by ``uid`` (keep their links
    unless ``postmortems`` is given), new items without one."""

    uid = serializers.UUIDField(required=False, allow_null=True)
    text = serializers.CharField(max_length=ITEM_TEXT_MAX)
    factor = serializers.SlugRelatedField(
        slug_field="slug", queryset=ContributingFactor.objects.all(), required=False, allow_null=True
    )
    postmortems = serializers.ListField(
        child=serializers.CharField(max_length=24),
        required=False,
        max_length=500,
        help_text='Keys of the motivating post-mortems, e.g. ["PM-12"].',
    )

    def validate_postmortems(self, keys: list[str]) -> list[PostMortem]:
        ids = []
        for key in keys:
            match = _PM_KEY.fullmatch(key.strip())
            if not match:
                raise serializers.ValidationError(f"Not a post-mortem key: {key!r} (expected PM-<number>).")
            ids.append(int(match.group(1)))
        # Only documents the writer may read: a restricted one answers like a
        # missing one, so its existence does not leak through this error.
        request = self.context.get("request")
        readable = PostMortem.objects.visible_to(getattr(request, "user", None))
        found = {pm.pk: pm for pm in readable.filter(pk__in=ids).only("pk")}
        missing = [f"PM-{pk}" for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(f"No such post-mortem: {', '.join(missing)}.")
        return [found[pk] for pk in dict.fromkeys(ids)]


class DoDWriteSerializer(serializers.Serializer):
    """A change to a Definition of Done: the complete new item list, in order, and why.

    ``base_version`` (optional) is the version the client started from; when
    the DoD has moved on, the change is refused with 409 and nothing is saved.
    """

    reason = serializers.CharField(max_length=REASON_MAX)
    base_version = serializers.IntegerField(required=False, min_value=0)
    items = DoDItemWriteSerializer(many=True, allow_empty=True, max_length=100)


# --- pattern settings ------------------------------------------------------------------------


class PatternSettingsSerializer(serializers.ModelSerializer):
    """A team's recurrence rule: ``min_incidents`` (K) post-mortems with one
    factor inside ``window_days`` (W) days."""

    min_incidents = serializers.IntegerField(min_value=MIN_INCIDENTS_FLOOR, max_value=100)
    window_days = serializers.IntegerField(min_value=1, max_value=WINDOW_DAYS_MAX)
    updated_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    # Both null for a team that never saved its own rule (the defaults apply).
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = PatternSettings
        fields = ["min_incidents", "window_days", "updated_by", "updated_at"]
        read_only_fields = ["updated_by", "updated_at"]


# --- proposals -------------------------------------------------------------------------------


class DoDProposalSerializer(serializers.ModelSerializer):
    """One DoD proposal in a list. ``evidence_count`` counts incidents (deleted
    post-mortems left out), ``restricted_evidence_count`` those of them the
    reader may not open (shown nowhere else); when it is not 0, ``window_start``
    and ``window_end`` are null (an edge may be a restricted incident's start).
    ``dod_version`` is the version number an acceptance created."""

    url = serializers.HyperlinkedIdentityField(view_name="patterns-api:dodproposal-detail")
    team = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)
    factor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    factor_name = serializers.CharField(source="factor.name", read_only=True)
    evidence_count = serializers.IntegerField(read_only=True)
    restricted_evidence_count = serializers.IntegerField(read_only=True)
    decided_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    dod_version = serializers.SerializerMethodField()
    window_start = serializers.DateTimeField(read_only=True, allow_null=True)
    window_end = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = DoDProposal
        fields = [
            "id",
            "url",
            "scope",
            "team",
            "factor",
            "factor_name",
            "kind",
            "status",
            "suggested_text",
            "min_incidents",
            "window_days",
            "min_teams",
            "window_start",
            "window_end",
            "evidence_count",
            "restricted_evidence_count",
            "previous",
            "created_at",
            "evidence_updated_at",
            "decided_by",
            "decided_at",
            "accepted_text",
            "reason",
            "dod_version",
        ]
        read_only_fields = fields

    def get_dod_version(self, proposal: DoDProposal) -> int | None:
        return proposal.dod_version.number if proposal.dod_version_id else None

    def to_representation(self, proposal: DoDProposal) -> dict:
        data = super().to_representation(proposal)
        if proposal.restricted_evidence_count:
            # The window's edges are incidents' start times, possibly of a
            # restricted document the reader may not open: not shown then.
            data["window_start"] = data["window_end"] = None
        return data


class EvidenceSerializer(serializers.Serializer):
    """One incident behind a proposal, with the "why it happened" excerpt
    (``excerpt_section`` "what" when the post-mortem has no "why" text)."""

    postmortem = serializers.CharField(source="postmortem.key")
    title = serializers.CharField(source="postmortem.title")
    team = serializers.CharField(source="postmortem.team.slug")
    started_at = serializers.DateTimeField()
    added_at = serializers.DateTimeField()
    excerpt = serializers.SerializerMethodField()
    excerpt_section = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    def _excerpt(self, row) -> tuple[str, str]:
        pm = row.postmortem
        return why_excerpt(why_it_happened=pm.why_it_happened, what_happened=pm.what_happened)

    def get_excerpt(self, row) -> str:
        return self._excerpt(row)[0]

    @extend_schema_field(serializers.ChoiceField(choices=["why", "what"]))
    def get_excerpt_section(self, row) -> str:
        return self._excerpt(row)[1]

    def get_url(self, row) -> str:
        request = self.context.get("request")
        path = row.postmortem.get_absolute_url()
        return request.build_absolute_uri(path) if request else path


class WordingSerializer(serializers.Serializer):
    source = serializers.ChoiceField(choices=["factor", "action_item", "what_we_change"])
    text = serializers.CharField()
    postmortem = serializers.CharField(source="postmortem_key", allow_blank=True)
    action_item = serializers.CharField(source="action_item_key", allow_blank=True)
    kind = serializers.CharField(allow_blank=True)
    status = serializers.CharField(allow_blank=True)


class ProposalItemSerializer(serializers.Serializer):
    uid = serializers.UUIDField()
    text = serializers.CharField()
    adopted_at = serializers.DateTimeField()


class DoDProposalDetailSerializer(DoDProposalSerializer):
    """A proposal with its evidence (newest first), the wordings a facilitator
    can start from, and — for "DoD item not working" — the item concerned."""

    evidence = EvidenceSerializer(many=True, read_only=True)
    candidate_wordings = WordingSerializer(many=True, read_only=True)
    dod_item = ProposalItemSerializer(read_only=True, allow_null=True)

    class Meta(DoDProposalSerializer.Meta):
        fields = [*DoDProposalSerializer.Meta.fields, "dod_item", "evidence", "candidate_wordings"]
        read_only_fields = fields


class AcceptSerializer(serializers.Serializer):
    """Accept with the item text as edited (default: the suggested text) and,
    optionally, the "why" recorded on the new DoD version."""

    text = serializers.CharField(max_length=ITEM_TEXT_MAX, required=False)
    reason = serializers.CharField(max_length=REASON_MAX, required=False)


class RejectSerializer(serializers.Serializer):
    """Reject with a reason (required; shown on the evidence post-mortems)."""

    reason = serializers.CharField(max_length=REASON_MAX)


# --- detection ----------------------------------------------------------------------------


class DetectSerializer(serializers.Serializer):
    """Run detection for one team (``team``, slug) or everyone (omit it)."""

    team = serializers.SlugField(required=False, max_length=80)
    dry_run = serializers.BooleanField(required=False, default=False)


class FindingSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=Scope.choices)
    team = serializers.CharField(source="team_slug", allow_blank=True)
    factor = serializers.CharField(source="factor_slug")
    kind = serializers.ChoiceField(choices=DoDProposal.Kind.choices)
    outcome = serializers.ChoiceField(choices=["opened", "extended", "unchanged", "suppressed"])
    proposal = serializers.IntegerField(source="proposal_id", allow_null=True)
    incidents = serializers.SerializerMethodField()
    new_evidence = serializers.IntegerField()
    window_start = serializers.DateTimeField(source="recurrence.window_start")
    window_end = serializers.DateTimeField(source="recurrence.window_end")

    def get_incidents(self, finding) -> int:
        return len(finding.recurrence.members)


class DetectionReportSerializer(serializers.Serializer):
    """What a detection run found and did."""

    dry_run = serializers.BooleanField()
    findings = FindingSerializer(many=True)
    groups = serializers.IntegerField()
    rows_scanned = serializers.IntegerField()
    undated = serializers.IntegerField(help_text="Post-mortems with factors but no start time (not counted).")
    seconds = serializers.FloatField()
    summary = serializers.CharField(source="summary_line")
