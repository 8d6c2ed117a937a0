"""The whole benchmark run (`make bench`): every engine × size, then the report.

Usage, from the repository root::

    .venv/bin/python -m bench.run                    # sizes 1000,10000,100000; SQLite and PostgreSQL
    BENCH_SIZES=1000,10000 .venv/bin/python -m bench.run

Environment: ``BENCH_SIZES`` (comma-separated corpus sizes, default
``1000,10000,100000``), ``BENCH_ENGINES`` (default ``sqlite,postgresql``;
PostgreSQL is skipped with a note when ``pg_isready`` does not answer),
``BENCH_SQLITE_MAX`` (largest size run on SQLite; default: all sizes),
``BENCH_MERGE=1`` (re-run some parts and keep the others from the existing
``bench/results.json``, with a note saying which were measured when),
``BENCH_PG_URL``, ``BENCH_SEED`` and the per-part settings of ``bench.suite``.

Each engine × size runs in its own process (``bench.suite``); the load test
runs at the largest size of each engine, and the import path is profiled
(cProfile) at the smallest. Writes ``bench/results.json`` and
``docs/benchmarks.md`` — never edit those by hand — and exits non-zero when a
part failed (the parts that ran are still reported; when none finished, the
previous files are left as they were).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "results.json"
REPORT = ROOT / "docs" / "benchmarks.md"


def _first_line(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    text = (result.stdout or result.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _postgres_version(url: str) -> str:
    try:
        import psycopg

        parsed = urlparse(url)
        with psycopg.connect(urlunparse(parsed._replace(scheme="postgresql")), connect_timeout=5) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])
    except Exception as exc:  # noqa: BLE001 - a description, never fatal
        return f"unavailable ({type(exc).__name__})"


def machine(pg_url: str) -> dict:
    """The machine and software the run measured (read, never typed by hand)."""
    import sqlite3

    import django
    import gunicorn

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu_model": cpu,
        "cpu_cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "postgresql": _postgres_version(pg_url),
        "sqlite": sqlite3.sqlite_version,
        "ripgrep": _first_line(["rg", "--version"]),
        "wrk": _first_line(["wrk", "-v"]),
        "gunicorn": gunicorn.__version__,
        "load_average_at_start": [round(x, 2) for x in load] if load else None,
    }


def _pg_ready() -> bool:
    if shutil.which("pg_isready") is None:
        return False
    url = urlparse(os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    command = ["pg_isready", "-q", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    return subprocess.run(command, check=False).returncode == 0  # noqa: S603


def report_only() -> int:
    """Re-render ``docs/benchmarks.md`` from the existing ``bench/results.json``."""
    from bench.report import evaluate_targets, render_markdown

    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    results["targets"] = evaluate_targets(results)
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    REPORT.write_text(render_markdown(results), encoding="utf-8")
    print(f"Wrote {REPORT.relative_to(ROOT)} from {RESULTS.relative_to(ROOT)}.")
    return 0


ENGINES = ("sqlite", "postgresql")


def settings(environ: Mapping[str, str] = os.environ) -> tuple[list[int], list[str], int]:
    """``(sizes, engines, sqlite_max)`` from ``BENCH_SIZES``, ``BENCH_ENGINES`` and ``BENCH_SQLITE_MAX``.

    Checked before anything runs, so a mistyped setting cannot replace the last
    results with an empty run.

    Raises:
        SystemExit: with a message naming the setting, for a size that is not a
            positive whole number, an unknown engine, or no size or engine at all.
    """
    raw_sizes = [s.strip() for s in environ.get("BENCH_SIZES", "1000,10000,100000").split(",") if s.strip()]
    if not raw_sizes or not all(s.isdigit() and int(s) > 0 for s in raw_sizes):
        raise SystemExit(
            f"BENCH_SIZES={environ.get('BENCH_SIZES')!r}: give positive whole numbers separated by commas, "
            "e.g. 1000,10000"
        )
    sizes = [int(s) for s in raw_sizes]
    engines = [e.strip() for e in environ.get("BENCH_ENGINES", ",".join(ENGINES)).split(",") if e.strip()]
    unknown = [e for e in engines if e not in ENGINES]
    if not engines or unknown:
        raise SystemExit(
            f"BENCH_ENGINES={environ.get('BENCH_ENGINES')!r}: choose from {', '.join(ENGINES)} "
            f"(unknown: {', '.join(unknown) or 'none given'})"
        )
    raw_max = (environ.get("BENCH_SQLITE_MAX") or "").strip()
    if raw_max and not raw_max.isdigit():
        raise SystemExit(f"BENCH_SQLITE_MAX={raw_max!r}: give a whole number of documents, e.g. 10000")
    return sizes, engines, int(raw_max) if raw_max else max(sizes)


def main() -> int:
    if "--report-only" in sys.argv[1:]:
        return report_only()
    sizes, engines, sqlite_max = settings()
    pg_url = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    notes: list[str] = []
    if "postgresql" in engines and not _pg_ready():
        engines.remove("postgresql")
        notes.append("PostgreSQL did not answer pg_isready: the PostgreSQL runs were skipped.")
    started = time.time()
    results: dict = {
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "make bench  (BENCH_SIZES="
        + ",".join(map(str, sizes))
        + f", BENCH_ENGINES={','.join(engines)}, BENCH_SQLITE_MAX={sqlite_max})",
        "machine": machine(pg_url),
        "config": {
            "sizes": sizes,
            "engines": engines,
            "seed": int(os.environ.get("BENCH_SEED") or 20240601),
            "sqlite_max": sqlite_max,
        },
        "runs": [],
        "failures": [],
        "notes": notes,
    }
    (OUT / "parts").mkdir(parents=True, exist_ok=True)
    for engine in engines:
        engine_sizes = [s for s in sizes if engine != "sqlite" or s <= sqlite_max]
        if engine == "sqlite" and len(engine_sizes) < len(sizes):
            notes.append(f"SQLite ran up to {sqlite_max} documents (BENCH_SQLITE_MAX).")
        for size in engine_sizes:
            part = OUT / "parts" / f"{engine}-{size}.json"
            part.unlink(missing_ok=True)
            command = [
                sys.executable,
                "-m",
                "bench.suite",
                "--engine",
                engine,
                "--size",
                str(size),
                "--out",
                str(part),
            ]
            if size == max(engine_sizes):
                command.append("--throughput")
            if size == min(engine_sizes) and size <= int(os.environ.get("BENCH_IMPORT_MAX") or 1000):
                command.append("--profile-import")
            print(f"== {engine}, {size} post-mortems ==", flush=True)
            began = time.time()
            status = subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603
            if status == 0 and part.exists():
                run = json.loads(part.read_text(encoding="utf-8"))
                run["wall_seconds"] = round(time.time() - began, 1)
                results["runs"].append(run)
            else:
                results["failures"].append({"engine": engine, "size": size, "exit_status": status})
                print(f"!! {engine} {size} failed with exit status {status}", flush=True)
    results["wall_seconds"] = round(time.time() - started, 1)
    if not results["runs"]:
        print(
            f"No part finished ({len(results['failures'])} failed): "
            f"{RESULTS.relative_to(ROOT)} and {REPORT.relative_to(ROOT)} are left as they were.",
            flush=True,
        )
        return 1
    if os.environ.get("BENCH_MERGE") == "1" and RESULTS.exists():
        # Re-running some parts: keep the other parts of the previous run, and say so.
        previous = json.loads(RESULTS.read_text(encoding="utf-8"))
        fresh = {(r["engine"], r["size"]) for r in results["runs"]}
        kept = [r for r in previous.get("runs", []) if (r["engine"], r["size"]) not in fresh]
        if kept:
            results["command"] = f"{previous.get('command')}; then {results['command']} with BENCH_MERGE=1"
            results["runs"] = kept + results["runs"]
            results["notes"] = previous.get("notes", []) + results["notes"]
            results["wall_seconds"] += previous.get("wall_seconds", 0)
            results["notes"].append(
                "Merged run (BENCH_MERGE=1): "
                + ", ".join(
                    f"{r['engine']} {r['size']:,}"
                    for r in results["runs"]
                    if (r["engine"], r["size"]) in fresh
                )
                + f" measured at {results['generated_at']}; "
                + ", ".join(f"{r['engine']} {r['size']:,}" for r in kept)
                + f" kept from the run of {previous.get('generated_at')} (same machine)."
            )
        results["config"]["sizes"] = sorted({r["size"] for r in results["runs"]})
        results["config"]["engines"] = sorted({r["engine"] for r in results["runs"]})
    if os.environ.get("BENCH_KEEP_EXPORT") != "1":
        for directory in OUT.glob("markdown-*"):
            shutil.rmtree(directory, ignore_errors=True)

    from bench.report import evaluate_targets, render_markdown

    results["targets"] = evaluate_targets(results)
    RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n", encoding="utf-8")
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(render_markdown(results), encoding="utf-8")
    print(
        f"Wrote {RESULTS.relative_to(ROOT)} and {REPORT.relative_to(ROOT)} "
        f"in {results['wall_seconds']:.0f} s."
    )
    return 1 if results["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
