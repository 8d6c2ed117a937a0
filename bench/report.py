"""``docs/benchmarks.md`` from ``bench/results.json``: tables, targets and findings.

Everything in the Markdown comes from the measurements of one run; the fixed
text explains the method. ``evaluate_targets`` checks the targets of the
benchmark issue against the PostgreSQL run at the largest size (the targets are
stated for 100,000 post-mortems; a smaller run says so).
"""

from __future__ import annotations

from collections import defaultdict

METHOD_NAMES = {
    "api": "API `?q=`",
    "raw_sql": "raw SQL (floor)",
    "icontains": "naive `icontains`",
    "ripgrep": "ripgrep on Markdown",
}


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _largest(results: dict, engine: str) -> dict | None:
    runs = [r for r in results["runs"] if r["engine"] == engine]
    return max(runs, key=lambda r: r["size"]) if runs else None


def _import_rate(results: dict, engine: str) -> tuple[float | None, str]:
    """The import path's rate: the sample on the largest corpus, else the full import."""
    runs = sorted((r for r in results["runs"] if r["engine"] == engine), key=lambda r: -r["size"])
    for run in runs:
        sample = run.get("import_sample")
        if sample and not sample.get("profiled"):
            return sample["documents_per_second"], f"{sample['documents']} documents onto {run['size']:,}"
        if run["load"]["method"] == "import path":
            return run["load"][
                "documents_per_second"
            ], f"{run['load']['documents']:,} documents, empty database"
    return None, "not measured"


def evaluate_targets(results: dict) -> list[dict]:
    """The issue's targets, each ``{target, measured, met, where}`` (``met`` None when not measured)."""
    run = _largest(results, "postgresql")
    if run is None:
        return [{"target": "all targets", "measured": "no PostgreSQL run", "met": None, "where": ""}]
    where = f"PostgreSQL, {run['size']:,} post-mortems" + (
        "" if run["size"] >= 100_000 else " (targets are stated for 100,000)"
    )
    targets = []
    search = run.get("search", {}).get("methods", {})
    api, raw, rg = search.get("api"), search.get("raw_sql"), search.get("ripgrep")
    if api:
        targets.append(
            {
                "target": "search p95 ≤ 50 ms through the API",
                "measured": f"{api['p95']:.1f} ms",
                "met": api["p95"] <= 50,
            }
        )
    if api and raw:
        ratio = api["p95"] / raw["p95"] if raw["p95"] else None
        targets.append(
            {
                "target": "API search within 2× of raw SQL (p95)",
                "measured": f"{ratio:.1f}× (p50 {api['p50'] / raw['p50']:.1f}×)" if ratio else "–",
                "met": ratio is not None and ratio <= 2,
            }
        )
    if api and rg:
        ratio = rg["p50"] / api["p50"] if api["p50"] else None
        targets.append(
            {
                "target": "≥ 10× faster than ripgrep at p50",
                "measured": f"{ratio:.1f}× faster" if ratio else "–",
                "met": ratio is not None and ratio >= 10,
            }
        )
    counts = run.get("pages", {}).get("query_counts", {}).get("API list")
    if counts:
        values = list(counts.values())
        targets.append(
            {
                "target": "list endpoint query count constant and ≤ 10",
                "measured": ", ".join(f"{k}: {v}" for k, v in counts.items()),
                "met": len(set(values)) == 1 and max(values) <= 10,
            }
        )
    rate, how = _import_rate(results, "postgresql")
    targets.append(
        {
            "target": "import ≥ 2,000 post-mortems/s (the import path)",
            "measured": f"{rate:,.0f}/s ({how})" if rate is not None else how,
            "met": rate is not None and rate >= 2000,
        }
    )
    throughput = run.get("throughput")
    if throughput:
        kinds = ", ".join(f"{k}: {v}" for k, v in throughput["errors"].items() if v) or "none"
        targets.append(
            {
                "target": "zero errors under load",
                "measured": f"{throughput['error_total']} error(s) in {throughput['requests']:,} completed "
                f"requests ({kinds})",
                "met": throughput["error_total"] == 0,
            }
        )
    for target in targets:
        target["where"] = where
    return targets


