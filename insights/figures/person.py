"""The person page's figures: my open items by due date, post-mortems I author."""

from __future__ import annotations

from django.urls import reverse

from insights import selectors
from insights.figures.base import Cell, Figure, Table, fmt_rate
from insights.figures.definitions import definitions
from insights.selectors import InsightsScope
from postmortems.models import PostMortem


def my_figures(scope: InsightsScope, work: selectors.MyWork) -> list[Figure]:
    """The person page's two charts (my open items by due date, post-mortems I author by status)."""
    d = definitions()
    c = work.counts
    buckets = [
        ("Overdue more than 7 days", c["overdue_over_week"], "#b42318"),
        ("Overdue up to 7 days", c["overdue"] - c["overdue_over_week"], "#e0590b"),
        ("Due in the next 7 days", c["due_this_week"], "#e9b500"),
        ("Due later", c["due_later"], "#2557d6"),
    ]
    items = Table(["Due", "Action items"], rows=[[Cell(label), Cell(n)] for label, n, _ in buckets])
    items_chart = {
        "kind": "bar",
        "horizontal": True,
        "labels": [b[0] for b in buckets],
        "datasets": [
            {
                "label": "My open action items",
                "data": [b[1] for b in buckets],
                "colors": [b[2] for b in buckets],
            }
        ],
        "xTitle": "action items",
        "format": "count",
    }
    statuses = PostMortem.Status.choices
    authored = Table(
        ["Status", "Post-mortems"],
        rows=[[Cell(value, label), Cell(work.authored_by_status[value])] for value, label in statuses],
    )
    authored_chart = {
        "kind": "bar",
        "labels": [label for _, label in statuses],
        "datasets": [
            {
                "label": "Post-mortems I author",
                "data": [work.authored_by_status[v] for v, _ in statuses],
                "colors": ["#9aa5b1", "#e9b500", "#2557d6", "#18794e"],
            }
        ],
        "yTitle": "post-mortems",
        "format": "count",
    }
    tiles = [
        {
            "label": "Overdue",
            "value": c["overdue"],
            "definition": d["overdue_items"],
            "href": "#my-overdue",
            "alert": c["overdue"] > 0,
        },
        {"label": "Open", "value": c["open"], "definition": d["open_items"], "href": "#my-open"},
        {
            "label": "My completion rate",
            "value": fmt_rate(work.completion_rate),
            "detail": f"{c['done_on_time']} of {c['due']} on time",
            "definition": d["my_completion_rate"],
            "href": reverse("postmortems:my_action_items"),
        },
        {
            "label": "Reviews to facilitate",
            "value": len(work.facilitate),
            "definition": d["my_reviews"],
            "href": "#my-reviews",
        },
        {
            "label": "Post-mortems I author",
            "value": len(work.authored),
            "definition": d["my_postmortems"],
            "href": "#my-postmortems",
        },
    ]
    return [
        Figure(
            "my-open-items",
            "My open action items by due date",
            d["my_open_items"],
            items,
            items_chart,
            tiles=tiles,
        ),
        Figure(
            "my-postmortems",
            "Post-mortems I author, by status",
            d["my_postmortems"],
            authored,
            authored_chart,
        ),
    ]
