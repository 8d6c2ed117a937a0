"""Integrations with the tools where fixes happen (today: GitHub).

Each integration is its own Django app under this package, so it can be
installed, configured and tested on its own (``integrations.github``).
"""
