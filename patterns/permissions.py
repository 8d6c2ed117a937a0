"""Who may curate a Definition of Done: the one place this rule lives.

Curating means: accepting or rejecting DoD proposals, changing a Definition of
Done, changing a team's pattern settings, and running pattern detection. Web
pages, the API and (through them) everything else ask ``can_curate``.

* A team's DoD: staff, the team's leads (``TeamMembership.Role.LEAD``), and the
  team's facilitators — anyone who facilitated one of its post-mortems.
* The organisation's DoD (``team`` None): staff, and anyone who leads a team or
  facilitated a post-mortem (they speak for a team in the organisation-wide
  quality retro).

Reading is open to every signed-in user, like the rest of the knowledge base.
"""

from __future__ import annotations

from dataclasses import dataclass

from postmortems.models import PostMortem, Team, TeamMembership


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
        leads = TeamMembership.objects.filter(user=user, role=TeamMembership.Role.LEAD).values_list(
            "team_id", flat=True
        )
        facilitated = PostMortem.objects.filter(facilitator=user).values_list("team_id", flat=True).distinct()
        rights = Curation(all_teams=False, team_ids=frozenset(leads) | frozenset(facilitated))
    return rights


def can_curate(user, team: Team | None) -> bool:
    """May ``user`` curate ``team``'s Definition of Done (None: the organisation's)?"""
    return curation_for(user).can(team.pk if team is not None else None)
