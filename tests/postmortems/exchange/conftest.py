"""Helpers for the import/export tests: small JSON Lines records written here
(never copied from the shared corpora) and a wrapper around the command."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command


def icco_record(**overrides) -> dict:
    record = {
        "id": "icco-test-0001",
        "title": "Queue workers stalled after a broker upgrade",
        "company": "Acme Rockets",
        "date": "2021-04-02",
        "url": "https://status.acme-rockets.example/incidents/17",
        "summary": "Workers stopped consuming after the broker was upgraded. Jobs piled up for an hour.",
        "categories": ["config-change", "cloud"],
        "source_corpus": "icco/postmortems",
        "license": "GPL-3.0",
        "extra": {
            "start_time": "2021-04-02T13:05:00Z",
            "end_time": "2021-04-02T14:20:00Z",
            "description": "The upgrade changed the default prefetch setting.\n\nWorkers waited forever.",
        },
    }
    record.update(overrides)
    return record


def danluu_record(**overrides) -> dict:
    record = {
        "id": "danluu-test-0001",
        "title": None,
        "company": "Bramble Bank",
        "date": None,
        "url": "https://blog.bramble.example/outage",
        "summary": (
            "A [cron job](https://example.com/cron) *rotated* the wrong log directory. "
            "Payments failed for 20 minutes."
        ),
        "categories": ["Config Errors"],
        "source_corpus": "danluu/post-mortems",
        "license": "NOASSERTION",
        "extra": {"section": "Config Errors"},
    }
    record.update(overrides)
    return record


def issre_record(**overrides) -> dict:
    record = {
        "id": "issre22-test-0001",
        "title": "Storage latency in one region",
        "company": "Microsoft Azure",
        "date": "2019-06-11",
        "url": "https://status.example-cloud.test/rca/1",
        "summary": "Customers saw elevated storage latency.",
        "categories": [
            "internal causes > softwares bugs > exception handling",
            "External Causes > Insufficient Resource > CPU",
        ],
        "source_corpus": "IntelligentDDS/Post-mortems-Analysis",
        "license": "NOASSERTION",
        "extra": {
            "details": "A front-end node ran out of CPU while retrying failed requests.",
            "root_cause_details": "An unhandled timeout made the node retry without backoff.",
            "mitigation_details": "Engineers restarted the node and added capacity.",
        },
    }
    record.update(overrides)
    return record


def jsonl(*records) -> str:
    """JSON Lines text; a ``str`` item is written verbatim (for broken lines)."""
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def run_import():
    """Run ``import_postmortems``; returns ``(stdout, stderr)``."""

    def run(*paths, **options):
        out, err = StringIO(), StringIO()
        options.setdefault("no_progress", True)
        call_command("import_postmortems", *map(str, paths), stdout=out, stderr=err, **options)
        return out.getvalue(), err.getvalue()

    return run
