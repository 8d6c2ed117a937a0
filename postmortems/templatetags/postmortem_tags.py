"""Template helpers for post-mortem pages."""

from datetime import timedelta

from django import template
from django.utils.safestring import mark_safe

from postmortems.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> str:
    """Render Markdown through the sanitising pipeline.

    This is the only ``mark_safe`` on user text in the project: its input is
    ``render_markdown``'s sanitised output.
    """
    return mark_safe(render_markdown(text or ""))  # noqa: S308 - sanitised by nh3


@register.filter
def duration(value: timedelta | None) -> str:
    """Format a ``timedelta`` as "2 d 3 h", "3 h 12 min" or "45 min"; "—" for None."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 60 * 24)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {mins} min"
    return f"{mins} min"
