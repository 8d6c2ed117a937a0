"""Reading JSON Lines records (our own small fixtures) into post-mortems."""

from __future__ import annotations

import datetime as dt

import pytest

from postmortems.exchange.corpus import (
    TRUNCATION_NOTE,
    build_title,
    clean_url,
    document_from_record,
    parse_json_line,
)
from postmortems.exchange.document import RecordError
from postmortems.models import PostMortem, Team
from tests.postmortems.exchange.conftest import danluu_record, icco_record, issre_record, jsonl, write

UTC = dt.UTC


def test_icco_record_uses_start_and_end_time_and_the_longer_description():
    doc = document_from_record(icco_record(), max_section_chars=20_000)
    assert doc.external_id == "icco-test-0001"
    assert doc.title == "Queue workers stalled after a broker upgrade"
    assert doc.team == "Acme Rockets"
    assert doc.started_at == dt.datetime(2021, 4, 2, 13, 5, tzinfo=UTC)
    assert doc.resolved_at == dt.datetime(2021, 4, 2, 14, 20, tzinfo=UTC)
    assert doc.severity == "" and doc.status == "published"
    assert doc.what_happened.startswith("Workers stopped consuming")
    assert "\n\n### Longer description (icco corpus)\n\nThe upgrade changed" in doc.what_happened
    assert doc.why_it_happened == ""
    assert doc.factors == ["config-change", "third-party-failure"]


def test_icco_end_time_before_start_is_not_used_as_resolution():
    record = icco_record(extra={"start_time": "2021-04-02T13:05:00Z", "end_time": "2021-04-01T10:00:00Z"})
    doc = document_from_record(record, max_section_chars=20_000)
    assert doc.started_at == dt.datetime(2021, 4, 2, 13, 5, tzinfo=UTC)
    assert doc.resolved_at is None


def test_record_without_start_time_starts_at_midnight_utc_of_its_date():
    doc = document_from_record(icco_record(extra={}), max_section_chars=20_000)
    assert doc.started_at == dt.datetime(2021, 4, 2, 0, 0, tzinfo=UTC)
    no_date = document_from_record(danluu_record(), max_section_chars=20_000)
    assert no_date.started_at is None


def test_danluu_record_gets_a_title_from_company_and_first_sentence():
    doc = document_from_record(danluu_record(), max_section_chars=20_000)
    assert doc.title == "Bramble Bank: A cron job rotated the wrong log directory."
    assert doc.factors == ["config-change"]
    # The summary keeps its Markdown in the section.
    assert doc.what_happened.startswith("A [cron job](https://example.com/cron) *rotated*")


def test_built_title_is_at_most_200_characters():
    title = build_title("Acme", "word " * 100 + "end.")
    assert len(title) <= 200 and title.startswith("Acme: word") and title.endswith("…")


def test_issre_record_fills_why_it_happened_and_mitigation():
    doc = document_from_record(issre_record(), max_section_chars=20_000)
    assert doc.why_it_happened == "An unhandled timeout made the node retry without backoff."
    assert "### Details (provider's post-mortem)\n\nA front-end node ran out of CPU" in doc.what_happened
    assert doc.what_happened.endswith("**Mitigation:** Engineers restarted the node and added capacity.")
    assert doc.factors == ["capacity", "error-handling"]
    assert doc.unknown_labels == []


def test_long_sections_are_truncated_with_a_visible_note():
    record = issre_record(extra={"details": "lorem ipsum " * 100, "root_cause_details": "dolor " * 100})
    doc = document_from_record(record, max_section_chars=300)
    assert len(doc.what_happened) <= 300 and doc.what_happened.endswith(TRUNCATION_NOTE)
    assert len(doc.why_it_happened) <= 300 and doc.why_it_happened.endswith(TRUNCATION_NOTE)
    assert doc.truncated_sections == 2


def test_unknown_category_is_counted_not_mapped():
    doc = document_from_record(
        issre_record(categories=["external causes > solar flare"]), max_section_chars=20_000
    )
    assert doc.factors == [] and doc.unknown_labels == ["external causes > solar flare"]


def test_url_with_a_markdown_tail_is_repaired():
    url, warning = clean_url("https://a.example/post/), [see also](https://b.example/x")
    assert url == "https://a.example/post/" and "repaired" in warning
    assert clean_url("not a url") == ("", "url dropped (not a valid http(s) URL): 'not a url'")
    assert clean_url(None) == ("", None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "x", "summary": ', "broken JSON"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_broken_lines_raise_record_errors(line, message):
    with pytest.raises(RecordError, match=message):
        parse_json_line(line)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": ""}, "missing 'id'"),
        ({"summary": None}, "missing 'summary'"),
        ({"date": "02/04/2021", "extra": {}}, "not an ISO date"),
        ({"categories": "config-change"}, "'categories' must be a list"),
    ],
)
def test_invalid_records_raise_record_errors(overrides, message):
    with pytest.raises(RecordError, match=message):
        document_from_record(icco_record(**overrides), max_section_chars=20_000)


def test_jsonl_file_imports_one_post_mortem_per_line_with_company_teams(tmp_path, run_import, db):
    path = write(tmp_path, "mixed.jsonl", jsonl(icco_record(), danluu_record(), "", issre_record()))
    out, err = run_import(path)

    assert "created 3, updated 0, unchanged 0, skipped (bad) 0" in out
    assert err == ""
    assert PostMortem.objects.count() == 3
    pm = PostMortem.objects.get(external_id="issre22-test-0001")
    assert pm.team.slug == "microsoft-azure" and pm.team.name == "Microsoft Azure"
    assert pm.status == "published" and pm.severity == ""
    assert pm.source_url == "https://status.example-cloud.test/rca/1"
    assert pm.started_at == dt.datetime(2019, 6, 11, tzinfo=UTC)
    assert set(pm.factors.values_list("slug", flat=True)) == {"capacity", "error-handling"}
    assert Team.objects.filter(slug="acme-rockets", name="Acme Rockets").exists()
    assert Team.objects.filter(slug="bramble-bank").exists()


def test_truncations_are_counted_in_the_summary(tmp_path, run_import, db, settings):
    settings.KB_MAX_SECTION_CHARS = 300
    record = issre_record(extra={"details": "lorem ipsum " * 100})
    out, _ = run_import(write(tmp_path, "long.jsonl", jsonl(record)))
    assert "Truncated 1 section(s) longer than 300 characters" in out
    assert PostMortem.objects.get().what_happened.endswith(TRUNCATION_NOTE)


def test_unmapped_categories_are_counted_in_the_summary(tmp_path, run_import, db):
    record = issre_record(categories=["external causes > solar flare"])
    out, _ = run_import(write(tmp_path, "odd.jsonl", jsonl(record)))
    assert "Unmapped categories: 1 ('external causes > solar flare' ×1)" in out
    assert PostMortem.objects.get().factors.count() == 0
