"""Full-text search behaves the same on PostgreSQL and SQLite (run the suite on both)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from postmortems.models import PostMortem
from postmortems.search import attach_snippets, search_postmortems, snippet_html, to_fts5_query
from postmortems.services import postmortem_save
from tests.factories import PostMortemFactory, UserFactory


def keys(queryset):
    return [pm.title for pm in queryset]


@pytest.fixture
def corpus(db):
    PostMortemFactory(
        title="Leap second froze the scheduler",
        what_happened="Hosts spun at 100% CPU after the clock stepped.",
        why_it_happened="The kernel timer handled the inserted second badly.",
    )
    PostMortemFactory(
        title="Checkout outage",
        what_happened="Payments failed. A leap second was mentioned in passing.",
        why_it_happened="A retry storm against the card gateway.",
    )
    PostMortemFactory(
        title="BGP route leak took the edge offline",
        what_happened="DNS resolvers became unreachable when routes were withdrawn.",
        why_it_happened="A router configuration change withdrew all prefixes.",
    )
    PostMortemFactory(
        title="Expired TLS certificate on the API gateway",
        what_happened="Clients saw handshake failures.",
        why_it_happened="The certificate expired; renewal was manual.",
    )


def test_title_matches_rank_above_body_matches(corpus):
    results = keys(search_postmortems(PostMortem.objects.all(), "leap second"))
    assert results == ["Leap second froze the scheduler", "Checkout outage"]


def test_words_are_anded_and_stemmed(corpus):
    assert keys(search_postmortems(PostMortem.objects.all(), "certificates expire")) == [
        "Expired TLS certificate on the API gateway"
    ]
    assert keys(search_postmortems(PostMortem.objects.all(), "certificate storm")) == []


def test_or_phrases_and_exclusion(corpus):
    either = set(keys(search_postmortems(PostMortem.objects.all(), "bgp or certificate")))
    assert either == {"BGP route leak took the edge offline", "Expired TLS certificate on the API gateway"}
    phrase = keys(search_postmortems(PostMortem.objects.all(), '"route leak"'))
    assert phrase == ["BGP route leak took the edge offline"]
    assert keys(search_postmortems(PostMortem.objects.all(), '"leak route"')) == []
    excluded = keys(search_postmortems(PostMortem.objects.all(), "leap -gateway"))
    assert excluded == ["Leap second froze the scheduler"]


def test_or_binds_looser_than_and_on_both_engines(corpus):
    # (leap AND scheduler) OR (route AND leak), as websearch_to_tsquery reads it.
    found = set(keys(search_postmortems(PostMortem.objects.all(), "leap scheduler or route leak")))
    assert found == {"Leap second froze the scheduler", "BGP route leak took the edge offline"}


def test_search_keeps_other_filters(corpus):
    only = PostMortem.objects.filter(title__startswith="Checkout")
    assert keys(search_postmortems(only, "leap")) == ["Checkout outage"]


@pytest.mark.parametrize(
    "query",
    [
        "title:leap",
        '"unbalanced',
        "NEAR(leap second)",
        "leap*",
        "AND OR NOT",
        "-",
        "')); DROP TABLE postmortems_postmortem; --",
        "^leap",
        "leap:",
        "{title}: leap",
        "the of and",
        "",
        "   ",
        "ü ß ø — 😀",
    ],
)
def test_hostile_or_empty_queries_never_error(corpus, query):
    results = list(search_postmortems(PostMortem.objects.all(), query))
    assert all(isinstance(pm, PostMortem) for pm in results)
    assert PostMortem.objects.count() == 4


def test_stop_word_only_query_matches_nothing(corpus):
    assert keys(search_postmortems(PostMortem.objects.all(), "the of and")) == []


def test_rows_are_searchable_after_a_save_through_services(db):
    owner = UserFactory()
    pm = PostMortemFactory(title="Queue backlog")
    postmortem_save(
        postmortem=pm,
        fields={},
        action_items=[
            {
                "text": "Add a canary for the zookeeper quorum",
                "kind": "check",
                "owner": owner,
                "due_date": pm.started_at.date(),
                "status": "open",
            }
        ],
        timeline=[{"at": pm.started_at, "text": "Paged the storage rotation", "evidence_url": ""}],
    )
    assert keys(search_postmortems(PostMortem.objects.all(), "zookeeper")) == ["Queue backlog"]
    assert keys(search_postmortems(PostMortem.objects.all(), "rotation")) == ["Queue backlog"]
    postmortem_save(postmortem=pm, fields={}, action_items=[], timeline=[])
    assert keys(search_postmortems(PostMortem.objects.all(), "zookeeper")) == []


def test_title_edit_updates_the_index(corpus):
    pm = PostMortem.objects.get(title="Checkout outage")
    postmortem_save(postmortem=pm, fields={"title": "Checkout outage during flamingo sale"})
    assert keys(search_postmortems(PostMortem.objects.all(), "flamingo")) == [
        "Checkout outage during flamingo sale"
    ]


def test_deleted_documents_leave_the_index(corpus):
    PostMortem.objects.filter(title__startswith="BGP").delete()
    assert keys(search_postmortems(PostMortem.objects.all(), "bgp")) == []


def test_snippets_highlight_hits_and_escape_text(db):
    pm = PostMortemFactory(
        title="Gateway errors",
        what_happened="The <script>alert(1)</script> banner broke when the gateway timed out.",
    )
    attach_snippets([pm], "gateway")
    parts = pm.search_snippet
    assert any(part.hit and part.text.lower().startswith("gateway") for part in parts)
    html = snippet_html(parts)
    assert "<mark>" in html and "<script>" not in html
    # SQLite keeps the tag text (escaped here); PostgreSQL's parser drops tags.
    assert "&lt;script&gt;" in html or "script" not in html


def test_snippets_drop_markdown_bold_and_code_marks(db):
    pm = PostMortemFactory(
        title="Gateway errors",
        what_happened="**Contributing factors:** the `gateway_timeout` setting was zero.",
    )
    attach_snippets([pm], "gateway")
    text = "".join(part.text for part in pm.search_snippet)
    assert "Contributing factors:" in text
    assert "**" not in text and "`" not in text


def test_snippets_for_empty_input(db):
    pm = PostMortemFactory()
    attach_snippets([pm], "")
    assert pm.search_snippet == []


def test_the_engine_in_use_has_its_index(db):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'pm_search_vector_gin'")
            assert "gin" in cursor.fetchone()[0].lower()
        else:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            triggers = {row[0] for row in cursor.fetchall()}
            assert {"postmortems_search_ai", "postmortems_search_au", "postmortems_search_ad"} <= triggers


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("leap second", '"leap" AND "second"'),
        ("leap-second", '"leap second"'),
        ('"route leak" bgp', '"route leak" AND "bgp"'),
        ("dns or bgp", '("dns") OR ("bgp")'),
        ("memory leak or disk full", '("memory" AND "leak") OR ("disk" AND "full")'),
        ("a1 -b2 or c3", '(("a1") NOT "b2") OR ("c3")'),
        ("or or dns", '"dns"'),
        ("dns or -bgp", '"dns"'),
        ("outage -aws", '("outage") NOT "aws"'),
        ("title:x NEAR(", '"title x" AND "near"'),
        ("the and", ""),
        ("-only", ""),
    ],
)
def test_websearch_syntax_becomes_quoted_fts5(query, expected):
    assert to_fts5_query(query) == expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the candidate bound is PostgreSQL's")
def test_postgresql_ranks_the_newest_matches_only(db, monkeypatch):
    import datetime as dt

    from postmortems import search

    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    # The oldest document is the best match (title), the newest two only mention the word.
    best = PostMortemFactory(title="Replication lag", started_at=start)
    newer = [
        PostMortemFactory(
            title=f"Incident {n}",
            what_happened="Some replication noise.",
            started_at=start + dt.timedelta(days=n),
        )
        for n in (1, 2)
    ]
    everything = PostMortem.objects.all()
    assert [pm.pk for pm in search_postmortems(everything, "replication")][0] == best.pk
    monkeypatch.setattr(search, "RANK_CANDIDATES", 2)
    capped = search_postmortems(everything, "replication")
    assert {pm.pk for pm in capped} == {pm.pk for pm in newer}
    assert capped.count() == 2
    # The visibility filter applies to the candidates: an invisible newest match leaves room.
    visible = everything.exclude(pk=newer[1].pk)
    assert [pm.pk for pm in search_postmortems(visible, "replication")] == [best.pk, newer[0].pk]


def test_the_list_says_when_a_broad_search_is_capped(client, author, team, monkeypatch, settings):
    from django.db import connection

    from postmortems import search
    from tests.factories import PostMortemFactory

    monkeypatch.setattr(search, "RANK_CANDIDATES", 3)
    for n in range(4):
        PostMortemFactory(team=team, title=f"Kiwifruit outage {n}")
    client.force_login(author)
    html = client.get("/postmortems/", {"q": "kiwifruit"}).content.decode()
    if connection.vendor == "postgresql":
        assert "More than 3 post-mortems match" in html
    else:  # SQLite ranks every match: a true count
        assert "4 post-mortems found" in html


def test_searching_an_empty_queryset_matches_nothing(corpus):
    empty = PostMortem.objects.filter(pk__in=[])

    assert list(search_postmortems(empty, "leap second")) == []
    assert search_postmortems(PostMortem.objects.none(), "leap second").count() == 0


# --- snippets come from the part that matches (both engines) ----------------------------


def test_a_snippet_comes_from_what_happened_when_that_section_matches(db):
    pm = PostMortemFactory(
        what_happened="The quokka scheduler stalled for an hour.",
        why_it_happened="Nothing to do with marsupials.",
        what_we_change="Add a quokka dashboard.",
    )
    attach_snippets([pm], "quokka scheduler")
    text = "".join(part.text for part in pm.search_snippet)
    assert "stalled" in text and "dashboard" not in text
    assert [part.text.lower() for part in pm.search_snippet if part.hit] == ["quokka", "scheduler"]


def test_a_snippet_covers_a_match_that_spans_two_parts(db):
    pm = PostMortemFactory(
        what_happened="The wombat cluster ran hot.",
        why_it_happened="Load doubled.",
        what_we_change="Alert on numbat queue depth.",
    )
    attach_snippets([pm], "wombat numbat")
    hits = {part.text.lower() for part in pm.search_snippet if part.hit}
    # PostgreSQL highlights the whole text then; SQLite shows the first part with a hit.
    assert hits == ({"wombat", "numbat"} if connection.vendor == "postgresql" else {"wombat"})


# --- PostgreSQL: the ranked result knows its rows ------------------------------------------

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the ranked-ids queryset is PostgreSQL's search path"
)


@pytest.fixture
def kangaroos(db):
    import datetime as dt

    from django.utils import timezone

    start = timezone.make_aware(dt.datetime(2024, 1, 1))
    return [
        PostMortemFactory(
            title=f"Kangaroo outage {n}",
            what_happened="kangaroo " * (n + 1),
            started_at=start + dt.timedelta(days=n),
        )
        for n in range(6)
    ]


@needs_postgresql
def test_a_ranked_result_counts_and_pages_without_sorting_all(kangaroos, django_assert_num_queries):
    ranked = search_postmortems(PostMortem.objects.all(), "kangaroo")  # runs the ranking statement
    everything = list(search_postmortems(PostMortem.objects.all(), "kangaroo"))

    with django_assert_num_queries(0):
        assert ranked.count() == 6
    with django_assert_num_queries(1):
        page = list(ranked[2:4])
    assert page == everything[2:4]
    assert [pm.search_rank for pm in page] == [pm.search_rank for pm in everything[2:4]]
    assert list(ranked[4:]) == everything[4:]
    assert list(ranked[10:20]) == []


@needs_postgresql
def test_a_page_asks_for_its_own_ids_only(kangaroos):
    """One ``id = ANY(…)`` in the page statement, holding the page's ids: next to the
    ranked set's, a second one made PostgreSQL scan the whole table (session 9)."""
    from django.test.utils import CaptureQueriesContext

    pool = PostMortem.objects.filter(pk__in=[pm.pk for pm in kangaroos])
    ranked = search_postmortems(pool, "kangaroo")
    everything = list(search_postmortems(pool, "kangaroo"))
    with CaptureQueriesContext(connection) as captured:
        page = list(ranked[1:3])
    assert page == everything[1:3]
    assert ranked.count() == 6  # the ranked queryset itself is left as it was
    assert list(ranked) == everything
    (statement,) = [q["sql"] for q in captured.captured_queries]
    assert statement.count("= ANY(") == 1
    assert f"= ANY('{{{page[0].pk},{page[1].pk}}}'" in statement


