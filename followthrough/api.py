"""Read-only API fields for follow-up windows, used by ``postmortems.api.serializers``.

They read the window through ``followthrough.windows`` and need no query per
row when the queryset selects ``team__followup_policy`` (post-mortems) or
``postmortem__team__followup_policy`` (action items).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from followthrough import windows


class _WholeObjectField(serializers.Field):
    def __init__(self, **kwargs):
        kwargs.update(source="*", read_only=True)
        super().__init__(**kwargs)


@extend_schema_field(
    {
        "type": "string",
        "format": "date",
        "nullable": True,
        "description": "Last day of the team's follow-up window for this item's post-mortem.",
    }
)
class FollowUpDueField(_WholeObjectField):
    """The follow-up window's last day (ISO date) of an action item or a post-mortem."""

    def to_representation(self, obj):
        pm = getattr(obj, "postmortem", obj)
        window = windows.followup_window(pm)
        return window.ends.isoformat() if window else None


@extend_schema_field(
    {"type": "boolean", "description": "Still open after the team's follow-up window ended."}
)
class PastFollowUpWindowField(_WholeObjectField):
    """True when an open action item is past its follow-up window."""

    def to_representation(self, obj) -> bool:
        return windows.item_past_window(obj)


@extend_schema_field(
    {"type": "integer", "description": "Open action items past the team's follow-up window."}
)
class ItemsPastWindowField(_WholeObjectField):
    """How many open action items of a post-mortem are past its follow-up window.

    Uses the ``action_items_open`` annotation on lists and the prefetched
    ``action_items`` on the detail.
    """

    def to_representation(self, pm) -> int:
        window = windows.followup_window(pm)
        if not window or not window.passed():
            return 0
        annotated = getattr(pm, "action_items_open", None)
        if annotated is not None:
            return annotated
        return sum(1 for item in pm.action_items.all() if not item.is_closed)
