"""Where an API search request's time goes: its SQL statements by kind, and the Python around them.

``make bench`` reports the API's search latency next to the raw-SQL floor; this
says what the difference is made of, so that it can be checked rather than
taken from a note. It runs the benchmark's 50 queries (``bench.queries``)
through the API as the suite does (Django's test ``Client``, a token), times
every SQL statement the request sends (``connection.execute_wrapper``, which
does not capture the text of statements nobody asked about), and reports per
kind of statement — authentication, the candidate plan's ``EXPLAIN``, the
ranking, the page, the two prefetches, the snippets — the number per request
and its time. "Python" is the request's wall time less the time spent in its
statements: Django, DRF, django-filter and the app's own code, with result
rows turned into Python objects.

For comparison it also times, in the same rounds, the raw-SQL floor of each
query (``bench.queries.raw_sql_top``, as the suite does) and an authenticated
API list of teams (``/api/v1/teams/``): the least an authenticated DRF
request costs through the same stack.

Usage, against a database that already holds a corpus (for example one kept
with ``BENCH_KEEP_DB=1`` by ``bench.suite``)::

    .venv/bin/python -m bench.breakdown --database-url postgres://postgres@127.0.0.1:5432/kb_bench8_100000

It reads and writes nothing but the reader ``bench-reader`` and its API token
(created if missing, as the suite does).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable

from bench.measure import summary, timed

API_LIST = "/api/v1/postmortems/"
BASELINE = "/api/v1/teams/"

# (kind, test on the statement's text), first match wins. The texts are the
# app's own statements (postmortems/search.py, selectors.postmortem_list).
_KINDS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("authentication", lambda sql: '"authtoken_token"' in sql),
    ("plan (EXPLAIN)", lambda sql: sql.lstrip().upper().startswith("EXPLAIN")),
    ("snippets", lambda sql: "ts_headline(" in sql or "snippet(" in sql),
    ("ranking", lambda sql: "ts_rank_cd(" in sql),
    ("prefetch: services", lambda sql: '"postmortems_postmortem_services"' in sql),
    ("prefetch: factors", lambda sql: '"postmortems_postmortem_factors"' in sql),
    ("count", lambda sql: sql.lstrip().upper().startswith("SELECT COUNT(*)")),
    ("page", lambda sql: '"action_items_open"' in sql),
)
OTHER = "other"


def statement_kind(sql: str) -> str:
    """The kind of one SQL statement of a search request (a name from ``_KINDS``, or ``"other"``).

    Args:
        sql: the statement's text as Django hands it to the database driver.

    Returns:
        One of ``"authentication"``, ``"plan (EXPLAIN)"``, ``"snippets"``,
        ``"ranking"``, ``"prefetch: services"``, ``"prefetch: factors"``,
        ``"page"``, ``"count"`` or ``"other"``. On SQLite the ranking is part of
        the page statement (FTS5's ``bm25`` in the same join), so there is no
        ``"ranking"`` kind there.
    """
    for kind, test in _KINDS:
        if test(sql):
            return kind
    return OTHER


class _StatementTimer:
    """An ``execute_wrapper`` that adds each statement's milliseconds to its kind."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = defaultdict(float)
        self.count: dict[str, int] = defaultdict(int)

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = statement_kind(sql)
            self.ms[kind] += (time.perf_counter() - started) * 1000
            self.count[kind] += 1


def _timed_request(client, path: str, params: dict) -> tuple[float, _StatementTimer]:
    from django.db import connection

    timer = _StatementTimer()
    with connection.execute_wrapper(timer):
        wall, response = timed(lambda: client.get(path, params))
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}")
    return wall, timer


