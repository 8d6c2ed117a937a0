"""Score the rules against the labelled set, and time them.

    python -m blameless.evaluate            # table of TP/FP/FN, precision, recall
    python -m blameless.evaluate --verbose  # ... and every miss and false alarm
    python -m blameless.evaluate --bench    # median time on a ~20 KB and a 1 MB document

Scoring is per sentence and per rule: a rule that fires on a sentence labelled
with it is a true positive, one that fires on a sentence not labelled with it a
false positive, and a label the checker does not raise a false negative. The
overall figures are micro-averaged (the counts of all rules are summed first).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from blameless.checker import check_text
from blameless.rules import RULES

LABELLED_SET = Path(__file__).parent / "evaluation" / "labelled_sentences.jsonl"


def load_cases(path: Path | str | None = None) -> list[dict]:
    """The labelled sentences: dicts with ``id``, ``text``, ``section``, ``rules``, ``note``."""
    with open(path or LABELLED_SET, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def evaluate(path: Path | str | None = None) -> dict:
    """Run ``check_text`` on every labelled sentence and count hits per rule.

    Returns ``{"rules": {rule_id: {"tp", "fp", "fn", "precision", "recall"}},
    "overall": {...same keys, micro-averaged...}, "misses": [...],
    "false_alarms": [...], "cases": n}``; each miss or false alarm is a dict
    with ``id``, ``rule``, ``section`` and ``text``. Precision and recall are
    1.0 when their denominator is 0."""
    cases = load_cases(path)
    counts = {rule.id: {"tp": 0, "fp": 0, "fn": 0} for rule in RULES}
    misses: list[dict] = []
    false_alarms: list[dict] = []
    for case in cases:
        expected = set(case["rules"])
        found = {finding.rule for finding in check_text(case["text"], case["section"])}
        for rule_id in counts:
            row = {"id": case["id"], "rule": rule_id, "section": case["section"], "text": case["text"]}
            if rule_id in found and rule_id in expected:
                counts[rule_id]["tp"] += 1
            elif rule_id in found:
                counts[rule_id]["fp"] += 1
                false_alarms.append(row)
            elif rule_id in expected:
                counts[rule_id]["fn"] += 1
                misses.append(row)
    total = {key: sum(c[key] for c in counts.values()) for key in ("tp", "fp", "fn")}
    for c in (*counts.values(), total):
        c["precision"] = _ratio(c["tp"], c["tp"] + c["fp"])
        c["recall"] = _ratio(c["tp"], c["tp"] + c["fn"])
    return {
        "rules": counts,
        "overall": total,
        "misses": misses,
        "false_alarms": false_alarms,
        "cases": len(cases),
    }


def format_report(result: dict, *, verbose: bool = False) -> str:
    lines = [f"{'rule':<16}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>9}"]
    rows = [*result["rules"].items(), ("overall (micro)", result["overall"])]
    for name, c in rows:
        lines.append(
            f"{name:<16}{c['tp']:>5}{c['fp']:>5}{c['fn']:>5}{c['precision']:>11.3f}{c['recall']:>9.3f}"
        )
    lines.append(f"{result['cases']} labelled sentences")
    if verbose:
        for title, key in (
            ("Misses (false negatives)", "misses"),
            ("False alarms (false positives)", "false_alarms"),
        ):
            lines.append(f"\n{title}: {len(result[key])}")
            lines.extend(f"  {r['id']} [{r['rule']}] ({r['section']}) {r['text']}" for r in result[key])
    return "\n".join(lines)


# --- Benchmark ----------------------------------------------------------------------------


def bench_document(target_chars: int = 20_000, path: Path | str | None = None) -> str:
    """A realistic Markdown post-mortem of about ``target_chars`` characters.

    Built from the labelled sentences, mostly negatives (about one in six is a
    positive, as in a draft that needs a few edits), grouped into the four
    sections with headings, list items and a fenced code block per round."""
    cases = load_cases(path)
    negatives = [c["text"] for c in cases if not c["rules"]]
    positives = [c["text"] for c in cases if c["rules"]]
    parts: list[str] = []
    size = n = 0
    while size < target_chars:
        paragraph = []
        for _ in range(5):
            paragraph.append(negatives[n % len(negatives)] if n % 6 else positives[n % len(positives)])
            n += 1
        block = f"## Section {n // 5}\n\n" + " ".join(paragraph) + "\n\n- " + negatives[n % len(negatives)]
        block += "\n\n```\n$ kubectl rollout undo deploy/api  # the on-call should have run this\n```\n\n"
        parts.append(block)
        size += len(block)
    return "".join(parts)[:target_chars]


def _median_ms(text: str, runs: int, **kwargs) -> float:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        check_text(text, **kwargs)
        timings.append((time.perf_counter() - began) * 1000)
    return statistics.median(timings)


def bench(runs: int = 50) -> dict:
    """Median milliseconds of ``check_text`` (all rules) on a ~20 KB document over
    ``runs`` runs, and on a 1 MB document with the default cap and without it."""
    doc = bench_document()
    big = (doc * (1_000_000 // len(doc) + 1))[:1_000_000]
    return {
        "doc_chars": len(doc),
        "doc_findings": len(check_text(doc)),
        "doc_median_ms": _median_ms(doc, runs),
        "big_chars": len(big),
        "big_capped_median_ms": _median_ms(big, 5),
        "big_capped_truncated": check_text(big).truncated,
        "big_full_median_ms": _median_ms(big, 3, max_chars=None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blameless.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="list every miss and false alarm")
    parser.add_argument("--bench", action="store_true", help="time check_text instead of scoring it")
    parser.add_argument("--path", help="another labelled set (JSON lines)")
    args = parser.parse_args(argv)
    if args.bench:
        b = bench()
        print(
            f"~20 KB document ({b['doc_chars']} chars, {b['doc_findings']} findings): "
            f"median {b['doc_median_ms']:.1f} ms over 50 runs (target < 50 ms)"
        )
        print(
            f"1 MB document, default cap (truncated={b['big_capped_truncated']}): "
            f"median {b['big_capped_median_ms']:.1f} ms over 5 runs"
        )
        print(f"1 MB document, max_chars=None: median {b['big_full_median_ms']:.1f} ms over 3 runs")
        return 0
    print(format_report(evaluate(args.path), verbose=args.verbose))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
