"""Full-text search over post-mortems, on PostgreSQL or SQLite behind one interface.

* PostgreSQL: a stored generated ``tsvector`` column with a GIN index, queried
  with ``websearch_to_tsquery`` (quoted phrases, ``or``, ``-exclusion``), ranked
  with ``ts_rank_cd`` over the newest ``RANK_CANDIDATES`` matches (a bound that
  keeps common words fast at 100k documents) and highlighted with ``ts_headline``.
* SQLite: an FTS5 table kept in sync by triggers, queried with an FTS5
  expression built from the same websearch syntax, joined to the documents by
  rowid, ranked with ``bm25`` (every match) and highlighted with ``snippet()``.

What is indexed, by weight: the title (highest); "what happened" and "why it
happened"; then "what we change", "what we don't change" and ``search_body`` (the
team, services, factors, timeline, action items, declined changes and PR titles,
maintained by ``services.postmortem_reindex``).

Callers use ``search_postmortems`` (filter + rank) and ``attach_snippets``
(highlighted excerpts for one page of results); neither needs to know the engine.
"""

from __future__ import annotations

import copy
import json
import math
import re
from dataclasses import dataclass
from functools import cache

from django.core.exceptions import EmptyResultSet, ImproperlyConfigured
from django.db import connection
from django.db.models import BooleanField, FloatField, IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.html import escape

TABLE = "postmortems_postmortem"
FTS_TABLE = "postmortems_search"
# Private-use characters mark highlight boundaries inside engine output, so the
# text can be escaped before <mark> is added (never trust engine output as HTML).
HIT_START = "\ue000"
HIT_END = "\ue001"

