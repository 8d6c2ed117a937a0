"""Reads of the post-mortem domain (HackSoft Django-Styleguide's selectors)."""

from __future__ import annotations

from django.db.models import Case, Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from postmortems.access import visibility_q
from postmortems.models import ActionItem, FixPullRequest, PostMortem

OPEN_STATUSES = (ActionItem.Status.OPEN, ActionItem.Status.IN_PROGRESS)
# The columns no list shows; ``postmortem_list`` leaves them out of its rows.
LONG_TEXT_FIELDS = (
    "what_happened",
    "why_it_happened",
    "what_we_change",
    "what_we_dont_change",
    "search_body",
)


def postmortem_list(*, user, with_counts: bool = False, with_readers: bool = True) -> QuerySet[PostMortem]:
    """The post-mortems ``user`` may read, for list pages, with what a row shows.

    A row's services and contributing factors are prefetched as plain lists,
    ``service_list`` and ``factor_list`` (``Prefetch(to_attr=…)``: reading them
    builds no related manager or queryset per row, which cost ~5 ms a page of 20
    in the API at 100k documents, docs/benchmarks.md). The long text columns (the
    four sections and ``search_body``) are deferred: no list shows them, and at
    ~2.7 kB a row they were most of a page's fetch.

    The number of queries does not grow with the number of rows or related rows.
    Deleted documents are left out (default manager) and so are restricted ones
    ``user`` may not read (``PostMortem.objects.visible_to``, issue 9); an
    anonymous or inactive ``user`` gets an empty queryset.

    Args:
        user: the reader (``User`` or ``AnonymousUser``); required, so no caller
            lists documents without saying for whom.
        with_counts: also annotate ``action_items_open`` and ``action_items_total``
            (ints), as correlated subqueries so that filters joining services or
            factors, and the search rank, cannot inflate them.
        with_readers: also prefetch ``restricted_to`` (the "Restricted" badge of
            the web list names the readers; the API list does not show them).
    """
    # team__followup_policy: the follow-up window flags (followthrough.windows) without a query per row.
    queryset = (
        PostMortem.objects.visible_to(user)
        .select_related("team", "team__followup_policy")
        .defer(*LONG_TEXT_FIELDS)
        .prefetch_related(
            Prefetch("services", to_attr="service_list"),
            Prefetch("factors", to_attr="factor_list"),
        )
    )
    if with_readers:
        queryset = queryset.prefetch_related("restricted_to")
    if with_counts:
        items = ActionItem.objects.filter(postmortem=OuterRef("pk")).order_by().values("postmortem")

        def count(rows):
            counted = rows.annotate(n=Count("pk")).values("n")[:1]
            return Coalesce(Subquery(counted), Value(0), output_field=IntegerField())

        queryset = queryset.annotate(
            action_items_open=count(items.filter(status__in=OPEN_STATUSES)),
            action_items_total=count(items),
        )
    return queryset


def factor_postmortem_counts(*, user, factor_ids=None) -> dict[int, int]:
    """How many live post-mortems ``user`` may read are tagged with each contributing factor.

    One grouped query over the factor links joined to the readable documents
    (``access.visibility_q``; deleted ones never count). A link is unique per
    document and factor, so no ``DISTINCT`` is needed: the taxonomy API's former
    ``Count(distinct=True, filter=…)`` annotation sorted every link row and read
    the documents' rows, ~280 ms at 100k documents on PostgreSQL, against ~100 ms
    for this join, which PostgreSQL answers from two indexes (the links' unique
    index and ``pm_started_idx``'s INCLUDE columns) without reading a row.

    Args:
        user: the reader (``User`` or ``AnonymousUser``).
        factor_ids: only these ``ContributingFactor`` ids (e.g. one API page),
            or None for all.

    Returns:
        ``{factor id: count}``; factors no readable document carries are absent.
    """
    links = PostMortem.factors.through.objects.filter(
        Q(postmortem__deleted_at__isnull=True) & visibility_q(user, prefix="postmortem__")
    )
    if factor_ids is not None:
        links = links.filter(contributingfactor_id__in=list(factor_ids))
    rows = links.order_by().values("contributingfactor_id").annotate(n=Count("*"))
    return {row["contributingfactor_id"]: row["n"] for row in rows}


def postmortem_detail(*, user) -> QuerySet[PostMortem]:
    """The post-mortems ``user`` may read, with everything the one-page view and
    the API detail show (``PostMortem.objects.visible_to``; deleted ones are left
    out). Fetch one with ``.get(pk=…)`` and answer 404 on ``DoesNotExist``."""
    return (
        PostMortem.objects.visible_to(user)
        .select_related("team", "team__followup_policy", "facilitator", "created_by")
        .prefetch_related(
            "services",
            "authors",
            "factors",
            "restricted_to",
            "timeline",
            "declined_changes",
            Prefetch("action_items", queryset=ActionItem.objects.select_related("owner")),
            Prefetch("fix_prs", queryset=FixPullRequest.objects.select_related("action_item")),
        )
    )


def action_items_overdue(queryset: QuerySet[ActionItem] | None = None) -> QuerySet[ActionItem]:
    """Open or in-progress items whose due date is before today (server time zone)."""
    queryset = ActionItem.objects.all() if queryset is None else queryset
    return queryset.filter(status__in=OPEN_STATUSES, due_date__lt=timezone.localdate())


def action_items_for_owner(*, user) -> QuerySet[ActionItem]:
    """A user's action items, open ones first, soonest due first.

    Only items of post-mortems ``user`` may read (``ActionItem.objects.visible_to``)
    and never items of deleted ones (default manager): an item in a restricted
    document the owner may not read stays hidden, like the document.
    """
    return (
        ActionItem.objects.visible_to(user)
        .filter(owner=user)
        .select_related("postmortem", "postmortem__team", "postmortem__team__followup_policy")
        .annotate(
            closed=Case(
                When(status__in=OPEN_STATUSES, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("closed", "due_date", "id")
    )
