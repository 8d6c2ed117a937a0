"""One line per figure saying exactly what is counted (shown on the pages, in the API)."""

from __future__ import annotations

from insights import conf


def definitions() -> dict[str, str]:
    """One line per figure saying exactly what is counted (also in the API)."""
    target = conf.review_target_business_days()
    grace, ceiling = conf.budget_severe_grace_days(), conf.budget_max_overdue()
    return {
        "severity_by_month": (
            "Post-mortems whose incident started in each month of the range, by severity "
            "(“unrated”: imported without one); post-mortems without a start time are in no period."
        ),
        "factors_by_quarter": (
            "Post-mortems per contributing factor and quarter of the incident start; a post-mortem "
            "counts once for each of its factors, so recurring factors show as dark rows."
        ),
        "durations_by_service": (
            "Time from the incident start to detection, mitigation and resolution per service: "
            "median and 90th percentile with the number of incidents that have both times "
            "(no mean: incident durations are heavily skewed)."
        ),
        "completion_rate": (
            "Action items done by their due date ÷ action items whose due date fell in the range "
            "and has passed; items marked “not doing” are left out."
        ),
        "open_items": "Action items open or in progress today, whatever their due date.",
        "overdue_items": "Open action items whose due date has passed, today.",
        "median_open_age": "Median days since the open action items were created, today.",
        "median_time_to_close": "Median days from creation to completion of action items done in the range.",
        "follow_through_by_month": (
            "Action items per month of their (passed) due date: done by it, done later, or still open."
        ),
        "follow_through_per_team": (
            "Per team: the completion rate (chart) and the counts behind it; the tiles above are "
            "the organisation's."
        ),
        "review_chart": (
            "Resolved post-mortems of the range: reviewed within the team's target, late, still inside "
            "it (pending), or marked reviewed with no known review date."
        ),
        "review_days": (
            "Days from resolution to review of the post-mortems in the range that are reviewed or "
            "published: median and 90th percentile."
        ),
        "review_within_target": (
            f"Share reviewed within the team's target (default {target} business days after resolution): "
            "within ÷ (within + late); unreviewed post-mortems past the target count as late."
        ),
        "quality_budget": (
            f"Today: within budget while no overdue action item of a SEV1/SEV2 post-mortem is more than "
            f"{grace} days past due and at most {ceiling} items are overdue (defaults; teams may set theirs)."
        ),
        "followup_windows": (
            "Open action items past their post-mortem's follow-up window (the team's follow-up policy: "
            "days after the review, else the resolution, by severity), today."
        ),
        "definition_of_done": (
            "Definition-of-Done versions saved in the range (each change makes one) and DoD proposals "
            "opened, accepted and rejected in the range; open proposals are today's."
        ),
        "teams": "Each team's figures for the range side by side; open, overdue and the budget are today's.",
        "my_open_items": "My action items open or in progress, by how soon they are due (today).",
        "my_completion_rate": "My action items done by their due date ÷ mine due in the range (passed).",
        "my_reviews": "Post-mortems I facilitate that are in draft or in review: reviews for me to run.",
        "my_postmortems": "Post-mortems I author whose incident started in the range, by status.",
    }
