"""Pattern detection on the real public corpora (``../shared/data/postmortems``).

The corpora are imported into teams by company (``import_postmortems``), then
detection runs. The expected patterns are worked out here, at test time, from
the JSON Lines files with a brute-force reference written independently of
``patterns.windows`` (every window anchored at every incident, O(n²)); nothing
from the data is copied into the test. Skipped with a message when the data
folder is absent (set ``KB_CORPUS_DIR`` to read it elsewhere).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections import defaultdict
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from patterns.detection import detect_patterns
from patterns.incidents import normalise_source_url
from patterns.models import DoDProposal, ProposalEvidence
from postmortems.exchange.corpus import factors_for
from postmortems.models import PostMortem, Service, Team

pytestmark = [pytest.mark.real_corpus, pytest.mark.django_db]

FILES = ("icco-postmortems.jsonl", "danluu-post-mortems.jsonl", "intelligentdds-cloud-postmortems.jsonl")
K, W = 3, dt.timedelta(days=90)


def corpus_dir() -> Path:
    return Path(
        os.environ.get("KB_CORPUS_DIR") or Path(settings.BASE_DIR).parent / "shared" / "data" / "postmortems"
    )


def records() -> list[dict]:
    found = []
    for name in FILES:
        for line in (corpus_dir() / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                found.append(json.loads(line))
    return found


def start_of(record: dict) -> dt.datetime | None:
    extra = record.get("extra") or {}
    if record["source_corpus"] == "icco/postmortems" and extra.get("start_time"):
        moment = dt.datetime.fromisoformat(extra["start_time"])
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if record.get("date"):
        return dt.datetime.combine(dt.date.fromisoformat(record["date"]), dt.time(), tzinfo=dt.UTC)
    return None


def reference_incidents() -> tuple[dict, int]:
    """``{(company or None, factor): [(start, company), ...]}`` with copies merged, and
    the number of undated records with factors.

    Copies: the same normalised write-up URL, starts less than 24 hours apart and
    different collections (one URL can hold many incidents of one collection: a
    provider's status history, a PDF of root-cause analyses).
    """
    raw: dict = defaultdict(list)
    undated = 0
    for record in records():
        factors, _ = factors_for(record["source_corpus"], record["categories"])
        started = start_of(record)
        if not factors:
            continue
        if started is None:
            undated += 1
            continue
        url = (record.get("url") or "").split()[0] if record.get("url") else ""
        key = normalise_source_url(url.rstrip("),;]")) or record["id"]
        company = record.get("company") or "Unattributed"
        for factor in factors:
            for scope in ((company, factor), (None, factor)):
                raw[scope].append((started, record["id"], key, record["source_corpus"], company))
    merged: dict = {}
    for scope, rows in raw.items():
        kept, groups = [], {}
        for started, _, key, corpus, company in sorted(rows):
            group = groups.get(key)
            if group and started - group[0] < dt.timedelta(hours=24) and corpus not in group[1]:
                group[1].add(corpus)
                continue
            groups[key] = (started, {corpus})
            kept.append((started, company))
        merged[scope] = kept
    return merged, undated


def recurs(starts: list[tuple[dt.datetime, str]], *, min_teams: int) -> bool:
    """Brute force: is there a window [t, t + W) anchored at an incident holding K
    incidents from ``min_teams`` companies?"""
    for anchor, _ in starts:
        inside = [(t, c) for t, c in starts if anchor <= t < anchor + W]
        if len(inside) >= K and len({c for _, c in inside}) >= min_teams:
            return True
    return False


@pytest.fixture(scope="module")
def detected(django_db_setup, django_db_blocker):
    directory = corpus_dir()
    if not all((directory / name).is_file() for name in FILES):
        pytest.skip(f"public post-mortem corpus not found in {directory} (set KB_CORPUS_DIR)")
    with django_db_blocker.unblock():
        call_command("import_postmortems", str(directory), no_progress=True, stdout=open(os.devnull, "w"))  # noqa: SIM115
        report = detect_patterns()
    yield report
    with django_db_blocker.unblock():
        ProposalEvidence.objects.all().delete()
        DoDProposal.objects.all().delete()
        PostMortem.objects.all().delete()
        Service.objects.all().delete()
        Team.objects.all().delete()


def test_team_proposals_are_exactly_the_recurring_factors_of_the_reference(detected):
    incidents, _ = reference_incidents()
    expected = {
        (company, factor)
        for (company, factor), found in incidents.items()
        if company is not None and recurs(found, min_teams=1)
    }
    found = set(
        DoDProposal.objects.filter(scope="team", status="open").values_list("team__name", "factor__slug")
    )
    assert expected, "the corpus no longer has a recurring factor; pick another check"
    assert found == expected


def test_config_changes_recur_for_the_big_cloud_providers(detected):
    found = set(DoDProposal.objects.filter(scope="team").values_list("team__name", "factor__slug"))
    assert ("Microsoft Azure", "config-change") in found
    assert ("Google Cloud", "config-change") in found


def test_no_proposal_for_a_factor_a_team_had_only_once(detected):
    incidents, _ = reference_incidents()
    one_offs = {
        (company, factor)
        for (company, factor), found in incidents.items()
        if company is not None and len(found) == 1
    }
    proposed = set(DoDProposal.objects.filter(scope="team").values_list("team__name", "factor__slug"))
    assert len(one_offs) > 20  # the check means something
    assert not one_offs & proposed


def test_org_wide_proposals_match_the_reference(detected):
    incidents, _ = reference_incidents()
    expected = {
        factor
        for (company, factor), found in incidents.items()
        if company is None and recurs(found, min_teams=2)
    }
    found = set(DoDProposal.objects.filter(scope="org").values_list("factor__slug", flat=True))
    assert found == expected and "config-change" in found


def cross_corpus_copies() -> list[tuple[str, str]]:
    """Pairs of record ids from different corpora with one write-up URL and starts < 24 h apart."""
    dated = []
    for record in records():
        started = start_of(record)
        url = (record.get("url") or "").split()[0] if record.get("url") else ""
        if started and url:
            dated.append(
                (normalise_source_url(url.rstrip("),;]")), started, record["source_corpus"], record["id"])
            )
    pairs = []
    for i, (url, started, corpus, rid) in enumerate(dated):
        for other_url, other_started, other_corpus, other_id in dated[i + 1 :]:
            if (
                url == other_url
                and corpus != other_corpus
                and abs(started - other_started) < dt.timedelta(hours=24)
            ):
                pairs.append((rid, other_id))
    return pairs


def test_each_incident_is_evidence_once_and_undated_ones_are_reported(detected):
    _, undated = reference_incidents()
    assert detected.undated == undated > 0  # danluu's list has no dates
    pairs = cross_corpus_copies()
    assert pairs, "no incident appears in two corpora any more; pick another check"
    evidence = set(ProposalEvidence.objects.values_list("proposal_id", "postmortem__external_id"))
    for one, other in pairs:
        both = {p for p, e in evidence if e == one} & {p for p, e in evidence if e == other}
        assert not both, (one, other)
    for proposal in DoDProposal.objects.all():
        assert proposal.evidence.count() >= K


def test_running_again_on_the_corpus_changes_nothing(detected):
    before = ProposalEvidence.objects.count()
    report = detect_patterns()
    assert report.count("opened") == report.count("extended") == 0
    assert ProposalEvidence.objects.count() == before