# --- Markdown ---------------------------------------------------------------------------


def render_markdown(results: dict) -> str:
    """The whole ``docs/benchmarks.md``."""
    out: list[str] = []
    add = out.append
    m = results["machine"]
    add("# Benchmarks")
    add("")
    add(
        "Written by `make bench` (`bench/run.py`) from `bench/results.json` — do not edit by hand. "
        + (
            "Generated in two invocations on the same machine (see Notes), "
            if any(note.startswith("Merged run") for note in results.get("notes", []))
            else f"Generated {results['generated_at']} by `{results['command']}`, "
        )
        + f"{results['wall_seconds'] / 60:.0f} min of running in all."
    )
    add("")
    add("## Machine")
    add("")
    add("| | |")
    add("| --- | --- |")
    for label, key in (
        ("CPU", "cpu_model"),
        ("cores", "cpu_cores"),
        ("RAM (GB)", "ram_gb"),
        ("OS", "os"),
        ("Python", "python"),
        ("Django", "django"),
        ("PostgreSQL", "postgresql"),
        ("SQLite", "sqlite"),
        ("ripgrep", "ripgrep"),
        ("wrk", "wrk"),
        ("gunicorn", "gunicorn"),
        ("load average at start (1, 5, 15 min)", "load_average_at_start"),
    ):
        value = m.get(key)
        add(f"| {label} | {', '.join(map(str, value)) if isinstance(value, list) else _fmt(value)} |")
    add("")
    add("## How to read these numbers")
    add("")
    vocab = next((r.get("vocabulary") for r in results["runs"] if r.get("vocabulary")), "–")
    add(
        "* **Noise.** Two cores, which other work may share (the load average at the start is in the "
        "table above), so absolute figures move from run to run. Every comparison below is measured "
        "side by side in one process and one run (the methods take turns, query by query, and the API "
        "and raw SQL swap places every round, so neither always finds the other's pages in the cache), "
        "so the **ratios** are what to read; absolute milliseconds are indicative."
    )
    add(
        f"* **Corpus.** Synthetic, deterministic (seed {results['config']['seed']}): sentences drawn from "
        f"bigram chains over {vocab}, with the companies as teams, the products as services and the "
        "corpora's categories mapped to contributing factors by `postmortems.exchange.corpus.factors_for`. "
        "Every post-mortem has the four sections in Markdown, a timeline (3–8 entries), 2–5 action items, "
        "0–2 declined changes, 0–2 fix pull requests, 1–2 services, 1–2 authors and its factors."
    )
    add(
        "* **Loading.** Corpora up to `BENCH_IMPORT_MAX` documents (default 100,000: every size the "
        "issue names) go through the import "
        "path (`import_paths`, i.e. `manage.py import_postmortems DIR --create-users`, on Markdown "
        "one-pagers; new documents take its bulk path, `postmortems/exchange/bulk.py`): that is the import "
        "rate, parsing included. Bigger corpora are written by the **bulk loader** (`bench/loader.py`: "
        "`bulk_create` of the same rows and the same search text, 1,000 documents a transaction, the FTS5 "
        "triggers and the tsvector/GIN index maintained as rows arrive), which is *not* the import path and "
        "is labelled as such in the table below; on top of each bulk-loaded corpus a sample is imported "
        "through the import path to show its rate at that size. `VACUUM ANALYZE` runs after loading on "
        "PostgreSQL (autovacuum would)."
    )
    add(
        "* **Search.** 50 fixed queries (`bench/queries.py`): common and rare words, internal codenames, "
        "quoted phrases and word pairs. API = `GET /api/v1/postmortems/?q=` (ranked page of 20 with count "
        "and snippets) through Django's test client in-process with a token — no socket; raw SQL = the "
        "ranked page of 20 in one statement, with the API's ranking semantics (FTS5 `MATCH` joined to the "
        "documents + `bm25`; on PostgreSQL the newest `RANK_CANDIDATES` matches of `@@ websearch_to_tsquery` "
        "ranked by `ts_rank_cd`); `icontains` = newest 20 containing every term, unranked; "
        "ripgrep = `rg -l -i -w` "
        "over the corpus exported as Markdown (`render_postmortem_markdown`), one pass per term. Files and "
        "database are warm (one untimed pass first). Ratios are method ÷ API: below 1 is faster than our "
        "API, above 1 slower."
    )
    add(
        "* **Pages.** p50/p95 of the web list, the web one-page view, "
        "`GET /api/v1/postmortems/?page_size=50` "
        "the API one-document read, the API action-item list (`?status=open`) and the API "
        "contributing-factor list (with its per-reader counts; both from session 10 on), through the "
        "test client; SQL query counts with "
        "`CaptureQueriesContext`."
    )
    add(
        "* **Throughput.** gunicorn with 2 sync workers on 127.0.0.1 and wrk (1 thread, 4 connections, "
        "fixed duration) on the same machine: 60 % reads, 30 % searches, 10 % writes (`POST` of a "
        "draft with a timeline and three action items, with a token). The API throttle is raised for "
        "the run (`API_USER_RATE`); database connections are not persistent (the app's default "
        "`DATABASE_CONN_MAX_AGE=0`)."
    )
    add("")

    _targets(add, results)
    _loading(add, results)
    _search(add, results)
    _search_kinds(add, results)
    _pages(add, results)
    _throughput(add, results)
    _findings(add, results)
    sqlite_top = max((r["size"] for r in results["runs"] if r["engine"] == "sqlite"), default=None)
    pg_top = max((r["size"] for r in results["runs"] if r["engine"] == "postgresql"), default=None)
    capped = sqlite_top is not None and pg_top is not None and sqlite_top < pg_top
    if results.get("failures") or results.get("notes") or capped:
        add("## Notes")
        add("")
        if capped:
            top_run = next(r for r in results["runs"] if r["engine"] == "sqlite" and r["size"] == sqlite_top)
            view = next(
                (
                    v
                    for k, v in top_run.get("pages", {}).get("latency", {}).items()
                    if k.startswith("web one-page")
                ),
                None,
            )
            add(
                f"* SQLite was measured up to {sqlite_top:,} post-mortems (`BENCH_SQLITE_MAX`, default "
                f"10,000 in the Makefile), PostgreSQL up to {pg_top:,}"
                + (
                    f": at {sqlite_top:,} the one-page view already takes {view['p50']:,.0f} ms per request "
                    "on SQLite (see Findings)."
                    if view
                    else "."
                )
            )
        for failure in results.get("failures", []):
            add(
                f"* **Failed:** {failure['engine']} at {failure['size']:,} "
                f"(exit status {failure['exit_status']})."
            )
        for note in results.get("notes", []):
            add(f"* {note}")
        for run in results["runs"]:
            for note in run.get("notes", []):
                add(f"* {run['engine']} {run['size']:,}: {note}")
        add("")
    add("## Reproduce")
    add("")
    add("```sh")
    add("make bench                                  # 1k, 10k, 100k; SQLite up to 10k, PostgreSQL all")
    add("BENCH_SQLITE_MAX=100000 make bench          # SQLite at 100k too")
    add("BENCH_SIZES=1000,10000 make bench           # shorter")
    add(".venv/bin/python -m pytest tests/bench     # the quick mode (1k, structural checks only)")
    add("```")
    add("")
    return "\n".join(out)


