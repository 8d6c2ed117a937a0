"""``bench.report``: docs/benchmarks.md is rendered from bench/results.json, findings from the figures."""

from __future__ import annotations

import copy
import json

import pytest

from bench.report import _kind_median, _largest, evaluate_targets, render_markdown
from bench.run import RESULTS


@pytest.fixture(scope="module")
def results() -> dict:
    data = json.loads(RESULTS.read_text(encoding="utf-8"))
    data["targets"] = evaluate_targets(data)
    return data


def test_the_committed_results_render_with_every_target(results):
    text = render_markdown(results)
    assert text.startswith("# Benchmarks")
    for target in results["targets"]:
        assert target["target"] in text
    assert "## Search: 50 queries" in text


def test_kind_median_is_the_median_of_the_per_query_p50s(results):
    run = _largest(results, "postgresql")
    entries = [e for e in run["search"]["per_query"] if e["kind"] == "two words"]
    values = sorted(e["p50_ms"]["api"] for e in entries)
    assert _kind_median(run, "two words")["api"] == values[len(values) // 2]
    assert _kind_median(run, "no such kind") == dict.fromkeys(("api", "raw_sql", "icontains", "ripgrep"))


@pytest.mark.parametrize("faster", [True, False])
def test_the_icontains_finding_appears_only_when_icontains_beats_the_api(results, faster):
    data = copy.deepcopy(results)
    run = _largest(data, "postgresql")
    methods = run["search"]["methods"]
    methods["icontains"]["p50"] = methods["api"]["p50"] / 2 if faster else methods["api"]["p50"] * 2
    line = next(
        (
            line
            for line in render_markdown(data).splitlines()
            if line.startswith(f"* postgresql {run['size']:,}: the naive")
        ),
        None,
    )
    if faster:
        assert line is not None and "unranked" in line
        rarest = _kind_median(run, "codename, rarest")
        assert f"{rarest['api']:,.1f} ms" in line
    else:
        assert line is None


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"BENCH_SIZES": "abc"}, "BENCH_SIZES"),
        ({"BENCH_SIZES": "1000,-5"}, "BENCH_SIZES"),
        ({"BENCH_SIZES": " , "}, "BENCH_SIZES"),
        ({"BENCH_ENGINES": "mysql"}, "BENCH_ENGINES"),
        ({"BENCH_ENGINES": ","}, "BENCH_ENGINES"),
        ({"BENCH_SQLITE_MAX": "lots"}, "BENCH_SQLITE_MAX"),
    ],
)
def test_bad_settings_stop_the_run_before_anything_is_written(environ, named, monkeypatch):
    from bench import run

    before = RESULTS.read_bytes()
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as stopped:
        run.main()
    assert named in str(stopped.value)
    assert RESULTS.read_bytes() == before


def test_settings_read_the_defaults_and_the_given_values():
    from bench.run import settings

    assert settings({}) == ([1000, 10000, 100000], ["sqlite", "postgresql"], 100000)
    assert settings({"BENCH_SIZES": "1000, 2000", "BENCH_ENGINES": "sqlite", "BENCH_SQLITE_MAX": "1000"}) == (
        [1000, 2000],
        ["sqlite"],
        1000,
    )


def test_a_run_in_which_no_part_finishes_keeps_the_previous_results(monkeypatch):
    import subprocess

    from bench import run

    before = RESULTS.read_bytes(), run.REPORT.read_bytes()
    monkeypatch.setenv("BENCH_ENGINES", "sqlite")
    monkeypatch.setenv("BENCH_SIZES", "1000")
    real_run = subprocess.run

    def part_fails(command, *args, **kwargs):
        if "bench.suite" in command:
            return subprocess.CompletedProcess(command, 3)
        return real_run(command, *args, **kwargs)

    monkeypatch.setattr(run.subprocess, "run", part_fails)
    assert run.main() == 1
    assert (RESULTS.read_bytes(), run.REPORT.read_bytes()) == before
