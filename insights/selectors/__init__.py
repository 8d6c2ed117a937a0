"""Reads behind every insights figure, computed with aggregate queries.

Each selector takes an ``InsightsScope`` (date range, optional team, "today",
viewer) and returns plain numbers (dicts and lists), never model rows, except
the person page's short lists of "my" items and post-mortems. The number of
queries does not grow with the number of post-mortems or action items; Python
only loops over the groups the database returns (months, teams, services).

Only what the viewer may read counts, and never a deleted document (see
``scope``): every selector starts from ``postmortems_in_scope``,
``action_items_in_scope`` or, on the person page, ``visible_to(user)``.

Periods: a post-mortem is *in the range* when its incident started in it
(``started_at``, the filter of the post-mortem list page); post-mortems without
a start time are counted separately (``undated``) and are in no figure.
Snapshot figures (open and overdue action items, the quality budget, follow-up
windows) describe today and ignore the date range, which is said in their
definitions (``insights.figures``).

Modules, by figure family:

- ``scope``: the scope, visibility, periods and the shared SQL helpers;
- ``postmortems``: counts per month, factor, team; durations per service;
- ``action_items``: follow-through, quality budget, follow-up windows;
- ``reviews`` and ``targets``: review timeliness and the teams' targets;
- ``capabilities``: what depends on other apps (reviews, followthrough, patterns);
- ``person``: "my work".
"""

from django.apps import apps  # noqa: F401  (tests switch apps off through it)

from insights.selectors.action_items import (
    follow_through,
    follow_through_by_month,
    followup_windows,
    item_table,
    quality_budget,
)
from insights.selectors.capabilities import (
    action_items_past_window,
    dod_activity,
    followup_windows_available,
    reviews_available,
)
from insights.selectors.person import MY_LIST_LIMIT, MyWork, my_work
from insights.selectors.postmortems import (
    durations_by_service,
    factors_by_quarter,
    severity_by_month,
    team_postmortem_counts,
)
from insights.selectors.reviews import postmortem_table, review_moment, review_timeliness
from insights.selectors.scope import (
    DURATION_MEASURES,
    ON_TIME,
    OPEN_STATUSES,
    REVIEWED_STATUSES,
    SEVERE,
    SEVERITIES,
    UNRATED,
    InsightsScope,
    action_items_in_scope,
    cached,
    default_range,
    month_starts,
    postmortems_in_scope,
    quarter_of,
    quarter_starts,
    undated_postmortems,
    visible_postmortems,
)
from insights.selectors.targets import business_day_allowance, business_day_allowance_expression, team_targets

__all__ = [
    "DURATION_MEASURES",
    "MY_LIST_LIMIT",
    "ON_TIME",
    "OPEN_STATUSES",
    "REVIEWED_STATUSES",
    "SEVERE",
    "SEVERITIES",
    "UNRATED",
    "InsightsScope",
    "MyWork",
    "action_items_in_scope",
    "action_items_past_window",
    "business_day_allowance",
    "business_day_allowance_expression",
    "cached",
    "default_range",
    "dod_activity",
    "durations_by_service",
    "factors_by_quarter",
    "follow_through",
    "follow_through_by_month",
    "followup_windows",
    "followup_windows_available",
    "item_table",
    "month_starts",
    "my_work",
    "postmortem_table",
    "postmortems_in_scope",
    "quality_budget",
    "quarter_of",
    "quarter_starts",
    "review_moment",
    "review_timeliness",
    "reviews_available",
    "severity_by_month",
    "team_postmortem_counts",
    "team_targets",
    "undated_postmortems",
    "visible_postmortems",
]
