"""The 50 fixed searches and how each alternative runs them.

Queries are in the websearch syntax of the search box and ``?q=``: single
words (common and rare), two words (ANDed), and "quoted phrases". They use the
vocabulary of real incident write-ups; four are internal codenames that
``bench.corpus`` puts in a known, small fraction of documents (the rarest
terms). ``or`` and ``-exclusion`` are left out on purpose: the naive
alternatives below have no equivalent for them, and a ratio needs the same
question asked of every method.

How each method answers a query (``terms`` as parsed by ``postmortems.search``):

* **API** — ``GET /api/v1/postmortems/?q=…`` (first page of 20, ranked, with the
  total count and highlighted snippets).
* **raw SQL** (the floor) — the ranked first page only, as one statement:
  SQLite ``… WHERE postmortems_search MATCH ? ORDER BY bm25(…) LIMIT 20``,
  PostgreSQL ``… WHERE id IN (the newest RANK_CANDIDATES ids WHERE search_vector
  @@ websearch_to_tsquery(…)) ORDER BY ts_rank_cd(…) DESC LIMIT 20`` — the
  statements ``postmortems/search.py`` wraps (same ranking semantics), with the
  newest candidates found the way it finds them (a walk of ``started_at``, every
  match sorted, or a phrase's words collected and the phrase checked newest
  first, as ``search._candidate_plan`` decides; that estimate's round trip is
  timed as part of the floor).
* **icontains** — what a first version of a search box does: every term must
  appear (case-insensitive substring) in the title, a section or the search
  text; newest 20 first; no ranking, no stemming, no count.
* **ripgrep** — ``rg -l -i -w`` over the corpus exported as Markdown files: one
  pass for the first term over the folder, then one pass per further term over
  the files still in the running (how ``rg a | xargs rg b`` narrows down).
  Whole words, case-insensitive, no stemming, no ranking.
"""

from __future__ import annotations

import re
import subprocess
from functools import reduce
from operator import and_, or_
from pathlib import Path

from django.db import connection
from django.db.models import Q

from postmortems.search import (
    _PG_TSQUERY,
    _PG_WORDS_TSQUERY,
    COLLECT,
    FTS_TABLE,
    PREFILTER,
    RANK_CANDIDATES,
    TABLE,
    WALK,
    _candidate_plan,
    _parse_websearch,
    _Term,
    to_fts5_query,
)

PAGE = 20
RARE_CODENAMES = ("quillfeather", "brambleton", "marrowgate", "tindervale")

QUERIES: list[tuple[str, str]] = [
    # single words, common
    ("outage", "word, common"),
    ("database", "word, common"),
    ("network", "word, common"),
    ("configuration", "word, common"),
    ("latency", "word, common"),
    ("storage", "word, common"),
    ("deployment", "word, common"),
    ("region", "word, common"),
    ("customers", "word, common"),
    ("errors", "word, common"),
    ("traffic", "word, common"),
    ("DNS", "word, common"),
    # single words, rarer
    ("certificate", "word, rare"),
    ("BGP", "word, rare"),
    ("kernel", "word, rare"),
    ("firmware", "word, rare"),
    ("cooling", "word, rare"),
    ("throttling", "word, rare"),
    ("replication", "word, rare"),
    ("failover", "word, rare"),
    ("memcached", "word, rare"),
    ("fiber", "word, rare"),
    # internal codenames, rarest
    ("quillfeather", "codename, rarest"),
    ("brambleton", "codename, rarest"),
    ("marrowgate", "codename, rarest"),
    ("tindervale", "codename, rarest"),
    # phrases
    ('"load balancer"', "phrase"),
    ('"root cause"', "phrase"),
    ('"configuration change"', "phrase"),
    ('"power outage"', "phrase"),
    ('"data center"', "phrase"),
    ('"availability zone"', "phrase"),
    ('"error rate"', "phrase"),
    ('"packet loss"', "phrase"),
    ('"disk space"', "phrase"),
    ('"health check"', "phrase"),
    ('"leap second"', "phrase"),
    ('"control plane"', "phrase"),
    # two words (ANDed)
    ("dns resolution", "two words"),
    ("memory leak", "two words"),
    ("database failover", "two words"),
    ("network partition", "two words"),
    ("certificate expired", "two words"),
    ("storage latency", "two words"),
    ("configuration rollback", "two words"),
    ("cache invalidation", "two words"),
    ("disk full", "two words"),
    ("api errors", "two words"),
    ("authentication failures", "two words"),
    ("traffic spike", "two words"),
]
assert len(QUERIES) == 50, len(QUERIES)


def terms_of(query: str) -> list[_Term]:
    """The positive terms of ``query`` as ``postmortems.search`` parses them (stop words dropped)."""
    return [part for part in _parse_websearch(query) if isinstance(part, _Term) and not part.negated]


# --- raw SQL: the floor ------------------------------------------------------------------


