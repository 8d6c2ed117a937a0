"""The person page ("my work"): my open and overdue action items, the reviews I
facilitate and the post-mortems I author — only of documents I may read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from insights.selectors.scope import ON_TIME, OPEN_STATUSES, InsightsScope, due_in_range
from postmortems.access import visibility_q
from postmortems.models import ActionItem, PostMortem

MY_LIST_LIMIT = 100


@dataclass
class MyWork:
    """The person page: what is mine to do next.

    Attributes:
        overdue, open_items: my open action items past / not past their due
            date, soonest due first (at most ``MY_LIST_LIMIT`` each).
        counts: ``{"open", "overdue", "overdue_over_week", "due_this_week",
            "due_later", "due", "done_on_time"}`` (see ``my_work``).
        facilitate: post-mortems I facilitate that are in draft or in review.
        authored: post-mortems I author whose incident started in the range.
        authored_by_status: ``{status: count}`` of those.
    """

    overdue: list[ActionItem]
    open_items: list[ActionItem]
    counts: dict[str, int]
    facilitate: list[PostMortem]
    authored: list[PostMortem]
    authored_by_status: dict[str, int]

    @property
    def open_not_overdue(self) -> int:
        return self.counts["open"] - self.counts["overdue"]

    @property
    def completion_rate(self) -> float | None:
        due = self.counts["due"]
        return round(self.counts["done_on_time"] / due, 4) if due else None


def my_work(*, user, scope: InsightsScope) -> MyWork:
    """The person page of ``user``: their open and overdue action items, the
    post-mortems they facilitate that await review, and those they author.

    The team filter applies to everything (the post-mortem's team); the date
    range applies to "post-mortems I author" (incident start) and to my
    completion rate (due dates, as in ``follow_through``). Open and overdue
    items are today's. Only items and post-mortems ``user`` may read count.
    """
    today = scope.today
    # Only what ``user`` may read: an item they own on a restricted document they
    # cannot read (say, after leaving its team) is not shown, nor counted.
    items = ActionItem.objects.filter(owner=user).filter(visibility_q(user, prefix="postmortem__"))
    pms = PostMortem.objects.visible_to(user)
    if scope.team:
        items = items.filter(postmortem__team=scope.team)
        pms = pms.filter(team=scope.team)
    is_open = Q(status__in=OPEN_STATUSES)
    due = due_in_range(scope)
    on_time = ON_TIME
    week = dt.timedelta(days=7)
    counts = items.order_by().aggregate(
        open=Count("pk", filter=is_open),
        overdue=Count("pk", filter=is_open & Q(due_date__lt=today)),
        overdue_over_week=Count("pk", filter=is_open & Q(due_date__lt=today - week)),
        due_this_week=Count("pk", filter=is_open & Q(due_date__gte=today, due_date__lte=today + week)),
        due_later=Count("pk", filter=is_open & Q(due_date__gt=today + week)),
        due=Count("pk", filter=due),
        done_on_time=Count("pk", filter=due & on_time),
    )
    listed = items.filter(is_open).select_related("postmortem", "postmortem__team").order_by("due_date", "id")
    authored = pms.filter(authors=user, started_at__gte=scope.start_dt, started_at__lt=scope.end_dt)
    by_status = dict(authored.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n"))
    return MyWork(
        overdue=list(listed.filter(due_date__lt=today)[:MY_LIST_LIMIT]),
        open_items=list(listed.filter(due_date__gte=today)[:MY_LIST_LIMIT]),
        counts=counts,
        facilitate=list(
            pms.filter(facilitator=user, status__in=(PostMortem.Status.DRAFT, PostMortem.Status.IN_REVIEW))
            .select_related("team")
            .order_by("-started_at", "-id")[:MY_LIST_LIMIT]
        ),
        authored=list(authored.select_related("team").order_by("-started_at", "-id")[:MY_LIST_LIMIT]),
        authored_by_status={status: by_status.get(status, 0) for status, _ in PostMortem.Status.choices},
    )
