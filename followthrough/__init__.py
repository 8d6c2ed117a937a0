"""Follow-through on action items: per-team follow-up windows, daily digests
that nudge owners, escalation of long-overdue items to the facilitator and team
leads, and an optional Slack team digest.

Everything runs from Celery beat (``followthrough.send_daily_digests`` daily,
``followthrough.sweep`` every few minutes); the database records every digest,
so nobody gets the same one twice in a day.
"""
