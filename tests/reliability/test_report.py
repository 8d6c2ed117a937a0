"""The report writer replaces its own section and nothing else."""

import pytest

from tests.reliability import report


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    path = tmp_path / "reliability.md"
    monkeypatch.setattr(report, "REPORT", path)
    return path


def test_sections_are_added_then_replaced_in_place(scratch, monkeypatch):
    monkeypatch.delenv("KB_VERIFY", raising=False)
    assert report.record("A", "first") is False  # a short run writes nothing
    assert not scratch.exists()
    report.record("A", "one", force=True)
    report.record("B (PostgreSQL)", report.table(["x", "y"], [[1, 2]]), force=True)
    report.record("A", "two", force=True)
    text = scratch.read_text()
    assert text.startswith("# Reliability figures")
    assert text.count("## A\n") == 1 and "two" in text and "one" not in text
    assert text.index("## A") < text.index("## B (PostgreSQL)")
    assert "| x | y |\n|---|---|\n| 1 | 2 |" in text


def test_a_full_run_writes(scratch, monkeypatch):
    monkeypatch.setenv("KB_VERIFY", "1")
    assert report.full_run()
    assert report.record("C", "body")
    assert "## C" in scratch.read_text()
