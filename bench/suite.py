"""One engine × one corpus size: load, search, pages, throughput; writes a JSON part.

Usage (``bench.run`` calls it once per engine and size, each in its own process
because Django's database settings are fixed at start-up)::

    .venv/bin/python -m bench.suite --engine sqlite --size 1000 --out part.json

The database is always fresh and throwaway: a SQLite file under ``bench/out/``
or a PostgreSQL database ``<prefix>_<size>`` (default prefix ``kb_bench8``)
created on the server of ``BENCH_PG_URL`` (default
``postgres://postgres@127.0.0.1:5432/postgres``) and dropped at the end.

Environment: ``BENCH_SEED``, ``BENCH_IMPORT_MAX`` (largest size loaded through
the import path; default 100000, so every size the issue names is imported the
way ``import_postmortems`` imports; larger corpora are bulk-loaded),
``BENCH_IMPORT_SAMPLE`` (documents imported
through the import path on top of a bulk-loaded corpus; default 2000: four
batches of the bulk path, so one run's fixed costs — name look-ups, the
first batch — do not set the rate, as they did with 200),
``BENCH_ROUNDS`` / ``BENCH_SLOW_ROUNDS`` (timed passes over the 50 queries for
the fast methods / for icontains and ripgrep), ``BENCH_PAGE_ROUNDS``,
``BENCH_THROUGHPUT_SECONDS`` (0 skips the load test), ``BENCH_PORT`` (8018).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
API_LIST = "/api/v1/postmortems/"
# Largest corpus loaded through the import path (issue #8: "imports it through the
# same code path as import_postmortems"); 100,000 takes ~4 minutes an engine.
DEFAULT_IMPORT_MAX = 100_000


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# --- database -------------------------------------------------------------------------------


def prepare_database(engine: str, size: int) -> tuple[str, str, callable]:
    """Create a fresh database for this part; returns ``(url, label, drop)``."""
    prefix = os.environ.get("BENCH_DB_PREFIX", "kb_bench8")
    if engine == "sqlite":
        OUT.mkdir(parents=True, exist_ok=True)
        path = OUT / f"{prefix}_{size}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

        def drop() -> None:
            if os.environ.get("BENCH_KEEP_DB") != "1":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{path}", f"SQLite file {path.relative_to(ROOT)}", drop
    import psycopg

    admin = os.environ.get("BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    parsed = urlparse(admin)
    admin_dsn = urlunparse(parsed._replace(scheme="postgresql"))
    name = f"{prefix}_{size}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        from django.db import connections

        connections.close_all()
        if os.environ.get("BENCH_KEEP_DB") != "1":
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    url = urlunparse(parsed._replace(path=f"/{name}"))
    return url, f"PostgreSQL database {name} on {parsed.hostname}:{parsed.port or 5432}", drop


def configure_environment(database_url: str) -> dict[str, str]:
    """Production settings (``kb.settings``, DEBUG off) for this process and gunicorn.

    The per-user API throttle is raised (``API_USER_RATE``): one benchmark user
    sends far more than the default 6,000 requests an hour. Background tasks
    run in-process (no ``REDIS_URL``), the embedded default.
    """
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "kb.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "bench-only-not-a-secret",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "API_USER_RATE": "100000000/hour",
            "LOG_LEVEL": "WARNING",
        }
    )
    for name in ("DEBUG", "REDIS_URL", "HTTPS"):
        os.environ.pop(name, None)
    return dict(os.environ)


# --- the part -----------------------------------------------------------------------------


class Part:
    """The measurements of one engine and size (see the module docstring)."""

    def __init__(self, engine: str, size: int, seed: int) -> None:
        self.engine = engine
        self.size = size
        self.seed = seed
        self.result: dict = {"engine": engine, "size": size, "seed": seed, "notes": []}

    def log(self, message: str) -> None:
        print(f"[{self.engine} {self.size:>6}] {message}", flush=True)

    # -- load ---------------------------------------------------------------------------

    def load(self, vocabulary) -> None:
        from bench import loader
        from bench.corpus import iter_documents
        from bench.measure import statement_counter

        import_max = _env_int("BENCH_IMPORT_MAX", DEFAULT_IMPORT_MAX)
        self.rows_by_external_id: dict[str, int] = {}

        def recorded(docs):
            for doc in docs:
                self.rows_by_external_id[doc.external_id] = (
                    len(doc.timeline)
                    + len(doc.action_items)
                    + len(doc.declined_changes)
                    + len(doc.fix_prs)
                    + len(doc.services)
                    + len(doc.factors)
                    + len(doc.authors)
                )
                yield doc

        docs = recorded(iter_documents(self.size, seed=self.seed, vocabulary=vocabulary))
        if self.size <= import_max:
            with tempfile.TemporaryDirectory(prefix="kb-bench-md-") as scratch:
                loader.write_markdown(docs, Path(scratch))
                self.log("importing through import_paths (the import_postmortems path)…")
                with statement_counter() as statements:
                    report = loader.import_through_app(Path(scratch))
            self.result["load"] = {
                "method": "import path",
                "detail": "import_paths(create_users=True) on Markdown one-pagers, as import_postmortems",
                "documents": report.created,
                "seconds": round(report.elapsed_seconds, 2),
                "documents_per_second": round(report.records_per_second, 1),
                "statements": statements[0],
                "statements_per_document": round(statements[0] / max(report.created, 1), 3),
            }
        else:
            self.log("bulk loading…")
            with statement_counter() as statements:
                report = loader.bulk_load(docs, progress=self._progress)
            self.result["load"] = {
                "method": "bulk loader",
                "detail": "bench.loader.bulk_load: bulk_create of the same rows and search text, "
                "1,000 documents a transaction; FTS5 triggers / tsvector + GIN maintained on insert",
                "documents": report.documents,
                "rows": report.rows,
                "seconds": round(report.seconds, 2),
                "documents_per_second": round(report.documents_per_second, 1),
                "statements": statements[0],
                "statements_per_document": round(statements[0] / max(report.documents, 1), 3),
            }
        started = time.perf_counter()
        loader.analyze()
        self.result["load"]["analyze_seconds"] = round(time.perf_counter() - started, 2)
        self.log(f"loaded: {self.result['load']}")

    def _progress(self, done: int) -> None:
        if done % 10_000 == 0:
            self.log(f"  {done} documents")

    # -- Markdown export for ripgrep -------------------------------------------------------

    def export(self, fingerprint: str) -> Path:
        from bench.loader import export_markdown
        from postmortems.models import PostMortem

        ids = PostMortem.objects.order_by("pk").values_list("pk", flat=True)
        marker_text = f"{self.size} {self.seed} {fingerprint} {ids.first()} {ids.last()} {ids.count()}"
        directory = OUT / f"markdown-{self.size}"
        marker = directory / ".corpus"
        if marker.exists() and marker.read_text() == marker_text:
            self.log(f"reusing the Markdown export in {directory.relative_to(ROOT)}")
            self.result["export"] = {"reused": True, "files": ids.count()}
            return directory
        shutil.rmtree(directory, ignore_errors=True)
        started = time.perf_counter()
        files = export_markdown(directory)
        seconds = time.perf_counter() - started
        size = sum(p.stat().st_size for p in directory.glob("*.md"))
        marker.write_text(marker_text)
        self.result["export"] = {
            "reused": False,
            "files": files,
            "megabytes": round(size / 1e6, 1),
            "seconds": round(seconds, 1),
        }
        self.log(f"exported {files} Markdown files ({size / 1e6:.0f} MB) in {seconds:.0f} s")
        return directory

    # -- clients ---------------------------------------------------------------------------

    def clients(self):
        from django.contrib.auth import get_user_model
        from django.test import Client
        from rest_framework.authtoken.models import Token

        user, _ = get_user_model().objects.get_or_create(username="bench-reader")
        self.user = user
        self.token = Token.objects.get_or_create(user=user)[0].key
        api = Client(headers={"authorization": f"Token {self.token}"})
        web = Client()
        web.force_login(user)
        self.cookie = f"sessionid={web.cookies['sessionid'].value}"
        return api, web

    # -- search ----------------------------------------------------------------------------

    def search(self, api, markdown_dir: Path) -> None:
        from bench.measure import summary, timed
        from bench.queries import QUERIES, icontains_top, raw_sql_top, ripgrep_files

        rounds = _env_int("BENCH_ROUNDS", 5)
        slow_rounds = min(rounds, _env_int("BENCH_SLOW_ROUNDS", 3 if self.size >= 100_000 else rounds))
        rg = shutil.which("rg")
        methods = ["api", "raw_sql", "icontains"] + (["ripgrep"] if rg else [])
        if not rg:
            self.result["notes"].append("ripgrep (rg) is not installed: the ripgrep comparison was skipped.")
        samples: dict[str, list[float]] = {m: [] for m in methods}
        per_query = {q: {"query": q, "kind": kind, "ms": {m: [] for m in methods}} for q, kind in QUERIES}

        def call_api(q: str):
            response = api.get(API_LIST, {"q": q})
            if response.status_code != 200:
                raise RuntimeError(f"API search {q!r} answered {response.status_code}")
            return response

        # Warm-up: caches, the page cache under the Markdown folder, connections.
        for q, _ in QUERIES:
            call_api(q)
            raw_sql_top(q)
        icontains_top(QUERIES[0][0])
        if rg:
            ripgrep_files(QUERIES[0][0], markdown_dir, rg=rg)
        # Time-boxed: a method stops taking further rounds once it has used its
        # budget (the first round always runs), so a slow method cannot stall the run.
        budget = _env_int("BENCH_SEARCH_BUDGET", 240)
        spent = dict.fromkeys(methods, 0.0)
        self.log(f"search: up to {rounds} rounds (icontains/ripgrep {slow_rounds}) × {len(QUERIES)} queries…")
        for round_number in range(rounds):
            active = {
                m
                for m in methods
                if round_number == 0
                or (
                    spent[m] / 1000 < budget
                    and round_number < (slow_rounds if m in ("icontains", "ripgrep") else rounds)
                )
            }
            if not active:
                break
            for q, _kind in QUERIES:
                entry = per_query[q]
                # Whichever of the API and raw SQL runs second finds the pages the
                # first one read in the buffer cache (icontains and ripgrep, run
                # between queries, push them out): take turns, round by round.
                firsts = ("api", "raw_sql") if round_number % 2 == 0 else ("raw_sql", "api")
                for method in firsts:
                    if method == "api" and "api" in active:
                        ms, response = timed(lambda q=q: call_api(q))
                        entry["ms"]["api"].append(ms)
                        spent["api"] += ms
                    if method == "raw_sql" and "raw_sql" in active:
                        ms, raw_ids = timed(lambda q=q: raw_sql_top(q))
                        entry["ms"]["raw_sql"].append(ms)
                        spent["raw_sql"] += ms
                if round_number == 0:
                    body = response.json()
                    entry["api_count"] = body["count"]
                    entry["api_top"] = [row["id"] for row in body["results"]]
                    entry["raw_sql_top"] = raw_ids
                    entry["same_top_results"] = entry["api_top"] == raw_ids
                if "icontains" in active:
                    ms, naive = timed(lambda q=q: icontains_top(q))
                    entry["ms"]["icontains"].append(ms)
                    spent["icontains"] += ms
                    if round_number == 0:
                        entry["icontains_first_page"] = len(naive)
                if "ripgrep" in active:
                    ms, files = timed(lambda q=q: ripgrep_files(q, markdown_dir, rg=rg))
                    entry["ms"]["ripgrep"].append(ms)
                    spent["ripgrep"] += ms
                    if round_number == 0:
                        entry["ripgrep_files"] = len(files)
            self.log(f"  round {round_number + 1}: {', '.join(sorted(active))}")
        for entry in per_query.values():
            for method, values in entry["ms"].items():
                samples[method].extend(values)
            entry["p50_ms"] = {m: summary(v)["p50"] for m, v in entry["ms"].items()}
            del entry["ms"]
        methods_summary = {m: summary(v) for m, v in samples.items()}
        api_summary = methods_summary["api"]
        ratios = {
            m: {
                "p50": round(s["p50"] / api_summary["p50"], 2) if api_summary["p50"] else None,
                "p95": round(s["p95"] / api_summary["p95"], 2) if api_summary["p95"] else None,
            }
            for m, s in methods_summary.items()
        }
        disagreements = [e["query"] for e in per_query.values() if not e["same_top_results"]]
        self.result["search"] = {
            "queries": len(QUERIES),
            "rounds": rounds,
            "slow_rounds": slow_rounds,
            "api_via": "Django test Client, in-process, Authorization: Token (no socket)",
            "methods": methods_summary,
            "ratio_to_api": ratios,
            "top_results_disagree": disagreements,
            "per_query": list(per_query.values()),
        }
        self.log(f"search: {json.dumps(methods_summary)}")

    # -- pages and query counts ---------------------------------------------------------------

    def pages(self, api, web) -> None:
        from django.db.models import Count

        from bench.measure import count_queries, summary, timed
        from postmortems.models import PostMortem

        ordered = sorted(self.rows_by_external_id.items(), key=lambda kv: (kv[1], kv[0]))
        rich_ext, rich_rows = ordered[-1]
        rich = PostMortem.objects.get(external_id=rich_ext).pk
        # Query counts vary one thing at a time: the document's own rows (timeline,
        # action items, declined changes, PRs) at one contributing factor, then factors.
        with_rows = PostMortem.objects.annotate(
            n_factors=Count("factors", distinct=True),
            n_rows=Count("timeline", distinct=True)
            + Count("action_items", distinct=True)
            + Count("declined_changes", distinct=True)
            + Count("fix_prs", distinct=True),
        )
        ids = PostMortem.objects.order_by("pk").values_list("pk", flat=True)
        window = list(ids[:2000])  # enough variety, bounded cost at 100k
        # One status: some panels check a permission for some statuses only (one query).
        sample = with_rows.filter(pk__in=window, status=PostMortem.Status.PUBLISHED)
        one_factor = sample.filter(n_factors=1).order_by("n_rows", "pk")
        lean_doc, rich_doc = one_factor.first(), one_factor.last()
        by_factors = sample.order_by("n_factors", "pk")
        few_doc, many_doc = by_factors.first(), by_factors.last()
        targets = {
            "web list (/postmortems/)": lambda: web.get("/postmortems/"),
            f"web one-page view (PM-{rich}, {rich_rows} related rows)": lambda: web.get(
                f"/postmortems/PM-{rich}/"
            ),
            "API list (?page_size=50)": lambda: api.get(API_LIST, {"page_size": 50}),
            f"API one post-mortem ({rich_rows} related rows)": lambda: api.get(f"{API_LIST}{rich}/"),
            # Lists across every document's rows (session 10: 651 and 334 ms at 100k before).
            "API action items (?status=open)": lambda: api.get("/api/v1/action-items/", {"status": "open"}),
            "API contributing factors (with counts)": lambda: api.get("/api/v1/factors/"),
        }
        rounds = _env_int("BENCH_PAGE_ROUNDS", 30)
        samples: dict[str, list[float]] = {name: [] for name in targets}
        for name, call in targets.items():  # warm-up
            response = call()
            if response.status_code != 200:
                raise RuntimeError(f"{name} answered {response.status_code}")
        budget = _env_int("BENCH_PAGE_BUDGET", 60) * 1000  # ms per request kind; 3 samples at least
        for round_number in range(rounds):
            for name, call in targets.items():
                if round_number < 3 or sum(samples[name]) < budget:
                    samples[name].append(timed(call)[0])

        def queries(call) -> int:
            n, response = count_queries(call)
            if response.status_code != 200:
                raise RuntimeError(f"query count: status {response.status_code}")
            return n

        counts = {
            "API list": {
                f"page_size={n}": queries(lambda n=n: api.get(API_LIST, {"page_size": n}))
                for n in (10, 50, 100)
            },
            "API search (?q=outage)": {
                f"page_size={n}": queries(lambda n=n: api.get(API_LIST, {"q": "outage", "page_size": n}))
                for n in (10, 50, 100)
            },
            "web list": {
                f"page {p}": queries(lambda p=p: web.get("/postmortems/", {"page": p})) for p in (1, 2, 3)
            },
            "web one-page view, by the document's rows": {
                f"{d.n_rows} rows": queries(lambda d=d: web.get(f"/postmortems/PM-{d.pk}/"))
                for d in (lean_doc, rich_doc)
            },
            "web one-page view, by contributing factors": {
                f"{d.n_factors} factors": queries(lambda d=d: web.get(f"/postmortems/PM-{d.pk}/"))
                for d in (few_doc, many_doc)
            },
            "API one post-mortem, by the document's rows": {
                f"{d.n_rows} rows": queries(lambda d=d: api.get(f"{API_LIST}{d.pk}/"))
                for d in (lean_doc, rich_doc)
            },
            "API one post-mortem, by contributing factors": {
                f"{d.n_factors} factors": queries(lambda d=d: api.get(f"{API_LIST}{d.pk}/"))
                for d in (few_doc, many_doc)
            },
        }
        self.result["pages"] = {
            "rounds": rounds,
            "via": "Django test Client, in-process (session for pages, token for the API)",
            "latency": {name: summary(values) for name, values in samples.items()},
            "query_counts": counts,
            "query_counts_constant": {
                name: len(set(values.values())) == 1 for name, values in counts.items()
            },
        }
        self.log(f"pages: {json.dumps(self.result['pages']['latency'])}")
        self.log(f"query counts: {json.dumps(counts)}")

    # -- throughput ----------------------------------------------------------------------------

    def throughput(self, env: dict[str, str], vocabulary) -> None:
        from bench.corpus import generate
        from bench.queries import QUERIES
        from bench.throughput import run_load
        from postmortems.models import PostMortem, Team

        seconds = _env_int("BENCH_THROUGHPUT_SECONDS", 30)
        port = _env_int("BENCH_PORT", 8018)
        samples = generate(20, seed=self.seed + 1, vocabulary=vocabulary)
        slugs = {team.name: team.slug for team in Team.objects.all()}
        bodies = []
        for doc in samples:
            bodies.append(
                json.dumps(
                    {
                        "title": doc.title,
                        "team": slugs.get(doc.team) or next(iter(slugs.values())),
                        "severity": doc.severity,
                        "what_happened": doc.what_happened,
                        "why_it_happened": doc.why_it_happened,
                        "what_we_change": doc.what_we_change,
                        "factors": doc.factors,
                        "timeline": [{"at": r.at.isoformat(), "text": r.text} for r in doc.timeline[:3]],
                        "action_items": [
                            {
                                "text": r.text,
                                "owner": r.owner,
                                "due_date": r.due_date.isoformat(),
                                "kind": r.kind,
                            }
                            for r in doc.action_items[:3]
                        ],
                    }
                )
            )
        ids = list(PostMortem.objects.order_by("?").values_list("pk", flat=True)[:500])
        before = PostMortem.objects.count()
        from django.db import connections

        connections.close_all()  # SQLite: let the server's workers have the file
        self.log(f"throughput: gunicorn 2 workers + wrk for {seconds} s on 127.0.0.1:{port}…")
        result = run_load(
            env=env,
            port=port,
            token=self.token,
            cookie=self.cookie,
            queries=[q for q, _ in QUERIES],
            ids=ids,
            bodies=bodies,
            seconds=seconds,
        )
        created = PostMortem.objects.count() - before
        result["created_postmortems"] = created
        result["writes_accepted"] = result["statuses"].get("201", 0)
        # A POST still in flight when wrk stops may land without being counted.
        if created < result["writes_accepted"]:
            self.result["notes"].append(
                f"throughput: {result['writes_accepted']} creates got 201 but {created} documents appeared"
            )
        self.result["throughput"] = result
        self.log(
            f"throughput: {result['requests_per_second']} req/s, p99 {result['latency_ms']['p99']} ms, "
            f"errors {result['error_total']}, statuses {result['statuses']}"
        )

    # -- the import path at scale, profiled ------------------------------------------------------

    def import_sample(self, vocabulary, *, profile: bool) -> None:
        from bench import loader
        from bench.corpus import generate
        from bench.measure import statement_counter

        count = _env_int("BENCH_IMPORT_SAMPLE", 2000)
        if count <= 0:
            return
        docs = generate(count, seed=self.seed, vocabulary=vocabulary, start=self.size + 10_000_000)
        with tempfile.TemporaryDirectory(prefix="kb-bench-md-") as scratch:
            loader.write_markdown(docs, Path(scratch))
            profiler = cProfile.Profile() if profile else None
            with statement_counter() as statements:
                if profiler:
                    profiler.enable()
                report = loader.import_through_app(Path(scratch))
                if profiler:
                    profiler.disable()
        entry = {
            "documents": report.created,
            "on_top_of": self.size,
            "seconds": round(report.elapsed_seconds, 2),
            "documents_per_second": round(report.records_per_second, 1),
            "statements": statements[0],
            "statements_per_document": round(statements[0] / max(report.created, 1), 3),
            "profiled": profile,
        }
        if profiler:
            entry["note"] = "timed under cProfile: slower than without; read the shares, not the rate"
            entry["profile"] = _profile_top(profiler, report.elapsed_seconds)
        self.result["import_sample"] = entry
        self.log(f"import sample: {entry['documents_per_second']} documents/s on top of {self.size}")


def _profile_top(profiler: cProfile.Profile, total: float, limit: int = 16) -> list[dict]:
    """The project's functions (and the database driver) with the largest cumulative time."""
    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, function), (_cc, calls, _tt, cumulative, _callers) in stats.stats.items():
        if "/bench/" in filename:
            continue  # the harness itself
        if "/work/" in filename and "/.venv/" not in filename:
            where = (
                str(Path(filename).resolve().relative_to(ROOT))
                if filename.startswith(str(ROOT))
                else filename
            )
        elif "sqlite3/base.py" in filename or ("psycopg" in filename and function == "wait"):
            where = filename.rsplit("/site-packages/", 1)[-1]
        else:
            continue
        rows.append(
            {"function": f"{where}:{line} {function}", "calls": calls, "cumulative_share": cumulative / total}
        )
    rows.sort(key=lambda r: -r["cumulative_share"])
    for row in rows:
        row["cumulative_share"] = round(row["cumulative_share"], 3)
    return rows[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--throughput", action="store_true", help="also run the 30-second load test")
    parser.add_argument("--profile-import", action="store_true", help="profile the import sample")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    seed = _env_int("BENCH_SEED", 20240601)
    url, label, drop = prepare_database(args.engine, args.size)
    env = configure_environment(url)
    import django

    django.setup()
    from django.core.management import call_command

    from bench.vocabulary import load_vocabulary

    part = Part(args.engine, args.size, seed)
    part.result["database"] = label
    try:
        call_command("migrate", verbosity=0)
        vocabulary = load_vocabulary()
        part.result["vocabulary"] = vocabulary.source
        part.load(vocabulary)
        markdown_dir = part.export(vocabulary.fingerprint)
        api, web = part.clients()
        part.search(api, markdown_dir)
        part.pages(api, web)
        if args.throughput and _env_int("BENCH_THROUGHPUT_SECONDS", 30) > 0:
            part.throughput(env, vocabulary)
        if args.size > _env_int("BENCH_IMPORT_MAX", DEFAULT_IMPORT_MAX) or args.profile_import:
            part.import_sample(vocabulary, profile=args.profile_import)
    finally:
        drop()
    Path(args.out).write_text(json.dumps(part.result, indent=1, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
