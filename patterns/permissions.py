"""Who may curate a Definition of Done: the one place this rule lives.

Curating means: accepting or rejecting DoD proposals, changing a Definition of
Done, changing a team's pattern settings, and running pattern detection. Web
pages, the API and (through them) everything else ask ``can_curate``.

* A team's DoD: staff, and the team's leads and facilitators
  (``TeamMembership.Role.LEAD`` / ``FACILITATOR``). Being named facilitator on a
  post-mortem does not count: anyone may create a post-mortem in any team and
  name themselves, so it would let anyone curate any team (found in review).
* The organisation's DoD (``team`` None): staff, and anyone who leads or
  facilitates a team (they speak for a team in the organisation-wide quality retro).
* Running detection for the whole organisation (``may_run_org_detection``): staff
  only — its report names windows and counts over every team's documents,
  restricted ones included.

Reading is open to every signed-in user, like the rest of the knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass

from postmortems.models import Team, TeamMembership


@dataclass(frozen=True)
class Curation:
    """What one user may curate: every scope (staff) or these teams' (plus the
    organisation's when they curate any team)."""

    all_teams: bool
    team_ids: frozenset[int]

    def can(self, team_id: int | None) -> bool:
        """May the user curate the team's DoD (``team_id``) or the organisation's (None)?"""
        if self.all_teams:
            return True
        if team_id is None:
            return bool(self.team_ids)
        return team_id in self.team_ids

    @property
    def any(self) -> bool:
        return self.all_teams or bool(self.team_ids)


def curation_for(user) -> Curation:
    """The user's curation rights (two small queries; call once per request).

    Returns:
        A ``Curation``; anonymous and inactive users curate nothing.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        rights = Curation(all_teams=False, team_ids=frozenset())
    elif user.is_staff:
        rights = Curation(all_teams=True, team_ids=frozenset())
    else:
        curated = TeamMembership.objects.filter(
            user=user, role__in=[TeamMembership.Role.LEAD, TeamMembership.Role.FACILITATOR]
        ).values_list("team_id", flat=True)
        rights = Curation(all_teams=False, team_ids=frozenset(curated))
    return rights


def may_run_detection(user, team: Team | None) -> bool:
    """May ``user`` run detection for ``team`` (None: everyone)? Team curators for
    their team (they read its restricted documents); staff for the organisation."""
    if team is None:
        return bool(getattr(user, "is_authenticated", False) and user.is_active and user.is_staff)
    return can_curate(user, team)


def can_curate(user, team: Team | None) -> bool:
    """May ``user`` curate ``team``'s Definition of Done (None: the organisation's)?"""
    return curation_for(user).can(team.pk if team is not None else None)
