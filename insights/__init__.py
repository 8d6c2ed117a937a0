"""Insights: organisation, team and person dashboards of post-mortems and action items.

Every figure is computed with aggregate queries in the database
(``insights.selectors``); ``insights.figures`` turns them into tables, chart
data and CSV with a one-line definition each, for the pages, the CSV downloads
and ``GET /api/v1/insights/``.
"""