def search_breakdown(client, queries: Iterable[str], *, rounds: int = 3, floor: bool = True) -> dict:
    """Time the API search for each query, statement by statement, ``rounds`` times.

    Args:
        client: a Django test ``Client`` (or DRF ``APIClient``) whose requests
            are authenticated as the reader.
        queries: search texts (websearch syntax), e.g. ``q for q, _ in QUERIES``.
        rounds: timed passes over the queries, after one untimed warm-up pass.
        floor: also time ``bench.queries.raw_sql_top`` for each query (and the
            teams list, the stack's cheapest authenticated request), alternating
            which of the API and the floor goes first from round to round, as
            ``bench.suite`` does.

    Returns:
        ``{"requests", "request_ms", "sql_ms", "python_ms", "statements",
        "floor_ms", "baseline_ms"}``: the ``*_ms`` entries are ``summary``
        dicts (``n``, ``p50``, ``p95``, ``p99``, ``mean``, milliseconds);
        ``statements`` maps each kind of statement to ``{"per_request": float,
        "ms": summary}`` (its time summed within a request, over the requests
        that sent it). ``floor_ms`` and ``baseline_ms`` are ``None`` without
        ``floor``.

    Raises:
        RuntimeError: a request did not answer 200.
    """
    from bench.queries import raw_sql_top

    queries = list(queries)
    for query in queries:  # warm-up: caches, connections, the buffer cache
        _timed_request(client, API_LIST, {"q": query})
        if floor:
            raw_sql_top(query)
    walls: list[float] = []
    sql_totals: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    floors: list[float] = []
    baselines: list[float] = []
    for round_number in range(rounds):
        for query in queries:
            order = ("api", "floor") if round_number % 2 == 0 else ("floor", "api")
            for method in order:
                if method == "floor":
                    if floor:
                        floors.append(timed(lambda query=query: raw_sql_top(query))[0])
                    continue
                wall, timer = _timed_request(client, API_LIST, {"q": query})
                walls.append(wall)
                sql_totals.append(sum(timer.ms.values()))
                for kind, ms in timer.ms.items():
                    by_kind[kind].append(ms)
                    counts[kind] += timer.count[kind]
            if floor:
                baselines.append(_timed_request(client, BASELINE, {})[0])
    requests = len(walls)
    return {
        "requests": requests,
        "request_ms": summary(walls),
        "sql_ms": summary(sql_totals),
        "python_ms": summary([wall - sql for wall, sql in zip(walls, sql_totals, strict=True)]),
        "statements": {
            kind: {"per_request": round(counts[kind] / requests, 2), "ms": summary(values)}
            for kind, values in sorted(by_kind.items(), key=lambda kv: -statistics.median(kv[1]))
        },
        "floor_ms": summary(floors) if floor else None,
        "baseline_ms": summary(baselines) if floor else None,
    }


def format_breakdown(result: dict) -> str:
    """A plain-text table of ``search_breakdown``'s result (medians and means, milliseconds)."""

    def row(label: str, stats: dict | None, extra: str = "") -> str:
        if not stats:
            return f"{label:<34} {'-':>8} {'-':>8} {'-':>8}  {extra}"
        return f"{label:<34} {stats['p50']:>8.1f} {stats['p95']:>8.1f} {stats['mean']:>8.1f}  {extra}"

    lines = [
        f"{result['requests']} API search requests; milliseconds",
        f"{'':<34} {'p50':>8} {'p95':>8} {'mean':>8}",
        row("request (wall)", result["request_ms"]),
        row("  Python (request - its SQL)", result["python_ms"]),
        row("  SQL, all statements", result["sql_ms"]),
    ]
    for kind, entry in result["statements"].items():
        lines.append(row(f"    {kind}", entry["ms"], f"{entry['per_request']:g} a request"))
    lines += [
        row("raw-SQL floor (same query)", result["floor_ms"]),
        row(f"authenticated {BASELINE}", result["baseline_ms"]),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``python -m bench.breakdown --database-url URL [--rounds N] [--json FILE]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="a database that holds a corpus")
    parser.add_argument("--rounds", type=int, default=3, help="timed passes over the 50 queries (3)")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args(argv)

    from bench.suite import configure_environment

    configure_environment(args.database_url)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from bench.queries import QUERIES

    user, _ = get_user_model().objects.get_or_create(username="bench-reader")
    token = Token.objects.get_or_create(user=user)[0].key
    client = Client(headers={"authorization": f"Token {token}"})
    result = search_breakdown(client, (q for q, _kind in QUERIES), rounds=args.rounds)
    print(format_breakdown(result))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(result, out, indent=1)


if __name__ == "__main__":
    main()