@needs_postgresql
def test_a_ranked_result_filtered_or_reordered_afterwards_is_an_ordinary_queryset(kangaroos):
    ranked = search_postmortems(PostMortem.objects.all(), "kangaroo")
    oldest_two = kangaroos[:2]

    narrowed = ranked.filter(pk__in=[pm.pk for pm in oldest_two])
    assert narrowed.count() == 2
    assert set(narrowed[0:10]) == set(oldest_two)

    by_start = ranked.order_by("started_at")
    assert by_start.count() == 6
    assert list(by_start[0:2]) == oldest_two

    PostMortem.objects.filter(pk=kangaroos[0].pk).delete()
    fresh = ranked.all()
    assert len(fresh) == 5  # evaluating reads the rows, not the remembered ids
    assert fresh.count() == 5


def test_an_unsupported_database_gets_a_clear_configuration_error():
    from types import SimpleNamespace

    from django.core.exceptions import ImproperlyConfigured

    from postmortems.search import install_search_index

    executed = []
    editor = SimpleNamespace(connection=SimpleNamespace(vendor="mysql"), execute=executed.append)
    with pytest.raises(ImproperlyConfigured, match="use PostgreSQL or SQLite"):
        install_search_index(editor)
    assert executed == []


# --- PostgreSQL: three ways to find the newest candidates, one answer ----------------------


