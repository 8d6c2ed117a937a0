"""Benchmark: the insights pages over 100,000 post-mortems on PostgreSQL.

Usage (from the repository root; PostgreSQL must answer)::

    .venv/bin/python bench/insights_bench.py                  # 100,000 post-mortems
    .venv/bin/python bench/insights_bench.py --postmortems 20000 --repeat 5 --keep

It (re)creates the database ``kb_insights_bench`` on the server of
``INSIGHTS_BENCH_URL`` (default ``postgres://postgres@127.0.0.1:5432/kb_insights_bench``;
no other database is touched), migrates it, and fills it with synthetic rows
with ``bulk_create`` (a benchmark of the reads, not of the write path): 20
teams, 60 services, the 27 seeded contributing factors, N post-mortems
started over the last 12 months (so the default range covers all of them),
each with one or two services and factors, three action items and realistic
skewed durations. Then it renders, through Django's test client as a signed-in
user with DEBUG off, the organisation page, a team page, "my work" and the API,
``--repeat`` times each, and prints the first (cold) and the median (p50), 95th
percentile and worst of the others, in three settings:

1. *cold compute*: every request computes its figures (no cache, no snapshot) —
   what the first reader after a restriction, or any reader of another range,
   waits for;
2. *kept*: the first request computes and keeps them (``INSIGHTS_CACHE_SECONDS``);
3. *fresh snapshot*: the figures were precomputed by the background task
   (``insights.snapshots``, what readers of the default organisation page get),
   with the task's own duration (both shared audiences) measured first.

The target is the organisation page under 500 ms. The database is dropped at
the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/kb_insights_bench"


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name.startswith("kb_insights_bench"):
        sys.exit(f"Refusing to recreate {name!r}: the benchmark database must be named kb_insights_bench*.")
    admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    parsed = urlparse(url)
    admin = urlunparse(parsed._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}"')


def build(n: int, seed: int = 7) -> dict:
    """Synthetic organisation; returns counts."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from postmortems.models import ActionItem, ContributingFactor, PostMortem, Service, Team, TeamMembership

    rng = random.Random(seed)
    user_model = get_user_model()
    teams = Team.objects.bulk_create([Team(slug=f"team-{i:02d}", name=f"Team {i:02d}") for i in range(20)])
    users = user_model.objects.bulk_create(
        [user_model(username=f"person{i:03d}", email=f"person{i:03d}@example.com") for i in range(100)]
    )
    TeamMembership.objects.bulk_create(
        [TeamMembership(team=teams[i % 20], user=u) for i, u in enumerate(users)]
    )
    services = Service.objects.bulk_create(
        [Service(slug=f"service-{i:02d}", name=f"Service {i:02d}", team=teams[i % 20]) for i in range(60)]
    )
    factors = list(ContributingFactor.objects.all())
    now = timezone.now()
    severities = ["SEV1"] * 5 + ["SEV2"] * 20 + ["SEV3"] * 45 + ["SEV4"] * 25 + [""] * 5
    statuses = ["draft"] * 15 + ["in_review"] * 10 + ["reviewed"] * 25 + ["published"] * 50
    item_statuses = ["open"] * 20 + ["in_progress"] * 10 + ["done"] * 65 + ["not_doing"] * 5

    batch = 10_000
    made = {"postmortems": 0, "action_items": 0, "service_links": 0, "factor_links": 0}
    for first in range(0, n, batch):
        rows = []
        for _ in range(min(batch, n - first)):
            team = rng.randrange(20)
            started = now - dt.timedelta(days=rng.uniform(0.5, 360))
            detect = rng.lognormvariate(2.5, 1.0)  # minutes, median ~12
            mitigate = detect + rng.lognormvariate(3.5, 1.0)
            resolve = mitigate + rng.lognormvariate(4.5, 1.2)
            unresolved = rng.random() < 0.05
            rows.append(
                PostMortem(
                    title="Synthetic incident",
                    team=teams[team],
                    severity=rng.choice(severities),
                    status=rng.choice(statuses),
                    started_at=started,
                    detected_at=started + dt.timedelta(minutes=detect),
                    mitigated_at=None if unresolved else started + dt.timedelta(minutes=mitigate),
                    resolved_at=None if unresolved else started + dt.timedelta(minutes=resolve),
                    facilitator=users[team * 5 + rng.randrange(5)],
                )
            )
        pms = PostMortem.objects.bulk_create(rows, batch_size=5_000)
        service_links, factor_links, items = [], [], []
        for pm in pms:
            team = int(pm.team.slug[-2:])
            for service in rng.sample(services[team::20], rng.choice((1, 1, 2))):
                service_links.append(PostMortem.services.through(postmortem_id=pm.pk, service_id=service.pk))
            for factor in rng.sample(factors, rng.choice((1, 2, 2, 3))):
                factor_links.append(
                    PostMortem.factors.through(postmortem_id=pm.pk, contributingfactor_id=factor.pk)
                )
            for _ in range(3):
                status = rng.choice(item_statuses)
                due = (pm.started_at + dt.timedelta(days=rng.randint(7, 60))).date()
                done_at = pm.started_at + dt.timedelta(days=rng.uniform(1, 80)) if status == "done" else None
                items.append(
                    ActionItem(
                        postmortem=pm,
                        text="Synthetic action",
                        owner=users[team * 5 + rng.randrange(5)],
                        due_date=due,
                        status=status,
                        completed_at=min(done_at, now) if done_at else None,
                        not_doing_reason="Synthetic reason." if status == "not_doing" else "",
                    )
                )
        PostMortem.services.through.objects.bulk_create(service_links, batch_size=10_000)
        PostMortem.factors.through.objects.bulk_create(factor_links, batch_size=10_000)
        ActionItem.objects.bulk_create(items, batch_size=10_000)
        made["postmortems"] += len(pms)
        made["action_items"] += len(items)
        made["service_links"] += len(service_links)
        made["factor_links"] += len(factor_links)
        print(f"  built {made['postmortems']:,} post-mortems", flush=True)
    # created_at is auto_now_add (the build time): spread it like real data, before the start.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE postmortems_actionitem SET created_at = p.started_at + interval '1 day' "
            "FROM postmortems_postmortem p WHERE p.id = postmortems_actionitem.postmortem_id"
        )
        cursor.execute(
            "UPDATE postmortems_postmortem SET created_at = started_at, updated_at = started_at + "
            "interval '6 days' WHERE status IN ('reviewed', 'published')"
        )
        cursor.execute("ANALYZE")
    return made


