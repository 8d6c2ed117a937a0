"""Import the real public corpora (788 records) and search them.

The data lives outside the project (``../shared/data/postmortems``, or
``$KB_CORPUS_DIR``) and is read only at test time: which records mention a leap
second, BGP or an expired certificate is worked out here from the files, not
written into the test. The import runs once per module (it takes seconds);
every test only reads, or works inside its own rolled-back transaction.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils.text import slugify

from postmortems.exchange.corpus import TRUNCATION_NOTE, factors_for
from postmortems.exchange.importer import import_paths
from postmortems.models import PostMortem, Service, Team
from postmortems.search import search_postmortems

pytestmark = [pytest.mark.real_corpus, pytest.mark.django_db]

CORPUS_FILES = {
    "icco-postmortems.jsonl": "icco-",
    "danluu-post-mortems.jsonl": "danluu-",
    "intelligentdds-cloud-postmortems.jsonl": "issre22-",
}


def corpus_dir() -> Path:
    return Path(
        os.environ.get("KB_CORPUS_DIR") or Path(settings.BASE_DIR).parent / "shared" / "data" / "postmortems"
    )


def read_records() -> dict[str, list[dict]]:
    return {
        name: [
            json.loads(line)
            for line in (corpus_dir() / name).read_text(encoding="utf-8").splitlines()
            if line
        ]
        for name in CORPUS_FILES
    }


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker):
    """Import every file of the corpus directory once; yields ``(report, records by file)``."""
    directory = corpus_dir()
    if not all((directory / name).is_file() for name in CORPUS_FILES):
        pytest.skip(f"public post-mortem corpus not found in {directory} (set KB_CORPUS_DIR)")
    with django_db_blocker.unblock():
        report = import_paths([directory], progress=False)
    yield report, read_records()
    with django_db_blocker.unblock():
        PostMortem.objects.all().delete()
        Service.objects.all().delete()
        Team.objects.all().delete()


def indexed_text(record: dict) -> str:
    extra = record["extra"]
    parts = [
        record["title"],
        record["company"],
        record["summary"],
        extra.get("description"),
        extra.get("details"),
        extra.get("root_cause_details"),
        extra.get("mitigation_details"),
    ]
    return " ".join(part for part in parts if isinstance(part, str))


def first_page(query: str) -> list[str]:
    return [pm.external_id for pm in search_postmortems(PostMortem.objects.all(), query)[:20]]


def test_every_record_is_imported_without_a_bad_one(corpus):
    report, records = corpus
    assert report.bad == 0, [str(p) for p in report.problems]
    assert report.created == 788 and report.updated == 0
    assert PostMortem.objects.count() == 788 == sum(len(r) for r in records.values())
    assert report.unknown_labels == Counter()  # every label of the three corpora is in a table
    assert report.ignored_files == [str(corpus_dir() / "README.md")]


def test_counts_per_corpus_match_the_files(corpus):
    _, records = corpus
    for name, prefix in CORPUS_FILES.items():
        assert PostMortem.objects.filter(external_id__startswith=prefix).count() == len(records[name])
    assert PostMortem.objects.filter(external_id__startswith="icco-").count() == 242
    assert PostMortem.objects.filter(external_id__startswith="danluu-").count() == 190
    assert PostMortem.objects.filter(external_id__startswith="issre22-").count() == 356


def test_documents_are_published_without_invented_severity_under_company_teams(corpus):
    _, records = corpus
    assert set(PostMortem.objects.values_list("status", flat=True)) == {"published"}
    assert set(PostMortem.objects.values_list("severity", flat=True)) == {""}
    companies = {r["company"] for rs in records.values() for r in rs}
    assert set(Team.objects.values_list("slug", flat=True)) == {slugify(c) for c in companies}
    assert not PostMortem.objects.filter(title="").exists()


def test_truncated_sections_carry_the_note_and_are_counted(corpus):
    report, _ = corpus
    limit = settings.KB_MAX_SECTION_CHARS
    noted = sum(
        PostMortem.objects.filter(**{f"{field}__endswith": TRUNCATION_NOTE}).count()
        for field in ("what_happened", "why_it_happened")
    )
    assert noted == report.truncated_sections > 0
    for pm in PostMortem.objects.filter(what_happened__endswith=TRUNCATION_NOTE):
        assert len(pm.what_happened) <= limit


@pytest.mark.parametrize(
    ("external_id", "factors"),
    [
        # ISSRE: a bare "software bugs" (nothing) plus "hardware failures > power outage".
        ("issre22-aws-1", {"hardware-failure"}),
        # ISSRE: the one record without a root-cause label.
        ("issre22-google-GAE-18003", set()),
        # danluu "Config Errors".
        ("danluu-allegro-872b908a", {"config-change"}),
        # danluu "Database".
        ("danluu-github-b1d07b87", {"schema-migration"}),
        # icco "cloud".
        ("icco-00b7f759-21f8-4767-8803-f09d863005cd", {"third-party-failure"}),
    ],
)
def test_known_records_get_the_mapped_factors(corpus, external_id, factors):
    pm = PostMortem.objects.get(external_id=external_id)
    assert set(pm.factors.values_list("slug", flat=True)) == factors


def test_every_record_stores_exactly_the_factors_of_its_categories(corpus):
    _, records = corpus
    stored: dict[str, set[str]] = {}
    for external_id, slug in PostMortem.factors.through.objects.values_list(
        "postmortem__external_id", "contributingfactor__slug"
    ):
        stored.setdefault(external_id, set()).add(slug)
    for rs in records.values():
        for record in rs:
            expected, _ = factors_for(record["source_corpus"], record["categories"])
            assert stored.get(record["id"], set()) == set(expected), record["id"]


@pytest.mark.parametrize(
    ("query", "mentions", "all_of"),
    [
        ("leap second", r"leap[\s-]?seconds?", (r"leap", r"second")),
        ("BGP", r"\bbgp\b", (r"bgp",)),
        ("DNS", r"\bdns\b", (r"dns",)),
        (
            "expired certificate",
            r"expir\w*\W+(?:\w+\W+){0,3}certificat|certificat\w*\W+(?:\w+\W+){0,5}expir",
            (r"expir", r"certific"),
        ),
    ],
)
def test_search_finds_incidents_known_to_be_in_the_corpus(corpus, query, mentions, all_of):
    _, records = corpus
    texts = {r["id"]: indexed_text(r) for rs in records.values() for r in rs}
    # Records that clearly are about the subject, and those that could match at all.
    about = {i for i, text in texts.items() if re.search(mentions, text, re.IGNORECASE)}
    could_match = {i for i, text in texts.items() if all(re.search(p, text, re.IGNORECASE) for p in all_of)}
    assert about, f"the corpus no longer mentions {query!r}; pick another query"

    page = first_page(query)

    assert page[0] in about
    assert set(page) <= could_match
    assert len(set(page) & about) == min(len(about), 20)


def test_reimport_changes_nothing_and_creates_no_duplicates(corpus):
    before = dict(PostMortem.objects.values_list("external_id", "pk"))
    report = import_paths([corpus_dir()], progress=False)
    assert (report.created, report.updated, report.unchanged, report.bad) == (0, 0, 788, 0)
    assert "created 0, updated 0, unchanged 788, skipped (bad) 0" in report.summary_line()
    assert dict(PostMortem.objects.values_list("external_id", "pk")) == before


def test_markdown_export_of_the_whole_corpus_reads_back_unchanged(corpus, tmp_path):
    call_command("export_postmortems", str(tmp_path), stdout=StringIO())
    assert len(list(tmp_path.glob("PM-*.md"))) == 788
    report = import_paths([tmp_path], progress=False)
    assert (report.created, report.updated, report.unchanged, report.bad) == (0, 0, 788, 0)