@needs_postgresql
@pytest.mark.parametrize("plan", ["walk", "collect", "prefilter"])
def test_every_way_of_finding_the_newest_candidates_ranks_the_same(kangaroos, monkeypatch, plan):
    from postmortems import search

    expected = [pm.pk for pm in sorted(kangaroos, key=lambda pm: pm.started_at, reverse=True)[:3]]
    monkeypatch.setattr(search, "RANK_CANDIDATES", 3)
    monkeypatch.setattr(search, "_candidate_plan", lambda query: plan)
    PostMortemFactory(title="A wallaby, not a match")

    ranked = search_postmortems(PostMortem.objects.all(), "kangaroo outage")
    # Only the newest three matches are ranked; the one with the most "kangaroo" wins.
    assert sorted(pm.pk for pm in ranked) == sorted(expected)
    assert [pm.pk for pm in ranked][0] == kangaroos[-1].pk
    assert ranked.count() == 3

    # A DISTINCT queryset (as a service filter makes) goes through either way too.
    distinct = search_postmortems(PostMortem.objects.distinct(), "kangaroo")
    assert [pm.pk for pm in distinct] == [pm.pk for pm in ranked]


@pytest.fixture
def wombat_phrases(db):
    """Six documents holding "wombat" and "burrow", newest first: the phrase "wombat
    burrow" in the 2nd, 4th and 6th newest only (the words apart in the others)."""
    import datetime as dt

    from django.utils import timezone

    start = timezone.make_aware(dt.datetime(2024, 1, 1))
    docs = []
    for n in range(6):
        adjacent = n % 2 == 0
        docs.append(
            PostMortemFactory(
                title=f"Incident {n}",
                what_happened="A wombat burrow collapsed." if adjacent else "The burrow held; a wombat left.",
                started_at=start + dt.timedelta(days=n),
            )
        )
    return docs