# The Snowball English stop words PostgreSQL's "english" configuration drops; the
# SQLite path drops them too so the two engines agree on what a query means.
STOP_WORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been
    before being below between both but by can did do does doing down during each few
    for from further had has have having he her here hers herself him himself his how i
    if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such
    than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom why
    will with you your yours yourself yourselves
    """.split()  # noqa: SIM905 - a word list reads better as text
)

# PostgreSQL ranks at most this many matches per query: the newest ones (see
# search_postmortems). A query matching more returns the best of the newest
# RANK_CANDIDATES, and its result count is capped there.
RANK_CANDIDATES = 500

# Markdown's bold markers and code ticks read as noise in a one-line snippet.
_SNIPPET_MARKUP = re.compile(r"\*\*|`")

_WEBSEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)


# --- index installation (called from migrations) --------------------------------

# Keep each row's tsvector in the row itself (STORAGE MAIN) and let PostgreSQL move
# the long text columns to TOAST instead. A search reads the tsvector of every row
# it passes or ranks, and only a page's worth of text (snippets, one document).
# The default (EXTENDED) moved the ~3.3 kB tsvector out of the row, so every read
# was a TOAST index look-up and two chunk fetches: at 100k documents the raw
# search statement went from 18.5 to 8.3 ms at p50, 47 to 31 at p95 and 333 to 88
# at p99 ("power outage"), the API from 71 to 48 ms at p50 (docs/benchmarks.md,
# session 9). The heap grows (162 to 389 MB at 100k) and the TOAST table shrinks.
# Rows written before the setting keep their layout until they are next written;
# ``VACUUM FULL postmortems_postmortem`` rewrites them all (it locks the table).
PG_SEARCH_VECTOR_INLINE = f"ALTER TABLE {TABLE} ALTER COLUMN search_vector SET STORAGE MAIN"
PG_SEARCH_VECTOR_DEFAULT = f"ALTER TABLE {TABLE} ALTER COLUMN search_vector SET STORAGE EXTENDED"
_PG_INSTALL = [
    f"""
    ALTER TABLE {TABLE} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig,
            coalesce(what_happened, '') || ' ' || coalesce(why_it_happened, '')), 'B') ||
        setweight(to_tsvector('english'::regconfig,
            coalesce(what_we_change, '') || ' ' || coalesce(what_we_dont_change, '') || ' ' ||
            coalesce(search_body, '')), 'C')
    ) STORED
    """,
    # Serves the @@ match in search_postmortems.
    f"CREATE INDEX pm_search_vector_gin ON {TABLE} USING gin (search_vector)",
    PG_SEARCH_VECTOR_INLINE,
]
_PG_REMOVE = [
    "DROP INDEX IF EXISTS pm_search_vector_gin",
    f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS search_vector",
]

_SQLITE_COLUMNS = (
    "new.title",
    "coalesce(new.what_happened, '') || char(10) || coalesce(new.why_it_happened, '')",
    "coalesce(new.what_we_change, '') || char(10) || coalesce(new.what_we_dont_change, '')"
    " || char(10) || coalesce(new.search_body, '')",
)
_SQLITE_INSERT = (
    f"INSERT INTO {FTS_TABLE}(rowid, title, cause, body) VALUES (new.id, " + ", ".join(_SQLITE_COLUMNS) + ");"
)
_SQLITE_INSTALL = [
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
    "title, cause, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ai AFTER INSERT ON {TABLE} BEGIN " + _SQLITE_INSERT + " END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_au AFTER UPDATE ON {TABLE} BEGIN "
    f"DELETE FROM {FTS_TABLE} WHERE rowid = old.id; " + _SQLITE_INSERT + " END",
    f"CREATE TRIGGER IF NOT EXISTS {FTS_TABLE}_ad AFTER DELETE ON {TABLE} BEGIN "
    f"DELETE FROM {FTS_TABLE} WHERE rowid = old.id; END",
    # Backfill rows that exist before the index does.
    f"DELETE FROM {FTS_TABLE}",
    f"INSERT INTO {FTS_TABLE}(rowid, title, cause, body) SELECT id, "
    + ", ".join(col.replace("new.", "") for col in _SQLITE_COLUMNS)
    + f" FROM {TABLE}",
]
_SQLITE_REMOVE = [
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ai",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_au",
    f"DROP TRIGGER IF EXISTS {FTS_TABLE}_ad",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


def install_search_index(schema_editor) -> None:
    """Create the engine's full-text index (migration helper).

    SQLite note: Django rebuilds a table to alter it on SQLite, which drops its
    triggers; a later migration that alters ``PostMortem`` must call this again
    (it is idempotent and backfills the index).

    Raises:
        ImproperlyConfigured: for a database other than PostgreSQL or SQLite
            (the project supports those two).
    """
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        statements = _PG_INSTALL
    elif vendor == "sqlite":
        statements = _SQLITE_INSTALL
    else:
        raise ImproperlyConfigured(
            f"No full-text search for database vendor {vendor!r}: use PostgreSQL or SQLite."
        )
    for sql in statements:
        schema_editor.execute(sql)


def remove_search_index(schema_editor) -> None:
    """Drop what ``install_search_index`` created (migration helper)."""
    vendor = schema_editor.connection.vendor
    for sql in _PG_REMOVE if vendor == "postgresql" else _SQLITE_REMOVE:
        schema_editor.execute(sql)


# --- query parsing ---------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    words: tuple[str, ...]
    negated: bool = False


def _parse_websearch(query: str) -> list[_Term | str]:
    """Split websearch syntax into terms and ``"OR"`` markers.

    Mirrors PostgreSQL's ``websearch_to_tsquery``: unquoted words are ANDed,
    ``"quoted text"`` is a phrase, ``or`` between terms means either, and a
    leading ``-`` excludes. Punctuation inside a word splits it into a phrase
    ("leap-second" → the phrase "leap second"). Stop words are dropped.
    """
    parts: list[_Term | str] = []
    for match in _WEBSEARCH_TOKEN.finditer(query):
        neg_phrase, phrase, bare = match.groups()
        if bare is not None and bare.lower() == "or":
            parts.append("OR")
            continue
        negated = bool(neg_phrase) or (bare is not None and bare.startswith("-"))
        text = phrase if phrase is not None else bare.lstrip("-")
        words = tuple(w.lower() for w in _WORD.findall(text) if w.lower() not in STOP_WORDS)
        if words:
            parts.append(_Term(words=words, negated=negated))
    return parts


def to_fts5_query(query: str) -> str:
    """Translate websearch syntax into a safe SQLite FTS5 MATCH expression.

    Precedence follows PostgreSQL's ``websearch_to_tsquery``: AND binds tighter
    than ``or``, so ``memory leak or disk full`` means (memory AND leak) OR
    (disk AND full); an excluded term belongs to its own ``or`` group. Every word
    is emitted as a double-quoted FTS5 string, so user input can never inject
    FTS5 operators or column filters.

    Args:
        query: what the user typed, e.g. ``leap second -"google cloud" or dns``.

    Returns:
        An FTS5 expression such as ``("leap" AND "second") NOT "google cloud"`` or
        ``""`` when the query holds no searchable word (callers then match nothing).
        A group made only of exclusions is dropped: FTS5 cannot express
        "everything but", which PostgreSQL would match.
    """
    groups: list[list[_Term]] = [[]]
    for part in _parse_websearch(query):
        if part == "OR":
            if groups[-1]:
                groups.append([])
            continue
        assert isinstance(part, _Term)
        groups[-1].append(part)
    expressions: list[str] = []
    for group in groups:
        positives = ['"' + " ".join(t.words) + '"' for t in group if not t.negated]
        if not positives:
            continue
        expression = " AND ".join(positives)
        for term in group:
            if term.negated:
                expression = f'({expression}) NOT "{" ".join(term.words)}"'
        expressions.append(expression)
    if len(expressions) == 1:
        return expressions[0]
    return " OR ".join(f"({e})" for e in expressions)


# --- selectors -------------------------------------------------------------------


def _vendor() -> str:
    return connection.vendor


def _no_matches(queryset: QuerySet) -> QuerySet:
    """An empty result with the ``search_rank`` annotation callers may read."""
    return queryset.none().annotate(search_rank=RawSQL("0", [], FloatField()))


def search_postmortems(queryset: QuerySet, query: str) -> QuerySet:
    """Keep the post-mortems matching ``query`` and rank them, best first.

    Args:
        queryset: any ``PostMortem`` queryset (already filtered for the user).
        query: websearch syntax — words (ANDed), "quoted phrases", ``or``,
            ``-excluded``. Blank or stop-word-only queries match nothing.

    Returns:
        The queryset filtered to matches, annotated with ``search_rank`` (float,
        higher is better; comparable only within one engine) and ordered by it,
        then by newest start. On PostgreSQL only the newest ``RANK_CANDIDATES``
        matches are ranked and returned (so a count of the result is capped
        there): the trade-off that keeps a common word's search bounded at 100k
        documents (docs/benchmarks.md). SQLite ranks every match (FTS5's bm25 is
        read during the index scan). On PostgreSQL the ranking statement runs
        now, on the queryset as given: filter before searching, not after.
    """
    query = (query or "").strip()
    if _vendor() == "postgresql":
        return _rank_on_postgresql(queryset, query)
    expression = to_fts5_query(query)
    if not expression:
        return _no_matches(queryset)
    # One FTS5 scan joined to the documents by rowid: bm25() is read from the
    # matching row itself (a correlated subquery would run a second MATCH per
    # match, ~6x slower at 10k documents; docs/benchmarks.md). bm25 is
    # lower-is-better; negated so both engines sort descending.
    joined = queryset.extra(  # noqa: S610 - constant table names; the user's text is a parameter
        tables=[FTS_TABLE],
        where=[f"{FTS_TABLE} MATCH %s", f'{FTS_TABLE}.rowid = "{TABLE}"."id"'],
        params=[expression],
    )
    rank = RawSQL(f"-bm25({FTS_TABLE}, 10.0, 4.0, 1.0)", [], FloatField())
    return joined.annotate(search_rank=rank).order_by("-search_rank", "-started_at", "-id")


def _rank_on_postgresql(queryset: QuerySet, query: str) -> QuerySet:
    """PostgreSQL's half of ``search_postmortems``: rank once, then page by primary key.

    One statement finds the candidates (the newest ``RANK_CANDIDATES`` matches
    the caller's queryset allows, by one of the three ways ``_candidate_plan``
    chooses) and ranks them with ``ts_rank_cd``; its ids come back in rank
    order. The queryset returned is filtered to those ids and ordered by their
    position, so counting it and fetching a page are primary-key look-ups instead
    of two more runs of the candidate search (they were: ~3x the raw statement at
    100k documents, docs/benchmarks.md). The statement runs when this function is
    called: apply every other filter first (``filters.PostMortemFilter`` applies
    ``q`` last).
    """
    # Unqualified: Django's compiler names the table without an alias here.
    found = queryset.filter(RawSQL(f"search_vector @@ {_PG_TSQUERY}", [query], BooleanField()))
    try:
        plan = _candidate_plan(query)
        if plan == COLLECT:
            # Every match, then the newest RANK_CANDIDATES of them. MATERIALIZED keeps
            # PostgreSQL from turning this back into the started_at walk.
            sql, params = found.order_by().values("pk", "started_at").query.sql_with_params()
            newest = (
                f'WITH matched AS MATERIALIZED ({sql}) SELECT matched."pk" FROM matched '
                f'ORDER BY matched."started_at" DESC, matched."pk" DESC LIMIT {int(RANK_CANDIDATES)}'
            )
        elif plan == PREFILTER:
            # Every document holding the phrase's words (GIN, no position check),
            # newest first; then the phrase is checked one document at a time in
            # that order until RANK_CANDIDATES pass. The OFFSET 0 fences keep the
            # order: without them PostgreSQL merges or hashes the two and checks all.
            words = queryset.filter(
                RawSQL(f"search_vector @@ {_PG_WORDS_TSQUERY}", [query] * 3, BooleanField())
            )
            sql, params = words.order_by().values("pk", "started_at").query.sql_with_params()
            params = (*params, query)
            newest = (
                f'WITH worded AS MATERIALIZED ({sql}) SELECT s."pk" FROM ('
                'SELECT worded."pk", worded."started_at" FROM worded '
                'ORDER BY worded."started_at" DESC, worded."pk" DESC OFFSET 0) AS s '
                f'CROSS JOIN LATERAL (SELECT 1 FROM "{TABLE}" AS phrased WHERE phrased.id = s."pk" '
                f"AND phrased.search_vector @@ {_PG_TSQUERY} OFFSET 0) AS checked "
                f'ORDER BY s."started_at" DESC, s."pk" DESC LIMIT {int(RANK_CANDIDATES)}'
            )
        else:
            candidates = found.order_by("-started_at", "-id").values("pk")[:RANK_CANDIDATES]
            sql, params = candidates.query.sql_with_params()
            # The wrapper keeps one column when the caller's queryset is DISTINCT
            # (Django then selects the ordering column too).
            newest = f'SELECT candidates."pk" FROM ({sql}) AS candidates'
    except EmptyResultSet:  # the caller's queryset matches nothing (e.g. pk__in=[])
        return _no_matches(queryset)
    with connection.cursor() as cursor:
        # ts_rank_cd reads (detoasts) each candidate's tsvector: bounding the
        # candidates is what keeps a common word's search bounded at 100k documents.
        cursor.execute(
            f'SELECT id, ts_rank_cd(search_vector, {_PG_TSQUERY}) AS rank FROM "{TABLE}" '  # noqa: S608 - constant names
            f"WHERE id = ANY(ARRAY({newest})) "
            "ORDER BY rank DESC, started_at DESC, id DESC",
            [query, *params],
        )
        ranked = cursor.fetchall()
    ids = [row[0] for row in ranked]
    ranks = [float(row[1]) for row in ranked]
    ranked = _with_ids(queryset, ids).annotate(**_rank_annotations(ids, ranks)).order_by("search_position")
    ranked.__class__ = _ranked_class(type(ranked))
    ranked._ranked = (ids, ranks, _shape(ranked))
    return ranked


def _rank_annotations(ids: list[int], ranks: list[float]) -> dict[str, RawSQL]:
    """``search_rank`` (float) and ``search_position`` (1-based int) of each row, read
    from the ranked ids and ranks (two arrays sent with the statement)."""
    position = f'array_position(%s::bigint[], "{TABLE}"."id")'
    return {
        "search_rank": RawSQL(f"(%s::float8[])[{position}]", [ranks, ids], FloatField()),
        "search_position": RawSQL(position, [ids], IntegerField()),
    }


_PG_TSQUERY = "websearch_to_tsquery('english'::regconfig, %s)"
# The same query with every phrase operator (<-> and <N>) turned into AND: a
# superset of its matches (a document holding a phrase holds each of its words)
# that the GIN index answers without re-reading word positions. Three parameters,
# the query each time. The rewrite is done on the query's text form only when
# that text is plain quoted lexemes and operators; anything else (a lexeme with
# "<", ">" or "!" in it) keeps the query as it is, which is still a superset.
_PG_WORDS_TSQUERY = (
    f"(CASE WHEN {_PG_TSQUERY}::text ~ '^(''[^''<>!]*''|[ &|!()]|<(-|[0-9]+)>)*$' "
    f"THEN regexp_replace({_PG_TSQUERY}::text, '<(-|[0-9]+)>', '&', 'g')::tsquery "
    f"ELSE {_PG_TSQUERY} END)"
)

# The three ways _rank_on_postgresql finds the newest RANK_CANDIDATES matches.
WALK = "walk"
COLLECT = "collect"
PREFILTER = "prefilter"

# Above this many estimated matches a query walks the started_at index (see
# _candidate_plan): the square root of COLLECT_EVERY_MATCH_FACTOR * documents,
# and never more than a tenth of the documents.
COLLECT_EVERY_MATCH_FACTOR = 1000


def _candidate_plan(query: str) -> str:
    """How to find "the newest ``RANK_CANDIDATES`` matches" of ``query`` on PostgreSQL.

    * ``WALK``: walk the ``started_at`` index newest first and test each row's
      tsvector: about ``RANK_CANDIDATES * documents / matches`` rows, each read
      out of TOAST (~13 µs) before session 9, from the row itself since
      (``PG_SEARCH_VECTOR_INLINE``). The planner's own choice, and the best one for a
      common term (it stops after a few hundred rows) or a very rare one (the
      planner then uses the GIN index itself).
    * ``COLLECT`` (no phrase in the query): take every match from the GIN index
      and sort them (``matches`` heap rows, ~4 µs each, no tsvector read). The
      planner costs the tsvector read like any operator, so it walks even when a
      few thousand matches would be cheaper to collect: at 100k documents
      "traffic spike" (~7,000 matches) took 61 ms by the walk and 23 ms
      collected, "dns resolution" 60 and 24 (docs/benchmarks.md).
    * ``PREFILTER`` (a quoted phrase or hyphenated word): collect every document
      holding the phrase's words (``_PG_WORDS_TSQUERY``, from the GIN index
      without a position check), sort them newest first and check the phrase on
      each in that order until enough pass. A phrase's own GIN matches must each
      be re-read for word positions, so collecting them costs more than the walk
      (165 ms against 31 ms for "packet loss" at 100k); the walk in turn reads
      every row it passes, those without the words too: 67 ms for "health
      check" and 48 ms for "leap second" at 100k, 15 and 11 ms prefiltered
      (session 8, docs/benchmarks.md).

    Collecting (either kind) is chosen when the planner estimates at most
    ``sqrt(COLLECT_EVERY_MATCH_FACTOR * documents)`` matches of the words
    (10,000 at 100k documents, where the walk and the collection were measured
    to cross with the tsvector in TOAST; with it in the row, session 9 measured
    the two within noise of each other between ~2,000 and ~10,000 matches, so the
    bound was left) and at most a tenth of the documents (beyond that PostgreSQL
    collects with a sequential scan that reads every tsvector: at 10k documents
    "failover" went from 15 to 43 ms). The estimate is the planner's own
    (``EXPLAIN``, from ``ANALYZE``'s lexeme statistics; PostgreSQL estimates a
    phrase as its words together, which is what is wanted here): one planning
    round trip of ~0.6 ms, made for every query so that a search makes the same
    number of queries whatever its text. For a phrase query the same ``EXPLAIN``
    also estimates each word on its own, and the words together count as the
    geometric mean of the planner's figure and their rarest word's documents
    (``_at_most``): PostgreSQL takes words to be independent, and the words of a
    phrase seldom are ("packet loss" was estimated at 8,374 documents at 100k
    and is in 16,602).

    A query that excludes a phrase (``-"google cloud"``) walks: turning that
    phrase into its words would exclude more than the query does.

    Args:
        query: websearch syntax, as given to ``search_postmortems``.

    Returns:
        ``WALK``, ``COLLECT`` or ``PREFILTER``.
    """
    parts = _parse_websearch(query)
    terms = [part for part in parts if isinstance(part, _Term)]
    phrase = any(len(term.words) > 1 for term in terms)
    # Each word of a phrase query on its own too (at most _MAX_ESTIMATED_WORDS).
    words = sorted({w for t in terms if not t.negated for w in t.words}) if phrase else []
    words = words if len(words) <= _MAX_ESTIMATED_WORDS else []
    with connection.cursor() as cursor:
        # One statement, several estimates: the matches of the words together, the
        # table's rows, then each word's matches.
        cursor.execute(
            f'EXPLAIN (FORMAT JSON) SELECT 1 FROM "{TABLE}" '  # noqa: S608 - constant names
            f"WHERE search_vector @@ {_PG_WORDS_TSQUERY} "
            f'UNION ALL SELECT 1 FROM "{TABLE}"' + _PG_ONE_WORD_BRANCH * len(words),
            [query] * 3 + words,
        )
        plan = cursor.fetchone()[0]
    if any(term.negated and len(term.words) > 1 for term in terms):
        return WALK
    if isinstance(plan, str):
        plan = json.loads(plan)
    branches = plan[0]["Plan"].get("Plans", [])
    if len(branches) != 2 + len(words):
        return WALK
    matches, documents, *word_matches = (branch["Plan Rows"] for branch in branches)
    if phrase:
        # PostgreSQL multiplies the words' frequencies as if they were independent,
        # which under-counts the words of a phrase, as they come together: at 100k
        # "packet loss" was estimated at 8,374 documents and is in 16,602 (collecting
        # them took 57 ms, the walk 26), "health check" at 3,637 and is in 7,309.
        # The truth lies between that figure and the rarest word's (21,270 and
        # 15,277): their geometric mean is used (13,346: walk; 7,454: collect, 15 ms
        # against the walk's 67). On the 100k corpus it chose the faster way for 11
        # of the benchmark's 12 phrases; "power outage" walks (284 ms) where the
        # prefilter would take 181 (its words are together in 30,269 documents,
        # adjacent in 1,544). Session 8, docs/benchmarks.md.
        bound = _at_most(parts, dict(zip(words, word_matches, strict=True)), documents)
        matches = max(matches, math.sqrt(matches * bound))
    # Past a tenth of the table PostgreSQL collects with a sequential scan, which
    # reads every tsvector (at 10k documents "failover" went from 15 to 43 ms).
    if matches * matches > COLLECT_EVERY_MATCH_FACTOR * documents or matches > documents / 10:
        return WALK
    return PREFILTER if phrase else COLLECT


# A phrase query with more distinct words than this is estimated as a whole only.
_MAX_ESTIMATED_WORDS = 8
_PG_ONE_WORD_BRANCH = (
    f" UNION ALL SELECT 1 FROM \"{TABLE}\" WHERE search_vector @@ plainto_tsquery('english'::regconfig, %s)"
)


def _at_most(parts: list[_Term | str], word_matches: dict[str, float], documents: float) -> float:
    """An upper bound of the documents matching the words of ``parts`` (websearch
    terms and ``"OR"`` markers, as ``_parse_websearch`` gives them): per ``or``
    group, the estimate of its rarest positive word; summed over the groups. A
    group without a positive word, or a word not estimated, counts as every
    document."""
    total = 0.0
    group: list[_Term] = []
    for part in [*parts, "OR"]:
        if part != "OR":
            group.append(part)
            continue
        if group:
            positive = [w for t in group if not t.negated for w in t.words]
            total += min((word_matches.get(w, documents) for w in positive), default=documents)
        group = []
    return min(total, documents)


class _RankedIds(RawSQL):
    """The condition "the row is one of these ids" that ``_with_ids`` adds (marked
    so that ``_RankedResults`` can find it again and narrow it to one page)."""


def _with_ids(queryset: QuerySet, ids: list[int]) -> QuerySet:
    return queryset.filter(_RankedIds(f'"{TABLE}"."id" = ANY(%s::bigint[])', [ids], BooleanField()))


def _narrow_ids(queryset: QuerySet, ids: list[int]) -> bool:
    """Replace, in place, the ranked-ids condition of ``queryset`` (a fresh clone)
    with one on ``ids``; False when there is none at the top level of its WHERE.

    A second ``id = ANY(…)`` next to the first made PostgreSQL cost an index scan
    as one descent per pair of ids (500 x 20) and scan the whole table instead:
    at 100k documents the "similar post-mortems" page of 5 took ~60 ms with a
    parallel sequential scan (session 9), and the API's page of 20 paid for it too.
    """
    where = queryset.query.where
    if where.connector != "AND" or where.negated:
        return False
    for index, child in enumerate(where.children):
        if isinstance(getattr(child, "lhs", None), _RankedIds):
            narrowed = copy.copy(child)
            narrowed.lhs = copy.copy(child.lhs)
            narrowed.lhs.params = [ids]
            where.children[index] = narrowed
            return True
    return False


def _shape(queryset: QuerySet) -> tuple:
    """What a later filter, join, ``distinct`` or ``order_by`` would change about a query."""
    query = queryset.query
    return (len(query.where.children), len(query.alias_map), query.distinct, tuple(query.order_by))


class _RankedResults:
    """Mixin for the queryset ``_rank_on_postgresql`` returns: it knows its rows.

    The ranking statement already produced the ids in rank order, so while the
    queryset is used as returned (no further filter, join, ``distinct`` or
    ``order_by``), ``count()`` is their number (no query) and a slice ``[a:b]``
    fetches only the ids at positions ``a``..``b-1`` instead of sorting every
    candidate by position and taking a page: at 100k documents that took a page
    of 20 from ~16 ms of SQL to ~4 ms (docs/benchmarks.md). Anything else falls
    back to the plain queryset behaviour.
    """

    _ranked: tuple[list[int], list[float], tuple] | None = None

    def _clone(self):
        clone = super()._clone()
        clone._ranked = self._ranked
        return clone

    def _ranked_ids(self) -> list[int] | None:
        if self._ranked is None or self._result_cache is not None:
            return None
        ids, _ranks, shape = self._ranked
        return ids if shape == _shape(self) else None

    def count(self) -> int:
        ids = self._ranked_ids()
        return len(ids) if ids is not None else super().count()

    def __getitem__(self, k):
        ids = self._ranked_ids()
        if ids is None or not isinstance(k, slice) or k.step is not None:
            return super().__getitem__(k)
        start, stop = k.start or 0, len(ids) if k.stop is None else k.stop
        if start < 0 or stop < 0:
            return super().__getitem__(k)  # Django refuses negative indexes
        page = self._chain()
        if not _narrow_ids(page, ids[start:stop]):
            page = _with_ids(self, ids[start:stop])
        # The page's own ids and ranks only: the full arrays (500 of each, three
        # times over) made the statement ~10 kB and cost ~2 ms to send and parse.
        # Same order and values; the clone's annotations are its own dict.
        page.query.annotations.update(_rank_annotations(ids[start:stop], self._ranked[1][start:stop]))
        return page


@cache
def _ranked_class(base: type) -> type:
    return type(f"Ranked{base.__name__}", (_RankedResults, base), {})


@dataclass(frozen=True)
class SnippetPart:
    """A piece of a search snippet; ``hit`` is True for a matched word."""

    text: str
    hit: bool


def _split_marked(raw: str) -> list[SnippetPart]:
    parts: list[SnippetPart] = []
    for chunk in re.split(f"({HIT_START}.*?{HIT_END})", raw, flags=re.DOTALL):
        if not chunk:
            continue
        if chunk.startswith(HIT_START) and chunk.endswith(HIT_END):
            parts.append(SnippetPart(chunk[1:-1], True))
        else:
            parts.append(SnippetPart(chunk.replace(HIT_START, "").replace(HIT_END, ""), False))
    return parts


def snippets_for(ids: list[int], query: str) -> dict[int, list[SnippetPart]]:
    """Highlighted excerpts for the given post-mortem ids.

    Run it on one page of results only: highlighting reads each document's text.

    Args:
        ids: primary keys of ``PostMortem`` rows (typically ≤ 100).
        query: the same websearch query given to ``search_postmortems``.

    Returns:
        ``{id: [SnippetPart, ...]}``; ids without a match in their body text are
        absent. Parts hold plain text (Markdown bold markers and code ticks
        removed): templates escape it and wrap hits in ``<mark>``.
    """
    query = (query or "").strip()
    if not ids or not query:
        return {}
    with connection.cursor() as cursor:
        if _vendor() == "postgresql":
            options = (
                f'StartSel="{HIT_START}", StopSel="{HIT_END}", MaxWords=30, MinWords=12, '
                'MaxFragments=2, FragmentDelimiter=" … "'
            )
            # Highlight the first part that matches the whole query on its own, as
            # the SQLite path does: "what happened"/"why" (weight B), else the rest
            # (weight C), else everything (a match that spans both). ts_headline
            # parses the text it is given (~0.35 ms a document at 2.7 kB), so
            # handing it one part halves the snippet query (docs/benchmarks.md);
            # the test reads the stored tsvector, which parses nothing.
            cursor.execute(
                "SELECT id, CASE "
                "WHEN ts_filter(search_vector, '{b}') @@ q THEN ts_headline('english'::regconfig, "
                "concat_ws(E'\\n', what_happened, why_it_happened), q, %s) "
                "WHEN ts_filter(search_vector, '{c}') @@ q THEN ts_headline('english'::regconfig, "
                "concat_ws(E'\\n', what_we_change, what_we_dont_change, search_body), q, %s) "
                "ELSE ts_headline('english'::regconfig, concat_ws(E'\\n', what_happened, "
                "why_it_happened, what_we_change, what_we_dont_change, search_body), q, %s) END "
                f"FROM {TABLE}, websearch_to_tsquery('english'::regconfig, %s) AS q WHERE id = ANY(%s)",
                [options, options, options, query, list(ids)],
            )
            rows = cursor.fetchall()
        else:
            expression = to_fts5_query(query)
            if not expression:
                return {}
            placeholders = ",".join("%s" for _ in ids)
            # Excerpts come from the sections (columns 1 and 2), not the title,
            # which the page shows anyway; the first column with a hit wins.
            cursor.execute(
                f"SELECT rowid, snippet({FTS_TABLE}, 1, %s, %s, ' … ', 24), "
                f"snippet({FTS_TABLE}, 2, %s, %s, ' … ', 24) FROM {FTS_TABLE} "
                f"WHERE {FTS_TABLE} MATCH %s AND rowid IN ({placeholders})",
                [HIT_START, HIT_END, HIT_START, HIT_END, expression, *ids],
            )
            rows = [
                (pk, cause if cause and HIT_START in cause else body) for pk, cause, body in cursor.fetchall()
            ]
    result: dict[int, list[SnippetPart]] = {}
    for pk, raw in rows:
        if raw and HIT_START in raw:
            result[pk] = _split_marked(" ".join(_SNIPPET_MARKUP.sub("", raw).split()))
    return result


def snippet_html(parts: list[SnippetPart]) -> str:
    """Serialise snippet parts as escaped text with ``<mark>`` around hits (for the API)."""
    return "".join(f"<mark>{escape(p.text)}</mark>" if p.hit else escape(p.text) for p in parts)


def attach_snippets(postmortems, query: str) -> None:
    """Set ``.search_snippet`` (a list of ``SnippetPart``, maybe empty) on each object."""
    items = list(postmortems)
    found = snippets_for([pm.pk for pm in items], query)
    for pm in items:
        pm.search_snippet = found.get(pm.pk, [])


def search_capped(count: int) -> bool:
    """True when a search's ``count`` is the ranking bound, not the number of matches.

    Only PostgreSQL bounds the ranked set (``RANK_CANDIDATES``); there, a count
    equal to the bound means "at least this many".
    """
    return _vendor() == "postgresql" and count >= RANK_CANDIDATES