# Table names are module constants; the user's text is always a query parameter.
_PG_MATCH = f"search_vector @@ {_PG_TSQUERY}"
_PG_RANKED = f"ORDER BY ts_rank_cd(search_vector, {_PG_TSQUERY}) DESC, started_at DESC, id DESC LIMIT %s"
# As postmortems.search ranks on PostgreSQL: the newest RANK_CANDIDATES matches, ranked;
# the candidates by a walk of started_at, by collecting every match and sorting it, or
# (a phrase) by collecting its words' matches and checking the phrase newest first, as
# search._candidate_plan chooses (its estimate is part of the floor). Parameters: the
# candidate statement's, then the query and the page size of _PG_RANKED.
_PG_CANDIDATES = {
    WALK: (
        f'SELECT id FROM "{TABLE}" WHERE {_PG_MATCH} ORDER BY started_at DESC, id DESC LIMIT %s',  # noqa: S608
        1,
    ),
    COLLECT: (
        f'WITH matched AS MATERIALIZED (SELECT id, started_at FROM "{TABLE}" WHERE {_PG_MATCH}) '  # noqa: S608
        "SELECT id FROM matched ORDER BY started_at DESC, id DESC LIMIT %s",
        1,
    ),
    PREFILTER: (
        f'WITH worded AS MATERIALIZED (SELECT id, started_at FROM "{TABLE}" '  # noqa: S608
        f"WHERE search_vector @@ {_PG_WORDS_TSQUERY}) "
        "SELECT s.id FROM (SELECT id, started_at FROM worded ORDER BY started_at DESC, id DESC OFFSET 0) s "
        f'CROSS JOIN LATERAL (SELECT 1 FROM "{TABLE}" p WHERE p.id = s.id AND p.{_PG_MATCH} OFFSET 0) c '
        "ORDER BY s.started_at DESC, s.id DESC LIMIT %s",
        4,
    ),
}
_SQLITE_TOP = (
    f'SELECT p.id FROM {FTS_TABLE} JOIN "{TABLE}" p ON p.id = {FTS_TABLE}.rowid '  # noqa: S608
    f"WHERE {FTS_TABLE} MATCH %s "
    f"ORDER BY bm25({FTS_TABLE}, 10.0, 4.0, 1.0), p.started_at DESC, p.id DESC LIMIT %s"
)


def raw_sql_top(query: str, limit: int = PAGE) -> list[int]:
    """Ids of the best ``limit`` matches, ranked as the API ranks them, in one SQL statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            candidates, queries = _PG_CANDIDATES[_candidate_plan(query)]
            cursor.execute(
                f'SELECT id FROM "{TABLE}" WHERE id IN ({candidates}) {_PG_RANKED}',  # noqa: S608
                [*[query] * queries, RANK_CANDIDATES, query, limit],
            )
        else:
            expression = to_fts5_query(query)
            if not expression:
                return []
            cursor.execute(
                _SQLITE_TOP,
                [expression, limit],
            )
        return [row[0] for row in cursor.fetchall()]


# --- icontains: the naive search ------------------------------------------------------------

_TEXT_FIELDS = (
    "title",
    "what_happened",
    "why_it_happened",
    "what_we_change",
    "what_we_dont_change",
    "search_body",
)


def icontains_q(query: str) -> Q:
    """Every term (a word or a phrase, as typed) somewhere in the text, case-insensitively."""
    clauses = []
    for term in terms_of(query):
        text = " ".join(term.words)
        clauses.append(reduce(or_, (Q(**{f"{name}__icontains": text}) for name in _TEXT_FIELDS)))
    return reduce(and_, clauses) if clauses else Q(pk__in=[])


def icontains_top(query: str, limit: int = PAGE) -> list[int]:
    """Ids of the newest ``limit`` documents that contain every term (no ranking)."""
    from postmortems.models import PostMortem

    rows = PostMortem.objects.filter(icontains_q(query)).order_by("-started_at", "-id")[:limit]
    return list(rows.values_list("pk", flat=True))


# --- ripgrep over the Markdown export ------------------------------------------------------


def rg_pattern(term: _Term) -> str:
    """A whole-word regex for a term: ``leap second`` → ``\\bleap\\W+second\\b``."""
    return r"\b" + r"\W+".join(re.escape(word) for word in term.words) + r"\b"


def ripgrep_files(query: str, directory: Path, *, rg: str = "rg") -> set[str]:
    """Names of the Markdown files (``PM-<n>.md``) that contain every term of ``query``.

    Raises:
        subprocess.CalledProcessError: when ripgrep fails (exit status 2).
    """
    terms = terms_of(query)
    if not terms:
        return set()
    files: list[str] | None = None
    for term in terms:
        base = [rg, "-l", "-i", "--no-messages", "-e", rg_pattern(term)]
        if files is None:
            found = _run_rg([*base, str(directory)])
        else:
            found = []
            for start in range(0, len(files), 2000):  # keep the argument list short
                found += _run_rg([*base, "--", *files[start : start + 2000]])
        files = found
        if not files:
            break
    return {Path(name).name for name in files or []}


def _run_rg(command: list[str]) -> list[str]:
    result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode not in (0, 1):  # 1 = no match
        raise subprocess.CalledProcessError(result.returncode, command, result.stdout, result.stderr)
    return [line for line in result.stdout.splitlines() if line]