@needs_postgresql
@pytest.mark.parametrize("plan", ["walk", "collect", "prefilter"])
def test_a_phrase_finds_the_same_newest_candidates_every_way(wombat_phrases, monkeypatch, plan):
    from postmortems import search

    monkeypatch.setattr(search, "_candidate_plan", lambda query: plan)
    phrased = [pm.pk for pm in wombat_phrases if pm.what_happened.startswith("A wombat burrow")]

    found = search_postmortems(PostMortem.objects.all(), '"wombat burrow"')
    assert sorted(pm.pk for pm in found) == sorted(phrased)

    # The newest two phrase matches, not the newest two documents holding the words:
    # the prefilter checks the phrase newest first and stops when it has enough.
    monkeypatch.setattr(search, "RANK_CANDIDATES", 2)
    newest_two = search_postmortems(PostMortem.objects.all(), '"wombat burrow"')
    assert sorted(pm.pk for pm in newest_two) == sorted(phrased[-2:])
    # Filters applied before the search hold inside the prefilter too.
    older = search_postmortems(PostMortem.objects.filter(pk__lt=phrased[-1]), '"wombat burrow"')
    assert sorted(pm.pk for pm in older) == sorted(phrased[-3:-1])


@needs_postgresql
def test_the_plan_follows_the_estimate_of_the_words(kangaroos, monkeypatch):
    from postmortems import search

    # Generous bounds: every query here is estimated as collectable. Words are
    # collected, phrases (quoted, or a hyphenated word) prefiltered, and a query
    # excluding a phrase walks; each asks for one estimate (EXPLAIN of the words),
    # so the number of queries does not depend on the text.
    monkeypatch.setattr(search, "COLLECT_EVERY_MATCH_FACTOR", 10**9)
    with CaptureQueriesContext(connection) as queries:
        assert search._candidate_plan("kangaroo") == search.COLLECT
        assert search._candidate_plan("kangaroo outage") == search.COLLECT
        assert search._candidate_plan('"kangaroo outage"') == search.PREFILTER
        assert search._candidate_plan("kangaroo-outage") == search.PREFILTER
        assert search._candidate_plan('kangaroo -"outage report"') == search.WALK
    assert len(queries) == 5 and all(q["sql"].startswith("EXPLAIN") for q in queries)
    # The phrase is estimated as its words: the rewritten query holds no phrase operator.
    assert "<->" not in queries[2]["sql"] and "regexp_replace" in queries[2]["sql"]

    # Past the bound (here: any match at all), every query walks.
    monkeypatch.setattr(search, "COLLECT_EVERY_MATCH_FACTOR", 0)
    assert search._candidate_plan("kangaroo") == search.WALK
    assert search._candidate_plan('"kangaroo outage"') == search.WALK


