"""Who may do what through the API: the one place these rules live.

Today every signed-in user may read everything and create or edit post-mortems
and action items; anonymous requests are refused. Per-team rules (who may edit
which post-mortem) will be added here, in ``has_object_permission``, so no view
has to change.
"""

from __future__ import annotations

from rest_framework import permissions


class SignedInUser(permissions.IsAuthenticated):
    """Any signed-in user may read and write; anonymous users get 401/403."""

    def has_object_permission(self, request, view, obj) -> bool:
        return True


API_PERMISSIONS = [SignedInUser]
