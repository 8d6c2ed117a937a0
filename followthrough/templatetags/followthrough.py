"""Template helpers that show follow-up windows on post-mortem pages.

``{% load followthrough %}`` then:

* ``pm|followup_window`` — the ``FollowUpWindow`` (``.ends``, ``.days``, ``.anchor_source``);
* ``item|past_followup_window`` / ``item|due_after_window`` — flags for one item;
* ``pm|items_past_window`` — how many open items of a post-mortem are past the window;
* ``{% followup_annotate postmortems %}`` — on list pages, sets
  ``followup_past_window_count`` on every row with one query.
"""

from __future__ import annotations

from django import template
from django.db.models import Count

from followthrough import windows
from followthrough.selectors import OPEN_STATUSES
from postmortems.models import ActionItem

register = template.Library()


@register.filter
def followup_window(pm):
    return windows.followup_window(pm)


@register.filter
def past_followup_window(item) -> bool:
    return windows.item_past_window(item)


@register.filter
def due_after_window(item) -> bool:
    return windows.item_due_after_window(item)


@register.filter
def items_past_window(pm) -> int:
    """Open items past the window; reads the prefetched ``action_items`` (or the
    count set by ``followup_annotate``)."""
    counted = getattr(pm, "followup_past_window_count", None)
    if counted is not None:
        return counted
    window = windows.followup_window(pm)
    if not window or not window.passed():
        return 0
    return sum(1 for item in pm.action_items.all() if not item.is_closed)


@register.simple_tag
def followup_annotate(postmortems) -> str:
    """Set ``followup_past_window_count`` on each post-mortem of a list page (one
    query for the open-item counts, whatever the number of rows)."""
    rows = list(postmortems)
    open_counts = dict(
        ActionItem.objects.filter(postmortem__in=[pm.pk for pm in rows], status__in=OPEN_STATUSES)
        .order_by()
        .values("postmortem")
        .annotate(n=Count("pk"))
        .values_list("postmortem", "n")
    )
    for pm in rows:
        window = windows.followup_window(pm)
        passed = bool(window and window.passed())
        pm.followup_past_window_count = open_counts.get(pm.pk, 0) if passed else 0
    return ""