def _targets(add, results: dict) -> None:
    add("## Targets")
    add("")
    add("| target | measured | met | where |")
    add("| --- | --- | --- | --- |")
    for t in results.get("targets", []):
        met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        add(f"| {t['target']} | {t['measured']} | {met} | {t['where']} |")
    add("")


def _loading(add, results: dict) -> None:
    add("## Loading")
    add("")
    add("| engine | corpus | how | documents | seconds | documents/s | SQL statements / document |")
    add("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for run in results["runs"]:
        load = run["load"]
        how = "**import path**" if load["method"] == "import path" else "bulk loader (not the import path)"
        add(
            f"| {run['engine']} | {run['size']:,} | {how} | {load['documents']:,} | "
            f"{_fmt(load['seconds'])} | "
            f"{_fmt(load['documents_per_second'])} | {_fmt(load['statements_per_document'], 3)} |"
        )
        sample = run.get("import_sample")
        if sample:
            how = "**import path**, sample" + (" (under cProfile)" if sample.get("profiled") else "")
            add(
                f"| {run['engine']} | {run['size']:,} + {sample['documents']} | {how} | "
                f"{sample['documents']} | "
                f"{_fmt(sample['seconds'])} | {_fmt(sample['documents_per_second'])} | "
                f"{_fmt(sample['statements_per_document'], 3)} |"
            )
    add("")


def _search(add, results: dict) -> None:
    add("## Search: 50 queries, latency in ms and ratio to the API")
    add("")
    add("| engine | corpus | method | p50 | p95 | p99 | samples | p50 ÷ API | p95 ÷ API |")
    add("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in results["runs"]:
        search = run.get("search")
        if not search:
            continue
        for method, s in search["methods"].items():
            ratio = search["ratio_to_api"][method]
            add(
                f"| {run['engine']} | {run['size']:,} | {METHOD_NAMES.get(method, method)} | "
                f"{_fmt(s['p50'])} | "
                f"{_fmt(s['p95'])} | {_fmt(s['p99'])} | {s['n']} | {_fmt(ratio['p50'], 2)}× | "
                f"{_fmt(ratio['p95'], 2)}× |"
            )
    add("")
    add("Do the API and raw SQL return the same ranked first page (same ids, same order)?")
    add("")
    add("| engine | corpus | queries with the same top 20 | differing |")
    add("| --- | ---: | ---: | --- |")
    for run in results["runs"]:
        search = run.get("search")
        if search:
            differing = search["top_results_disagree"]
            add(
                f"| {run['engine']} | {run['size']:,} | "
                f"{search['queries'] - len(differing)} of {search['queries']} | "
                f"{', '.join(f'`{q}`' for q in differing) or '–'} |"
            )
    add("")


def _kind_median(run: dict, kind: str) -> dict[str, float | None]:
    """Median over the queries of ``kind`` of each method's per-query p50 (ms), by method name."""
    entries = [e for e in run["search"]["per_query"] if e["kind"] == kind]
    medians: dict[str, float | None] = {}
    for method in ("api", "raw_sql", "icontains", "ripgrep"):
        values = sorted(v for e in entries if (v := e["p50_ms"].get(method)) is not None)
        medians[method] = values[len(values) // 2] if values else None
    return medians


def _search_kinds(add, results: dict) -> None:
    add("## Search by kind of query (median of per-query p50, ms), largest corpus per engine")
    add("")
    add(
        "| engine | corpus | kind | queries | API | raw SQL | icontains | ripgrep "
        "| API hits (median) | rg files (median) |"
    )
    add("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for engine in ("sqlite", "postgresql"):
        run = _largest(results, engine)
        if not run or not run.get("search"):
            continue
        groups: dict[str, list[dict]] = defaultdict(list)
        for entry in run["search"]["per_query"]:
            groups[entry["kind"]].append(entry)
        for kind, entries in groups.items():

            def median(values):
                values = sorted(v for v in values if v is not None)
                return values[len(values) // 2] if values else None

            by_method = _kind_median(run, kind)
            cells = [by_method[m] for m in ("api", "raw_sql", "icontains", "ripgrep")]
            add(
                f"| {engine} | {run['size']:,} | {kind} | {len(entries)} | "
                + " | ".join(_fmt(c) for c in cells)
                + f" | {_fmt(median([e.get('api_count') for e in entries]))} | "
                f"{_fmt(median([e.get('ripgrep_files') for e in entries]))} |"
            )
    add("")
    add(
        "Hits differ between the API and ripgrep by design: full-text search stems (`outage` finds "
        "`outages`) and searches only the document's text, while `rg -w` matches the literal word "
        "anywhere in the file, front matter included."
    )
    add("")


def _pages(add, results: dict) -> None:
    add("## Pages and API: latency (ms) and SQL queries")
    add("")
    add("| engine | corpus | request | p50 | p95 |")
    add("| --- | ---: | --- | ---: | ---: |")
    for run in results["runs"]:
        pages = run.get("pages")
        if not pages:
            continue
        for name, s in pages["latency"].items():
            add(f"| {run['engine']} | {run['size']:,} | {name} | {_fmt(s['p50'])} | {_fmt(s['p95'])} |")
    add("")
    add("SQL queries per request, with the page size or the number of related rows varied:")
    add("")
    add("| engine | corpus | request | queries | constant |")
    add("| --- | ---: | --- | --- | --- |")
    for run in results["runs"]:
        pages = run.get("pages")
        if not pages:
            continue
        for name, counts in pages["query_counts"].items():
            constant = pages["query_counts_constant"][name]
            add(
                f"| {run['engine']} | {run['size']:,} | {name} | "
                + ", ".join(f"{k}: {v}" for k, v in counts.items())
                + f" | {'yes' if constant else '**no**'} |"
            )
    add("")


def _throughput(add, results: dict) -> None:
    add("## Throughput under load")
    add("")
    add(
        "| engine | corpus | seconds | requests | requests/s | p50 ms | p99 ms | errors "
        "| statuses | created |"
    )
    add("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for run in results["runs"]:
        t = run.get("throughput")
        if not t:
            continue
        statuses = ", ".join(f"{code}: {n}" for code, n in t["statuses"].items())
        add(
            f"| {run['engine']} | {run['size']:,} | {_fmt(t['seconds'])} | {t['requests']:,} | "
            f"{_fmt(t['requests_per_second'])} | {_fmt(t['latency_ms']['p50'])} | "
            f"{_fmt(t['latency_ms']['p99'])} | "
            f"{t['error_total']} | {statuses} | {t['created_postmortems']} |"
        )
    add("")
    add(
        "wrk counts completed requests only: requests still in flight when the time is up (a slow "
        "one-page view, say) are neither requests nor errors, so a very low rate means the "
        "connections were held by slow requests — see the Findings."
    )
    add("")


def _findings(add, results: dict) -> None:
    """What the measurements point at, with the code responsible where it is known."""
    lines: list[str] = []
    for run in results["runs"]:
        pages = run.get("pages", {})
        for name, constant in pages.get("query_counts_constant", {}).items():
            if not constant:
                counts = pages["query_counts"][name]
                shown = ", ".join(f"{k}: {v}" for k, v in counts.items())
                values = list(counts.values())
                if max(values) - min(values) <= 1 and values[-1] <= values[0]:
                    lines.append(
                        f"{run['engine']} {run['size']:,}: **{name}**: {shown} — one query apart, and not "
                        "more for the bigger document." + KNOWN_CAUSES["status-dependent query"]
                    )
                else:
                    lines.append(
                        f"{run['engine']} {run['size']:,}: **{name}** makes a number of SQL queries that "
                        f"grows ({shown})." + KNOWN_CAUSES.get(name, "")
                    )
    for engine in ("sqlite", "postgresql"):
        run = min(
            (r for r in results["runs"] if r["engine"] == engine), key=lambda r: r["size"], default=None
        )
        if run and run["load"]["method"] == "import path":
            load = run["load"]
            lines.append(
                f"{engine}: the import path stores {_fmt(load['documents_per_second'])} post-mortems/s with "
                f"{_fmt(load['statements_per_document'], 3)} SQL statements per document."
                + KNOWN_CAUSES.get("import", "")
            )
        sample = run.get("import_sample") if run else None
        if sample and sample.get("profile"):
            top = "; ".join(
                f"`{row['function']}` {row['cumulative_share']:.0%}" for row in sample["profile"][:8]
            )
            lines.append(
                f"{engine}: cProfile of importing {sample['documents']} documents (cumulative share): {top}."
            )
    for run in results["runs"]:
        latency = run.get("pages", {}).get("latency", {})
        view = next((v for k, v in latency.items() if k.startswith("web one-page view")), None)
        read = next((v for k, v in latency.items() if k.startswith("API one post-mortem")), None)
        if view and read and read["p50"] and view["p50"] > 5 * read["p50"]:
            lines.append(
                f"{run['engine']} {run['size']:,}: the web one-page view takes {view['p50']:,.0f} ms at p50, "
                f"{view['p50'] / read['p50']:.0f}× the API read of the same document."
                + KNOWN_CAUSES["one-page view latency"]
                + (KNOWN_CAUSES["one-page view latency, sqlite"] if run["engine"] == "sqlite" else "")
            )
    for engine in ("sqlite", "postgresql"):
        run = _largest(results, engine)
        search = run.get("search") if run else None
        if search and search["methods"]["raw_sql"]["p50"]:
            ratio = search["methods"]["api"]["p50"] / search["methods"]["raw_sql"]["p50"]
            if ratio > 2:
                lines.append(
                    f"{engine} {run['size']:,}: the API search takes {ratio:.0f}× the raw-SQL floor at p50."
                    + KNOWN_CAUSES.get(f"search-{engine}", "")
                )
    for run in results["runs"]:
        t = run.get("throughput")
        if t and t["requests_per_second"] < 5:
            latency = run.get("pages", {}).get("latency", {})
            view = next((v for k, v in latency.items() if k.startswith("web one-page view")), None)
            api = run.get("search", {}).get("methods", {}).get("api")
            lines.append(
                f"{run['engine']} {run['size']:,}: under load the app served {t['requests_per_second']} "
                f"requests/s (p99 {t['latency_ms']['p99']:,.0f} ms, {t['error_total']} error(s)): the four "
                "connections were held by the slow requests of the mix — the web one-page view"
                + (f" (p50 {view['p50']:,.0f} ms in-process)" if view else "")
                + " and searches"
                + (f" (p50 {api['p50']:,.0f} ms, p95 {api['p95']:,.0f} ms)" if api else "")
                + "; the list and one-document API reads alone are fast (see Pages)."
            )
    for engine in ("sqlite", "postgresql"):
        run = _largest(results, engine)
        methods = run.get("search", {}).get("methods", {}) if run else {}
        if methods.get("icontains") and methods["icontains"]["p50"] < methods["api"]["p50"]:
            rarest = _kind_median(run, "codename, rarest")
            lines.append(
                f"{engine} {run['size']:,}: the naive `icontains` search answers faster than the API at "
                f"p50 ({methods['icontains']['p50']:,.1f} against {methods['api']['p50']:,.1f} ms). It is "
                "not the same work: it returns the 20 newest documents that contain the words, unranked "
                "and unstemmed, without a count or snippets, so for a common word it stops after reading a "
                "few dozen of the newest rows; for the rarest terms it reads the whole table"
                + (
                    f" ({rarest['icontains']:,.1f} ms at p50 for the internal codenames, against the "
                    f"API's {rarest['api']:,.1f} ms)"
                    if rarest.get("icontains") is not None and rarest.get("api") is not None
                    else ""
                )
                + "."
            )
    run = _largest(results, "postgresql")
    raw = run.get("search", {}).get("methods", {}).get("raw_sql") if run else None
    if raw and raw["p95"] > 50:
        lines.append(
            f"postgresql {run['size']:,}: even the raw-SQL floor has a p95 of {raw['p95']:,.0f} ms. "
            "The search ranks only the newest `RANK_CANDIDATES` matches (`postmortems/search.py`), so a "
            "common word costs a bounded walk of the `started_at` index plus `ts_rank_cd` over the "
            "candidates, each of which reads (detoasts) the document's `tsvector`; what is left is that "
            "read (and, for a phrase of common words, one read per document holding both words)."
        )
    if not lines:
        return
    add("## Findings")
    add("")
    for line in lines:
        add(f"* {line}")
    add("")


# Where the cause of a finding lies, from profiling (py-spy/cProfile) during the
# benchmark's development; printed only while the measurement still shows it.
KNOWN_CAUSES: dict[str, str] = {
    "web one-page view, by contributing factors": (
        " Cause: `patterns/selectors.py` `factor_history()` ran two queries per contributing factor"
        ' (a count and a list) for the "this factor has happened before" panel'
        " (`patterns/templatetags/pattern_tags.py` `factor_history_panel`); it was rewritten as one"
        " query while this run was under way, so runs measured later show a constant count. The"
        " document's own rows are prefetched (`postmortems/selectors.py` `postmortem_detail`)."
    ),
    "status-dependent query": (
        " The one-query difference depends on the document's status, not its rows: the review panel"
        " checks whether the reader may schedule a review (`reviews/permissions.py` `can_schedule`, a"
        " team-lead lookup) for some statuses only. The suite now compares published documents only."
    ),
    "one-page view latency": (
        ' Cause: the two panels that read across the corpus. "Similar post-mortems"'
        " (`patterns/selectors.py` `similar_postmortems()`) ranks an `or` of up to 10 of the document's"
        ' words among the 300 newest documents that share its team or a factor. "This factor has'
        ' happened before" (`factor_history()`) counts and ranks, with window functions, every earlier'
        " document that shares one of its factors: about 90,000 link rows for a document with five"
        " common factors at 100k. Runs before session 3 sorted whole documents there (an on-disk sort)"
        " and checked the `or` query on every document; both now work on ids. Session 9: the page of"
        " similar documents added a second `id = ANY(…)` next to the ranked ids', which PostgreSQL"
        " costed as one index descent per pair and answered with a sequential scan of the table (~60-70"
        " ms at 100k, now ~4); and factor history reads the started-at index alone, which now carries"
        " the columns the visibility filter needs (`pm_started_idx` INCLUDE), instead of ~30,000 rows"
        " (A/B on one 100k database: one-page view p50 ~290 to ~130 ms)."
    ),
    "one-page view latency, sqlite": (
        " On SQLite every match is ranked with `bm25()` (`postmortems/search.py` `search_postmortems`)."
    ),
    "import": (
        " New documents take the importer's bulk path (`postmortems/exchange/bulk.py`: validation with"
        " `full_clean()` per document and row; documents, rows, many-to-many rows and revisions written"
        " a table at a time with PostgreSQL `COPY` / SQLite `executemany`, 500 documents a transaction;"
        " search text built in memory) and the front matter is read with libyaml's safe loader (the"
        " pure-Python loader was ~40% of the import's time); what remains per document is Python:"
        " Markdown parsing, model validation and building model instances (see the cProfile line)."
        " User names and services are looked up together before the batches (one `IN` query per 500"
        " names; before session 6, one query per name). 2,000 documents/s would leave 0.5 ms per"
        " document for all of that on two cores; it would take importing without validation or"
        " history, which the import path does not do."
        " `COPY` runs outside Django's statement hooks, so on PostgreSQL the statements per document"
        " do not count it."
    ),
    "search-sqlite": (
        " The floor is one statement; the API adds a COUNT of all matches, two correlated action-item"
        " counts per matching row computed before the sort (`postmortems/selectors.py`"
        " `postmortem_list(with_counts=True)`), the snippet query and DRF serialisation. SQLite sorts"
        " whole rows (the sections included) to rank them."
    ),
    "search-postgresql": (
        " The API runs the ranking statement once (at most `RANK_CANDIDATES` candidates, ranked;"
        " `postmortems/search.py` `_rank_on_postgresql`); the count is the number of ranked ids and the"
        " page fetches only its own ids and ranks (session 4: before, the count re-read every candidate"
        " and the page sorted all of them, ~16 ms of SQL at 100k; session 8: the page statement no longer"
        " carries all 500 ids and ranks). The candidates are found one of three ways"
        " (`_candidate_plan`), from the planner's estimate of the documents holding the query's words:"
        " past sqrt(1000 x documents) of them (or a tenth of the table), a walk of the `started_at`"
        " index; below, for words, every match collected from the GIN index and sorted (session 7:"
        ' the planner walked there and read a `tsvector` per row passed; "traffic spike" at 100k went'
        ' from 61 to 23 ms, "dns resolution" from 60 to 24); below, for a phrase, every document'
        " holding its words collected from the GIN index (no position check), sorted newest first,"
        " and the phrase checked in that order until enough pass (session 8:"
        ' "health check" 67 to 15 ms of SQL at 100k, "leap second" 48 to 11). The raw-SQL floor makes'
        " the same choice. Session 9: the `tsvector` (~3.3 kB a document) is kept in the row"
        " (`STORAGE MAIN`, `search.PG_SEARCH_VECTOR_INLINE`) and the long text columns go to TOAST"
        " instead; before, every row a search passed or ranked cost a TOAST index look-up and two chunk"
        " reads. A/B on one 100k database, interleaved runs: floor p50 18.5 to 8.3 ms, p95 47 to 31, p99"
        ' 333 to 88 ("power outage" 380 to 90); API p50 71 to 48, p95 104 to 85. The heap grows from 162'
        " to 389 MB. The API's page fetch no longer adds a second `id = ANY(…)` to the ranked ids'"
        " (5.9 to 2.9 ms). To the floor the API adds that page fetch with the"
        " correlated action-item counts (`postmortems/selectors.py` `postmortem_list(with_counts=True)`),"
        " the visibility filter (`postmortems/access.py`), the service and factor prefetches,"
        " `ts_headline` snippets for the page (`snippets_for`, ~5 ms: PostgreSQL's parser takes ~0.35 ms"
        " per 2.7 kB document, so only the part that matches is highlighted) and ~15-20 ms of Python"
        " (Django compiling the visibility filter and count subqueries twice, django-filter, DRF"
        " serialisation; pyinstrument, session 8). Phrases of very common words still cost the most:"
        " when their words are too common to collect, the walk re-checks the positions of each row it"
        ' passes (one `tsvector` read per row: about 30,000 rows to find 500 matches of "power outage"'
        " at 100k, whose words are together in 30,000 documents but adjacent in 1,544). Tried and"
        " not adopted: shared_buffers 1 GB instead of 128 MB with the table and its TOAST prewarmed"
        ' (session 8): no change beyond noise ("power outage" 307 to 219 ms in the floor, the API p95'
        " unchanged), so the cost is reading and decoding the `tsvector`, not the I/O; a RUM index"
        " (`postgresql-15-rum`, ranks inside the index): p50 30-38 ms but p95 138 ms, no better at the"
        " tail; an index of adjacent word pairs (a stored `tsvector` of bigrams with its own GIN"
        ' index, session 4): "power outage" went from 305 to 20-25 ms, but the planner multiplied the'
        ' phrase and pair estimates and picked the bitmap path for common phrases ("data center" 28 ms'
        " to 62-210 ms), and adding the column and its index to the 100k corpus took 116 s (~1.2 ms a"
        " document, a cost every import would pay); lz4 instead of pglz"
        " for the `tsvector` changed nothing measurable (the time was in fetching it from TOAST, not"
        " decompressing it, as session 9's in-row storage showed). Because the floor gained more from"
        " that than the API did, the API's ratio to it grew. Session 10 (timers around each phase, 100k"
        ' database, the three codename queries that match fewer than 200 documents): ~29 ms a request'
        " of which ~11.5 ms is SQL in 7 statements (token 1, plan EXPLAIN 1, ranking 1, page 3, two"
        " prefetches 1 each, snippets ~5); pagination with prefetches ~9 ms, filtering and ranking ~6,"
        " snippets ~5, serialisation ~3.6, building the visibility-filtered queryset ~2.8,"
        " authentication ~1.7. An authenticated DRF list of the 20 teams costs ~10 ms through the same"
        " test client, so about a third of the fixed overhead is the framework's floor. Highlighting"
        " only a window of ~720 characters around the first query word instead of the whole section"
        " saved ~0.7 ms of the snippet statement's ~4.6 (the rest is TOAST reads and per-call setup)"
        " and was not adopted."
    ),
}
