"""Review timeliness: when each post-mortem was reviewed, days from resolution to
review, and the share reviewed within the team's target; plus the one scan of the
post-mortems in the range that also gives the per-team counts by severity."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, DateTimeField, F, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncMonth

from insights import conf
from insights.db import TOTAL, DaysBetweenDates, SecondsBetween, column, compile_sql, summarise
from insights.selectors.capabilities import reviews_available
from insights.selectors.scope import (
    REVIEWED_STATUSES,
    SEVERITIES,
    InsightsScope,
    as_date,
    flag,
    month_starts,
    postmortems_in_scope,
    round_or_none,
)
from insights.selectors.targets import business_day_allowance_expression, scope_targets
from postmortems.models import PostMortem


def _when_marked(moment) -> Case:
    return Case(When(status__in=REVIEWED_STATUSES, then=moment), default=None, output_field=DateTimeField())


def review_moment(scope: InsightsScope | None = None) -> tuple[Any, str]:
    """An expression for when each post-mortem was reviewed (NULL: not reviewed),
    and a sentence saying where that moment comes from.

    In order: ``PostMortem.reviewed_at`` when the model has that field; the end
    of the post-mortem's first ended review meeting (``reviews.Review``) when
    that app is installed; otherwise — and for post-mortems marked reviewed or
    published without a recorded meeting — the proxy ``updated_at``, the last
    edit, which is the review or later, so the proxy can only overstate a delay.

    With ``scope``, whether any review meeting has ended is asked once per scope.
    """
    # Imported documents were edited here at import, long after their review: no proxy.
    proxy = Case(When(external_id="", then=F("updated_at")), default=None)
    proxy_text = (
        "the last edit (updated_at) of post-mortems written here in status reviewed or published; "
        "imported ones have no known review date"
    )
    if "reviewed_at" in {f.name for f in PostMortem._meta.get_fields()}:
        moment = Coalesce(F("reviewed_at"), proxy)
        return _when_marked(moment), f"reviewed_at; without it, {proxy_text} (proxy)"
    if reviews_available():
        from reviews.models import Review

        source = f"the end of the first review meeting; without a recorded meeting, {proxy_text} (proxy)"
        if not _any_meeting_ended(scope):
            # No meeting ever ended: the per-row lookup below would give NULL for
            # every row, so skip it (it costs a third of the scan at 100,000 rows).
            return _when_marked(proxy), source
        first_ended = (
            Review.objects.filter(postmortem=OuterRef("pk"), status=Review.Status.ENDED)
            .order_by("ended_at")
            .values("ended_at")[:1]
        )
        # Only evaluated for post-mortems marked reviewed (ending a review marks it).
        return _when_marked(Coalesce(Subquery(first_ended), proxy)), source
    return _when_marked(proxy), (
        f"proxy: {proxy_text}; no review date is recorded, and a later edit moves it, "
        "so delays may be overstated"
    )


def _any_meeting_ended(scope: InsightsScope | None) -> bool:
    from reviews.models import Review

    def ask() -> bool:
        return Review.objects.filter(status=Review.Status.ENDED).exists()

    if scope is None:
        return ask()
    if "reviews_ended" not in scope.cache:
        scope.cache["reviews_ended"] = ask()
    return scope.cache["reviews_ended"]


def review_timeliness(
    scope: InsightsScope, *, by: str | None = None, method: str | None = None
) -> dict[str, Any]:
    """Days from resolution to review, and the share reviewed within the team's target.

    Counts post-mortems in the range that have a resolution time:
    ``reviewed`` (status reviewed or published) with ``median_days`` and
    ``p90_days`` from resolution to review; ``within_target`` (reviewed no later
    than the team's target in business days after the resolution date);
    ``late`` (reviewed after it, or not reviewed and the target has passed);
    ``pending`` (not reviewed, target not yet passed); ``date_unknown`` (marked
    reviewed or published but with no known review date: imported without a
    review meeting); ``share_within_target`` = within / (within + late), None
    when both are 0. Post-mortems without a resolution time are ``unresolved``.

    Args:
        by: None, "team" or "month" (of the incident start).

    Returns:
        ``{"source": str, "rows": {key: row}}`` with key None, a team id, or a month.
    """
    teams = scope.teams()
    targets = scope_targets(scope)
    source = review_moment(scope)[1]
    if by == "month":
        stats = _review_summary(scope, group=TruncMonth("started_at"), total=False, method=method)
    else:
        stats = postmortem_table(scope, method=method)

    def shape(row: dict[str, Any]) -> dict[str, Any]:
        within_n, late_n = row.get("within_target", 0), row.get("late", 0)
        return {
            "reviewed": row.get("review_n", 0),
            "median_days": round_or_none(row.get("review_p50")),
            "p90_days": round_or_none(row.get("review_p90")),
            "within_target": within_n,
            "late": late_n,
            "pending": row.get("pending", 0),
            "date_unknown": row.get("date_unknown", 0),
            "unresolved": row.get("unresolved", 0),
            "share_within_target": round(within_n / (within_n + late_n), 4) if within_n + late_n else None,
        }

    def overall(row: dict[str, Any]) -> dict[str, Any]:
        shaped = shape(row)
        used = {t["review_target_business_days"] for t in targets.values()}
        shaped["target_business_days"] = used.pop() if len(used) == 1 else None
        return shaped

    if by == "team":
        result = {team.pk: shape(stats.get(team.pk, {})) for team in teams}
        for team_id, row in result.items():
            row["target_business_days"] = targets[team_id]["review_target_business_days"]
    elif by == "month":
        shaped = {as_date(k): shape(v) for k, v in stats.items()}
        result = {m: shaped.get(m) or shape({}) for m in month_starts(scope.start, scope.end)}
    else:
        result = {None: overall(stats.get(TOTAL, {}))}
    return {"source": source, "rows": result}


def postmortem_table(scope: InsightsScope, *, method: str | None = None) -> dict[Any, dict[str, Any]]:
    """One scan of the post-mortems in the range for review timeliness and the
    per-team counts (by severity), per team and over all (``TOTAL``); cached per scope."""
    key = ("postmortem_table", method)
    if key not in scope.cache:
        scope.cache[key] = _review_summary(scope, group=F("team_id"), total=True, method=method, counts=True)
    return scope.cache[key]


def _review_summary(scope: InsightsScope, *, group, total: bool, method: str | None, counts: bool = False):
    """``summarise`` over one row per post-mortem in the range: the review flags
    (derived from the review moment, computed once per row) and, with ``counts``,
    one 0/1 column per severity."""
    moment, _ = review_moment(scope)
    columns = {
        "ins_group": group,
        "ins_resolved_at": F("resolved_at"),
        "ins_reviewed_at": moment,
        "ins_marked": flag(Q(status__in=REVIEWED_STATUSES)),
        "ins_allowed": business_day_allowance_expression(
            "resolved_at",
            Coalesce(
                F("team__insights_targets__review_target_business_days"),
                Value(conf.review_target_business_days()),
            ),
        ),
        "ins_open_gap": DaysBetweenDates(TruncDate("resolved_at"), Value(scope.today)),
    }
    sums = ["within_target", "late", "pending", "date_unknown", "unresolved"]
    if counts:
        columns["pm_all"] = Value(1)
        columns["sev_unrated"] = flag(Q(severity=""))
        for severity in SEVERITIES:
            columns[f"sev_{severity.lower()}"] = flag(Q(severity=severity))
        sums += ["pm_all", "sev_unrated", *(f"sev_{s.lower()}" for s in SEVERITIES)]
    rows = postmortems_in_scope(scope).order_by().annotate(**columns).values(*columns)
    resolved_at = column("ins_resolved_at", DateTimeField())
    reviewed_at = column("ins_reviewed_at", DateTimeField())
    gap_sql, gap_params = compile_sql(DaysBetweenDates(TruncDate(resolved_at), TruncDate(reviewed_at)))
    days_sql, days_params = compile_sql(SecondsBetween(resolved_at, reviewed_at))
    resolved, reviewed = "ins_resolved_at IS NOT NULL", "ins_reviewed_at IS NOT NULL"
    waiting = "ins_reviewed_at IS NULL AND ins_marked = 0"

    def sql_flag(condition: str, params: tuple = ()) -> tuple[str, tuple]:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END", params

    return summarise(
        rows,
        derived={
            "within_target": sql_flag(f"{resolved} AND {reviewed} AND {gap_sql} <= ins_allowed", gap_params),
            "late": sql_flag(
                f"{resolved} AND (({reviewed} AND {gap_sql} > ins_allowed) "
                f"OR ({waiting} AND ins_open_gap > ins_allowed))",
                gap_params,
            ),
            "pending": sql_flag(f"{resolved} AND {waiting} AND ins_open_gap <= ins_allowed"),
            "date_unknown": sql_flag(f"{resolved} AND ins_reviewed_at IS NULL AND ins_marked = 1"),
            "unresolved": sql_flag("ins_resolved_at IS NULL"),
            "review": (f"CASE WHEN {resolved} AND {reviewed} THEN {days_sql} / 86400.0 END", days_params),
        },
        sums=sums,
        percentiles={"review": (0.5, 0.9)},
        total=total,
        method=method,
    )