def timed(client, url: str, repeat: int) -> tuple[float, list[float]]:
    samples = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        response = client.get(url)
        elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, (url, response.status_code)
        samples.append(elapsed)
    return samples[0], samples[1:]


def p95(samples: list[float]) -> float:
    """95th percentile (inclusive method; the worst sample when there are few)."""
    return statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else samples[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postmortems", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the database (and reuse it with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept database instead of building")
    args = parser.parse_args()

    url = os.environ.get("INSIGHTS_BENCH_URL", DEFAULT_URL)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key")
    os.environ["DEBUG"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb.settings")
    sys.path.insert(0, str(ROOT))
    if not args.reuse:
        recreate_database(url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from postmortems.models import ActionItem, PostMortem

    if not args.reuse:
        print(f"Migrating {urlparse(url).path.lstrip('/')} …", flush=True)
        call_command("migrate", verbosity=0)
        start = time.perf_counter()
        made = build(args.postmortems)
        print(f"Built {made} in {time.perf_counter() - start:.1f} s", flush=True)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="person000")
    client = Client()
    client.force_login(user)
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import override_settings

    # Calibration: how fast this machine scans right now (a bare count of 300,000 rows
    # takes ~15-25 ms on an idle modern core), to read the figures below against.
    samples = []
    with connection.cursor() as cursor:
        for _ in range(5):
            start = time.perf_counter()
            cursor.execute("SELECT count(*) FROM postmortems_actionitem")
            cursor.fetchone()
            samples.append((time.perf_counter() - start) * 1000)
    print(
        f"\nCalibration: SELECT count(*) over the action items, median {statistics.median(samples):.0f} ms."
    )
    load = os.getloadavg()
    print(
        f"\nInsights over {PostMortem.objects.count():,} post-mortems and "
        f"{ActionItem.objects.count():,} action items (PostgreSQL), {args.repeat} warm runs each; "
        f"load average {load[0]:.1f} on {os.cpu_count()} CPUs:"
    )
    pages = (
        ("organisation page /insights/", "/insights/"),
        ("team page /insights/teams/team-03/", "/insights/teams/team-03/"),
        ("my work /insights/me/", "/insights/me/"),
        ("API /api/v1/insights/", "/api/v1/insights/"),
        ("API, one team", "/api/v1/insights/?team=team-03"),
    )
    from insights import snapshots
    from insights.models import FiguresSnapshot

    def run(label: str, page: str, key) -> None:
        cold, warm = timed(client, page, args.repeat)
        results[key] = (statistics.median(warm), p95(warm))
        print(
            f"    {label:36s} first {cold:7.0f} ms   p50 {statistics.median(warm):6.0f} ms   "
            f"p95 {p95(warm):6.0f} ms   worst {max(warm):6.0f} ms"
        )

    results = {}
    FiguresSnapshot.objects.all().delete()
    for seconds, title in (
        (0, "COLD COMPUTE: computed on every request (INSIGHTS_CACHE_SECONDS=0, no snapshot)"),
        (300, "kept for INSIGHTS_CACHE_SECONDS=300 (the first request computes and keeps them)"),
    ):
        print(f"  {title}:")
        cache.clear()
        with override_settings(INSIGHTS_CACHE_SECONDS=seconds, INSIGHTS_SNAPSHOT_SECONDS=0):
            for label, page in pages:
                run(label, page, (seconds, label))

    print("  FRESH SNAPSHOT: precomputed by the insights.refresh_snapshots task (no cache):")
    cache.clear()
    with override_settings(INSIGHTS_CACHE_SECONDS=0, INSIGHTS_SNAPSHOT_SECONDS=300):
        durations = []
        for _ in range(3):
            outcome = snapshots.refresh()
            assert outcome.stored and not outcome.skipped, outcome
            durations.append(outcome.duration_ms)
        print(
            f"    snapshot task (organisation + admins audiences): runs {durations} ms, "
            f"median {statistics.median(durations):.0f} ms"
        )
        for label, page in pages[:1] + pages[3:4]:
            run(label, page, ("snapshot", label))
    org = "organisation page /insights/"
    (computed, computed95), (kept, _), (snap, snap95) = (
        results[(0, org)],
        results[(300, org)],
        results[("snapshot", org)],
    )
    print(
        f"\nOrganisation page (target 500 ms): cold compute p50 {computed:.0f} ms / p95 {computed95:.0f} ms; "
        f"kept p50 {kept:.0f} ms; fresh snapshot p50 {snap:.0f} ms / p95 {snap95:.0f} ms; "
        f"snapshot task {statistics.median(durations) / 1000:.1f} s every 5 minutes; "
        f"load average now {os.getloadavg()[0]:.1f}."
    )
    if not args.keep:
        drop_database(url)


if __name__ == "__main__":
    main()
