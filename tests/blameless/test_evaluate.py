"""The labelled set is the yardstick: the build fails when the rules slip."""

import pytest

from blameless.evaluate import bench_document, evaluate, format_report, load_cases, main


@pytest.fixture(scope="module")
def result():
    return evaluate()


def test_overall_precision_and_recall_are_at_least_90_percent(result):
    overall = result["overall"]
    assert overall["precision"] >= 0.9, format_report(result, verbose=True)
    assert overall["recall"] >= 0.9, format_report(result, verbose=True)


@pytest.mark.parametrize("rule", ["blame", "human-error", "counterfactual", "vague-action"])
def test_each_rule_has_precision_and_recall_of_at_least_80_percent(result, rule):
    counts = result["rules"][rule]
    assert counts["precision"] >= 0.8, format_report(result, verbose=True)
    assert counts["recall"] >= 0.8, format_report(result, verbose=True)


def test_evaluation_covers_the_whole_labelled_set(result):
    cases = load_cases()
    assert result["cases"] == len(cases) >= 248
    labels = sum(len(case["rules"]) for case in cases)
    overall = result["overall"]
    assert overall["tp"] + overall["fn"] == labels


def test_evaluate_reads_another_labelled_set(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"id": "a", "text": "Bob forgot.", "section": "what_happened", "rules": ["blame"]}\n'
        '{"id": "b", "text": "The cache missed.", "section": "what_happened", "rules": ["blame"]}\n'
        '{"id": "c", "text": "Improve monitoring.", "section": "action_item", "rules": []}\n',
        encoding="utf-8",
    )
    result = evaluate(path)
    assert result["rules"]["blame"] == {"tp": 1, "fp": 0, "fn": 1, "precision": 1.0, "recall": 0.5}
    assert result["rules"]["vague-action"]["fp"] == 1
    assert [row["id"] for row in result["misses"]] == ["b"]
    assert [row["id"] for row in result["false_alarms"]] == ["c"]


def test_cli_prints_the_table_and_the_misses(capsys):
    assert main(["--verbose"]) == 0
    out = capsys.readouterr().out
    assert "overall (micro)" in out and "precision" in out and "False alarms" in out


def test_bench_document_is_about_20_kb_of_mostly_negative_markdown():
    doc = bench_document()
    assert len(doc) == 20_000
    assert "```" in doc and "## Section" in doc
