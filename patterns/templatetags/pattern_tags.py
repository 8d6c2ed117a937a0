"""Template tags for the panels the patterns app adds to a post-mortem's page."""

from __future__ import annotations

from django import template

from patterns import selectors

register = template.Library()


def _reader(context):
    request = context.get("request")
    return getattr(request, "user", None) or context.get("user")


@register.inclusion_tag("patterns/_history_panel.html", takes_context=True)
def factor_history_panel(context, pm) -> dict:
    """ "This factor has happened before": for each factor of ``pm``, earlier
    post-mortems with it (same team first), and the most similar post-mortems
    by full-text search — only those the page's reader may open."""
    user = _reader(context)
    return {
        "pm": pm,
        "histories": selectors.factor_history(postmortem=pm, user=user),
        "similar": selectors.similar_postmortems(postmortem=pm, user=user),
    }


@register.inclusion_tag("patterns/_decisions_panel.html")
def dod_decisions_panel(pm) -> dict:
    """DoD proposals ``pm`` is evidence for: rejected ones ("what we don't
    change", with the reason) and open or accepted ones."""
    return {
        "pm": pm,
        "rejected": selectors.rejected_for_postmortem(postmortem=pm),
        "others": selectors.proposals_for_postmortem(postmortem=pm),
    }