@needs_postgresql
@pytest.mark.parametrize(
    ("query", "words"),
    [
        ('"power outage"', "'power' & 'outag'"),
        ('"leap second" or dns', "'leap' & 'second' | 'dns'"),
        ("leap-second", "'leap-second' & 'leap' & 'second'"),
        ('"root cause of the outage"', "'root' & 'caus' & 'outag'"),
        ("kangaroo -wallaby", "'kangaroo' & !'wallabi'"),
    ],
)
def test_the_words_of_a_phrase_query(db, query, words):
    from postmortems.search import _PG_WORDS_TSQUERY

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ({_PG_WORDS_TSQUERY})::text", [query] * 3)
        assert cursor.fetchone()[0] == words


@pytest.mark.parametrize(
    ("query", "bound"),
    [
        ('"packet loss"', 100),  # the rarer word
        ('"packet loss" or dns', 100 + 40),  # summed over or-groups
        ('"packet loss" -wallaby', 100),  # an excluded word bounds nothing
        ('"packet loss" kangaroo', 100),  # kangaroo was not estimated: every document
        ("-wallaby", 1000),  # no positive word: every document
        ('"loss packet" or "kangaroo wombat"', 1000),  # 100 + 1000, capped at the documents
    ],
)
def test_a_phrase_query_matches_at_most_its_rarest_words(query, bound):
    from postmortems.search import _at_most, _parse_websearch

    estimates = {"packet": 100, "loss": 300, "dns": 40, "wallaby": 1}
    assert _at_most(_parse_websearch(query), estimates, 1000) == bound


# --- PostgreSQL: where the tsvector is stored -----------------------------------------------


def _search_vector_storage() -> str:
    from postmortems.search import TABLE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'search_vector'",
            [TABLE],
        )
        return cursor.fetchone()[0]


@needs_postgresql
def test_the_search_vector_stays_in_the_row_and_the_migration_can_be_reversed(db):
    """STORAGE MAIN ('m'): searches read the tsvector of every row they pass without a
    TOAST look-up (postmortems.search.PG_SEARCH_VECTOR_INLINE); EXTENDED ('x') is
    PostgreSQL's default, which the reverse migration puts back."""
    import importlib

    migration = importlib.import_module("postmortems.migrations.0008_search_vector_inline")
    assert _search_vector_storage() == "m"
    with connection.schema_editor() as editor:
        migration.default(None, editor)
    assert _search_vector_storage() == "x"
    with connection.schema_editor() as editor:
        migration.inline(None, editor)
    assert _search_vector_storage() == "m"
    # Searching is unchanged by where the value lives.
    PostMortemFactory(title="Kept in the row", what_happened="A wombat chewed the fibre. " * 200)
    assert keys(search_postmortems(PostMortem.objects.all(), "wombat fibre")) == ["Kept in the row"]


def _started_index_definition() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'pm_started_idx'")
        return cursor.fetchone()[0]


@needs_postgresql
def test_the_started_at_index_carries_the_visibility_columns_and_can_be_put_back(db):
    """Factor history reads earlier documents from this index alone (migration 0009)."""
    import importlib

    migration = importlib.import_module("postmortems.migrations.0009_started_index_covers_visibility")
    covering = "INCLUDE (deleted_at, team_id, visibility, facilitator_id, created_by_id, created_at)"
    assert "(started_at DESC, id DESC)" in _started_index_definition()
    assert covering in _started_index_definition()
    with connection.schema_editor() as editor:
        migration.plain(None, editor)
    assert "(started_at DESC, id DESC)" in _started_index_definition()
    assert "INCLUDE" not in _started_index_definition()
    with connection.schema_editor() as editor:
        migration.covering(None, editor)
    assert covering in _started_index_definition()
