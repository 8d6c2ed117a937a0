"""Benchmark: import the public post-mortem corpus, then time searches over it.

Usage (from the repository root)::

    .venv/bin/python bench/import_search.py                      # throwaway SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kb \\
        .venv/bin/python bench/import_search.py                  # throwaway PostgreSQL database

Options: ``--corpus DIR`` (default ``../shared/data/postmortems`` or
``$KB_CORPUS_DIR``), ``--runs N`` full imports (default 3), ``--repeat N`` runs
per query (default 20).

The database is always a fresh one that the script migrates itself: a SQLite
file in a temporary directory, or — when ``DATABASE_URL`` names a PostgreSQL
server — a database ``kb_bench_<pid>`` created on that server and dropped at
the end (the database named in the URL is never touched). Each import run
starts from an empty database (post-mortems and teams deleted), so every run
is the "created 788" path; one extra re-import shows the "unchanged" path.
Search timings are for the first page (20 results) of
``search.search_postmortems`` and, separately, ``attach_snippets`` on it.
"""

from __future__ import annotations

import argparse
import atexit
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "leap second",
    "BGP",
    "DNS",
    "expired certificate",
    "power outage",
    "configuration change rollback",
    '"load balancer"',
    "database migration",
    "memory leak or disk full",
    "network -azure",
]


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``samples`` (``fraction`` in 0..1)."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def prepare_database() -> str:
    """Point DATABASE_URL at a fresh, throwaway database; returns a label for the report."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parsed = urlparse(url)
        name = f"kb_bench_{os.getpid()}"
        admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

        atexit.register(drop)
        os.environ["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))
        return f"PostgreSQL (throwaway database {name} on {parsed.hostname}:{parsed.port or 5432})"
    directory = tempfile.mkdtemp(prefix="kb-bench-")
    atexit.register(shutil.rmtree, directory, True)
    os.environ["DATABASE_URL"] = f"sqlite:///{directory}/bench.sqlite3"
    return f"SQLite (throwaway file in {directory})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        default=os.environ.get("KB_CORPUS_DIR") or str(ROOT.parent / "shared" / "data" / "postmortems"),
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    corpus = Path(args.corpus)
    if not corpus.is_dir():
        sys.exit(f"Corpus directory not found: {corpus}")

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    label = prepare_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from postmortems.exchange.importer import import_paths
    from postmortems.models import PostMortem, Service, Team
    from postmortems.search import attach_snippets, search_postmortems

    call_command("migrate", verbosity=0)
    print(f"Database: {label}")
    print(
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{os.cpu_count()} CPU(s), corpus {corpus}"
    )
    print()

    durations: list[float] = []
    records = 0
    for run in range(1, args.runs + 1):
        PostMortem.objects.all().delete()
        Service.objects.all().delete()
        Team.objects.all().delete()
        started = time.perf_counter()
        report = import_paths([corpus], progress=False)
        durations.append(time.perf_counter() - started)
        records = report.created
        if report.bad or report.updated or report.unchanged:
            sys.exit(f"Run {run}: unexpected result: {report.summary_line()}")
        print(f"import run {run}: {report.summary_line()}")
    started = time.perf_counter()
    again = import_paths([corpus], progress=False)
    reimport = time.perf_counter() - started
    print(f"re-import:    {again.summary_line()}")
    median = statistics.median(durations)
    print()
    print("| import | records | median s | records/s | runs (s) |")
    print("|---|---:|---:|---:|---|")
    print(
        f"| full, empty database | {records} | {median:.2f} | {records / median:.0f} | "
        + ", ".join(f"{d:.2f}" for d in durations)
        + " |"
    )
    rate = again.unchanged / reimport
    print(f"| re-import, unchanged | {again.unchanged} | {reimport:.2f} | {rate:.0f} | 1 run |")
    print()

    everything = PostMortem.objects.all()
    print(f"| query ({connection.vendor}) | hits | page p50 ms | page p95 ms | +snippets p50 ms |")
    print("|---|---:|---:|---:|---:|")
    for query in QUERIES:
        hits = search_postmortems(everything, query).count()
        list(search_postmortems(everything, query)[:20])  # warm caches once
        page_ms: list[float] = []
        snippet_ms: list[float] = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            page = list(search_postmortems(everything, query)[:20])
            page_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            attach_snippets(page, query)
            snippet_ms.append((time.perf_counter() - started) * 1000)
        print(
            f"| `{query}` | {hits} | {percentile(page_ms, 0.5):.1f} | {percentile(page_ms, 0.95):.1f} "
            f"| {percentile(snippet_ms, 0.5):.1f} |"
        )


if __name__ == "__main__":
    main()
