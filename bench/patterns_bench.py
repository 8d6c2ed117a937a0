"""Benchmark: pattern detection over 100,000 synthetic post-mortems.

Usage (from the repository root)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kb \\
        .venv/bin/python bench/patterns_bench.py          # throwaway PostgreSQL database
    .venv/bin/python bench/patterns_bench.py              # throwaway SQLite file

Options: ``--postmortems N`` (default 100,000), ``--teams N`` (default 400),
``--years N`` (default 5), ``--runs N`` timed runs per phase (default 3),
``--seed N``.

The database is a fresh one the script migrates itself: a SQLite file in a
temporary directory, or a database ``kb_patterns_bench_<pid>`` on the
PostgreSQL server named by ``DATABASE_URL`` (created and dropped here; the
database in the URL is never touched).

Synthetic data, built with ``bulk_create`` straight into the tables (fast;
the app's write path is not what is measured): post-mortems spread uniformly
over the years and teams; each carries 1–3 contributing factors drawn from the
seeded taxonomy with Zipf-like weights (a few factors are common, most rare);
5 % have no start time; 20 % carry a source URL, and a tenth of those repeat
another post-mortem's URL in a different spelling (the duplicates detection
must count once).

Phases timed, each ``--runs`` times on a fresh set of proposals:

* ``first run``: ``detect_patterns()`` on the empty proposal tables — opens
  every proposal and writes all evidence (proposals are deleted between runs);
* ``re-run``: ``detect_patterns()`` again — nothing new (the idempotent,
  nightly case);
* ``one post-mortem saved``: what the after-save task does — one team, the
  post-mortem's factors, plus organisation-wide;
* ``dry run``: detection without writes.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent


def prepare_database(keep: bool = False) -> str:
    """Point DATABASE_URL at a fresh, throwaway database; returns a label for the report."""
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith(("postgres://", "postgresql://")):
        import psycopg

        parsed = urlparse(url)
        name = f"kb_patterns_bench_{os.getpid()}"
        admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

        def drop() -> None:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')

        if not keep:
            atexit.register(drop)
        os.environ["DATABASE_URL"] = urlunparse(parsed._replace(path=f"/{name}"))
        return f"PostgreSQL (throwaway database {name} on {parsed.hostname}:{parsed.port or 5432})"
    directory = tempfile.mkdtemp(prefix="kb-patterns-bench-")
    atexit.register(shutil.rmtree, directory, True)
    os.environ["DATABASE_URL"] = f"sqlite:///{directory}/bench.sqlite3"
    return f"SQLite (throwaway file in {directory})"


def build(*, postmortems: int, teams: int, years: int, seed: int) -> dict:
    """Create teams and post-mortems with factor links; returns counts for the report."""
    from postmortems.models import ContributingFactor, PostMortem, Team

    rng = random.Random(seed)
    team_rows = Team.objects.bulk_create(
        [Team(slug=f"bench-team-{n:04d}", name=f"Bench team {n}") for n in range(teams)]
    )
    factors = list(ContributingFactor.objects.order_by("pk").values_list("pk", flat=True))
    rng.shuffle(factors)
    weights = [1 / (rank + 1) for rank in range(len(factors))]  # Zipf, s = 1
    start = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    span = dt.timedelta(days=365 * years).total_seconds()
    urls: list[str] = []
    rows = []
    for n in range(postmortems):
        started = None if rng.random() < 0.05 else start + dt.timedelta(seconds=rng.random() * span)
        url = ""
        if rng.random() < 0.20:
            if urls and rng.random() < 0.10:
                # The same write-up, spelled the way another corpus spells it.
                url = "https://web.archive.org/web/2022/http://www." + urls[rng.randrange(len(urls))] + "/"
            else:
                url = f"status.example-{n % 97}.com/incidents/{n}"
                urls.append(url)
                url = "https://" + url
        rows.append(
            PostMortem(
                title=f"Synthetic incident {n}",
                team=team_rows[rng.randrange(teams)],
                status="published",
                started_at=started,
                source_url=url,
                external_id=f"bench-{n}",
            )
        )
    created = PostMortem.objects.bulk_create(rows, batch_size=5_000)
    Link = PostMortem.factors.through
    links = []
    for pm in created:
        for factor_id in set(rng.choices(factors, weights=weights, k=rng.randint(1, 3))):
            links.append(Link(postmortem_id=pm.pk, contributingfactor_id=factor_id))
    Link.objects.bulk_create(links, batch_size=20_000)
    return {"postmortems": len(created), "links": len(links), "teams": teams, "factors": len(factors)}


def backend_cpu_seconds() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (from
    /proc; 0.0 on SQLite or when the server is on another machine)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(function, runs: int, before=None) -> tuple[list[float], list[float], object]:
    """Run ``function`` ``runs`` times; wall seconds and CPU seconds (this process
    plus its database backend — the figure a busy shared machine inflates least)."""
    walls, cpus, result = [], [], None
    for _ in range(runs):
        if before:
            before()
        cpu_before = time.process_time() + backend_cpu_seconds()
        started = time.perf_counter()
        result = function()
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() + backend_cpu_seconds() - cpu_before)
    return walls, cpus, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postmortems", type=int, default=100_000)
    parser.add_argument("--teams", type=int, default=400)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="Print a cProfile of one re-run and exit.")
    parser.add_argument("--keep", action="store_true", help="Keep the PostgreSQL database (for EXPLAIN).")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    label = prepare_database(keep=args.keep)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from patterns.detection import detect_patterns
    from patterns.models import DoDProposal, ProposalEvidence
    from postmortems.models import PostMortem

    call_command("migrate", verbosity=0)
    print(f"Database: {label}")
    print(
        f"Python {platform.python_version()}, Django {django.get_version()}, {os.cpu_count()} CPU(s), "
        f"load average at start {os.getloadavg()[0]:.1f}"
    )
    started = time.perf_counter()
    shape = build(postmortems=args.postmortems, teams=args.teams, years=args.years, seed=args.seed)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"Built {shape['postmortems']:,} post-mortems, {shape['links']:,} factor links, "
        f"{shape['teams']} teams, {args.years} years, {shape['factors']} factors "
        f"in {time.perf_counter() - started:.1f} s"
    )
    print()

    def reset() -> None:
        ProposalEvidence.objects.all().delete()
        DoDProposal.objects.all().delete()

    if args.profile:
        import cProfile
        import pstats

        detect_patterns()
        profiler = cProfile.Profile()
        profiler.runcall(detect_patterns)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        return
    first, first_cpu, report = timed(detect_patterns, args.runs, before=reset)
    opened = report
    again, again_cpu, report = timed(detect_patterns, args.runs)
    assert report.count("opened") == 0 and report.count("extended") == 0, report.summary_line()
    sample = PostMortem.objects.filter(started_at__isnull=False, factors__isnull=False).select_related("team")
    pm = sample.order_by("-started_at").first()
    factor_ids = list(pm.factors.values_list("pk", flat=True))
    one, one_cpu, _ = timed(
        lambda: detect_patterns(team=pm.team, factor_ids=factor_ids, include_org=True), args.runs
    )
    dry, dry_cpu, _ = timed(lambda: detect_patterns(dry_run=True), args.runs)

    print(f"Load average at end {os.getloadavg()[0]:.1f}")
    print(f"First run: {opened.summary_line()}")
    print(f"Proposals: {DoDProposal.objects.count():,}, evidence rows: {ProposalEvidence.objects.count():,}")
    print()
    print(
        f"| detection ({connection.vendor}), {shape['postmortems']:,} post-mortems, {args.teams} teams "
        "| median wall s | median CPU s (app + database) | wall runs (s) |"
    )
    print("|---|---:|---:|---|")
    for name, durations, cpus in (
        ("first run (opens every proposal, writes all evidence)", first, first_cpu),
        ("re-run, nothing new (nightly)", again, again_cpu),
        ("one post-mortem saved (its team + org, its factors)", one, one_cpu),
        ("dry run", dry, dry_cpu),
    ):
        print(
            f"| {name} | {statistics.median(durations):.2f} | {statistics.median(cpus):.2f} | "
            + ", ".join(f"{d:.2f}" for d in durations)
            + " |"
        )


if __name__ == "__main__":
    main()
