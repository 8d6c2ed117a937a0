"""``detect_patterns`` on the demo organisation (``load_demo``) finds the
recurring configuration changes of the Payments team."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from patterns.models import DoDProposal

pytestmark = pytest.mark.django_db


def test_detect_patterns_on_the_demo_proposes_config_change_for_payments():
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    out = StringIO()
    call_command("detect_patterns", stdout=out)

    proposal = DoDProposal.objects.get(scope="team", team__slug="payments", factor__slug="config-change")
    assert proposal.status == "open" and proposal.kind == "new_item"
    titles = list(proposal.evidence.values_list("postmortem__title", flat=True))
    assert len(titles) == 4
    assert "opened     team payments: config-change — 4 incident(s)" in out.getvalue()
    # Running it again (as the nightly job will) changes nothing.
    again = StringIO()
    call_command("detect_patterns", stdout=again)
    assert "opened 0, extended 0" in again.getvalue()
