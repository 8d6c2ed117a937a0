"""Quick mode of the benchmark suite: 1,000 synthetic post-mortems, structural checks only.

``make bench`` measures; this checks, in a few seconds, the properties the
measurements rely on — never a timing:

* the bulk loader stores what the import path stores (so the 10k/100k figures
  are about the same data);
* SQL query counts do not grow with the page size or with a document's rows;
* the API and the raw-SQL floor return the same ranked first page;
* ripgrep over the Markdown export and the API agree on which documents hold a
  rare term (skipped, with a message, when ``rg`` is not installed).

The corpus is loaded once for the module inside a transaction that is rolled
back at the end; each test runs in a savepoint inside it (every test asks for
``db``, so pytest-django keeps the module's tests together).
"""

from __future__ import annotations

import re
import shutil
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from bench import loader
from bench.breakdown import format_breakdown, search_breakdown, statement_kind
from bench.corpus import CODENAMES, generate, iter_documents
from bench.queries import QUERIES, raw_sql_top, ripgrep_files
from bench.vocabulary import load_vocabulary
from postmortems.exchange.markdown_format import render_postmortem_markdown
from postmortems.models import PostMortem
from postmortems.services import build_search_body

SIZE = 1000
LIST = "/api/v1/postmortems/"


@pytest.fixture(scope="module")
def vocabulary():
    return load_vocabulary()


@pytest.fixture(scope="module")
def corpus(django_db_setup, django_db_blocker, vocabulary, tmp_path_factory):
    """1,000 post-mortems bulk-loaded, a reader, and the Markdown export (rolled back afterwards)."""
    docs = []

    def kept(source):
        for doc in source:
            docs.append(doc)
            yield doc

    with django_db_blocker.unblock(), transaction.atomic():
        report = loader.bulk_load(kept(iter_documents(SIZE, vocabulary=vocabulary)))
        reader = get_user_model().objects.create_user("bench-quick-reader")
        markdown = tmp_path_factory.mktemp("markdown")
        loader.export_markdown(markdown)
        ids = dict(PostMortem.objects.values_list("external_id", "pk"))
        yield SimpleNamespace(report=report, docs=docs, ids=ids, reader=reader, markdown=markdown)
        transaction.set_rollback(True)


@pytest.fixture
def api(corpus, db):
    client = APIClient()
    client.force_authenticate(corpus.reader)
    return client


@pytest.fixture
def web(corpus, db):
    client = Client()
    client.force_login(corpus.reader)
    return client


def queries_of(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = call()
    assert response.status_code == 200
    return len(captured.captured_queries)


def domain_rows(doc) -> int:
    return len(doc.timeline) + len(doc.action_items) + len(doc.declined_changes) + len(doc.fix_prs)


def test_corpus_is_loaded_with_its_rows(corpus, db):
    assert corpus.report.documents == SIZE
    assert PostMortem.objects.count() == SIZE
    assert all(doc.timeline and doc.action_items and doc.factors for doc in corpus.docs)
    assert corpus.report.rows > SIZE * 10  # timelines, action items, factors, …
    assert len(list(corpus.markdown.glob("PM-*.md"))) == SIZE


def test_corpus_is_deterministic(vocabulary, db):
    first = generate(5, vocabulary=vocabulary, start=123)
    again = generate(5, vocabulary=vocabulary, start=123)
    assert first == again
    assert first[0].external_id == "bench-20240601-000124"


# --- the bulk loader stores what the import path stores ----------------------------------


def _snapshot(docs) -> dict[str, tuple]:
    """What a loader stored for ``docs``: the Markdown export, the search text and the
    action-item states (action-item keys, which differ between two loads, masked).

    ``notified_owner`` is left out: the import path sets it after commit, which a
    test transaction never reaches."""
    stored = (
        PostMortem.objects.filter(external_id__in=[d.external_id for d in docs])
        .select_related("team", "facilitator")
        .prefetch_related(
            "services", "authors", "factors", "timeline", "action_items__owner", "declined_changes", "fix_prs"
        )
    )
    return {
        pm.external_id: (
            render_postmortem_markdown(pm),
            re.sub(r"\bAI-\d+\b", "AI-#", pm.search_body),
            [(i.text, i.status, i.owner.username, i.completed_at) for i in pm.action_items.all()],
            pm.created_by_id,
        )
        for pm in stored
    }


def test_bulk_loader_stores_what_the_import_path_stores(corpus, vocabulary, tmp_path, db):
    docs = generate(12, vocabulary=vocabulary, start=5_000_000)
    docs[0].services = ["Edge Cache", "edge-cache"]  # two names, one service
    loader.write_markdown(docs, tmp_path)
    report = loader.import_through_app(tmp_path)
    assert report.created == 12
    imported = _snapshot(docs)
    PostMortem.objects.filter(external_id__in=[d.external_id for d in docs]).delete()

    loader.bulk_load(docs)

    assert _snapshot(docs) == imported
    for pm in PostMortem.objects.filter(external_id__in=[d.external_id for d in docs]):
        assert pm.search_body == build_search_body(pm)


# --- query counts -----------------------------------------------------------------------------


def test_list_query_counts_do_not_grow_with_page_size(api, web):
    api_list = {n: queries_of(lambda n=n: api.get(LIST, {"page_size": n})) for n in (5, 50, 100)}
    api_search = {
        n: queries_of(lambda n=n: api.get(LIST, {"q": "outage", "page_size": n})) for n in (5, 50, 100)
    }
    web_list = {p: queries_of(lambda p=p: web.get("/postmortems/", {"page": p})) for p in (1, 2, 3)}

    assert len(set(api_list.values())) == 1, api_list
    assert max(api_list.values()) <= 10, api_list
    assert len(set(api_search.values())) == 1, api_search
    assert len(set(web_list.values())) == 1, web_list


def _published(corpus):
    # One status only: some panels check a permission for some statuses (one
    # query, e.g. reviews.permissions.can_schedule), which is not growth.
    return [doc for doc in corpus.docs if doc.status == "published"]


def test_one_page_query_counts_do_not_grow_with_the_documents_rows(corpus, api, web):
    # Same number of contributing factors (the most common count, so it holds for
    # the public corpora and for the demo fallback alike), fewest and most
    # timeline / action-item / PR rows.
    by_factors: dict[int, list] = {}
    for doc in _published(corpus):
        by_factors.setdefault(len(doc.factors), []).append(doc)
    same_factors = max(by_factors.values(), key=len)
    assert len(same_factors) >= 2, by_factors.keys()
    lean = corpus.ids[min(same_factors, key=domain_rows).external_id]
    rich = corpus.ids[max(same_factors, key=domain_rows).external_id]
    assert domain_rows(min(same_factors, key=domain_rows)) < domain_rows(max(same_factors, key=domain_rows))

    assert queries_of(lambda: api.get(f"{LIST}{lean}/")) == queries_of(lambda: api.get(f"{LIST}{rich}/"))
    assert queries_of(lambda: web.get(f"/postmortems/PM-{lean}/")) == queries_of(
        lambda: web.get(f"/postmortems/PM-{rich}/")
    )


def test_one_page_query_counts_do_not_grow_with_factors(corpus, api, web):
    fewest = corpus.ids[min(_published(corpus), key=lambda d: len(d.factors)).external_id]
    most = corpus.ids[max(_published(corpus), key=lambda d: len(d.factors)).external_id]

    assert queries_of(lambda: api.get(f"{LIST}{fewest}/")) == queries_of(lambda: api.get(f"{LIST}{most}/"))
    assert queries_of(lambda: web.get(f"/postmortems/PM-{fewest}/")) == queries_of(
        lambda: web.get(f"/postmortems/PM-{most}/")
    )


# --- search agrees with its floor and with ripgrep ---------------------------------------------


def test_api_and_raw_sql_return_the_same_ranked_first_page(api):
    differing = []
    for query, _kind in QUERIES:
        response = api.get(LIST, {"q": query})
        assert response.status_code == 200
        if [row["id"] for row in response.json()["results"]] != raw_sql_top(query):
            differing.append(query)
    assert differing == []


def test_ripgrep_and_the_api_agree_on_which_documents_hold_a_rare_term(corpus, api):
    rg = shutil.which("rg")
    if rg is None:
        pytest.skip("ripgrep (rg) is not installed: apt-get install -y ripgrep (the CI script installs it)")
    found_any = False
    for codename in CODENAMES:
        response = api.get(LIST, {"q": codename, "page_size": 100})
        assert response.status_code == 200
        body = response.json()
        assert body["count"] <= 100, "a rare term should fit one page"
        by_api = {f"PM-{row['id']}.md" for row in body["results"]}
        by_rg = ripgrep_files(codename, corpus.markdown, rg=rg)
        assert by_api == by_rg, codename
        found_any = found_any or bool(by_api)
    assert found_any, "no codename occurs in the 1,000 documents"


# --- the search breakdown (bench.breakdown) -------------------------------------------------


def test_breakdown_accounts_for_every_statement_of_a_search(api):
    result = search_breakdown(api, ["network"], rounds=2)
    statements = result["statements"]
    expected = {"page", "snippets", "prefetch: services", "prefetch: factors"}
    if connection.vendor == "postgresql":
        expected |= {"ranking", "plan (EXPLAIN)"}
    assert expected <= set(statements)
    assert "other" not in statements, statements
    # The same statements Django's own capture sees, each counted once.
    assert sum(entry["per_request"] for entry in statements.values()) == queries_of(
        lambda: api.get(LIST, {"q": "network"})
    )
    assert result["requests"] == 2
    assert result["request_ms"]["n"] == result["sql_ms"]["n"] == result["python_ms"]["n"] == 2
    assert 0 < result["sql_ms"]["p50"] < result["request_ms"]["p50"]
    assert result["python_ms"]["p50"] > 0
    assert result["floor_ms"]["n"] == 2 and result["baseline_ms"]["n"] == 2
    table = format_breakdown(result)
    assert "raw-SQL floor" in table and "prefetch: factors" in table


def test_breakdown_without_the_floor_times_only_the_api(api):
    result = search_breakdown(api, ["network", "storage"], rounds=1, floor=False)
    assert result["requests"] == 2
    assert result["floor_ms"] is None and result["baseline_ms"] is None


def test_breakdown_refuses_a_failed_request(corpus, db):
    with pytest.raises(RuntimeError, match="answered 401"):
        search_breakdown(APIClient(), ["network"], rounds=1, floor=False)


@pytest.mark.parametrize(
    ("sql", "kind"),
    [
        ('SELECT "authtoken_token"."key" FROM "authtoken_token"', "authentication"),
        ("EXPLAIN (FORMAT JSON) SELECT 1", "plan (EXPLAIN)"),
        ("SELECT id, ts_rank_cd(search_vector, q) FROM t", "ranking"),
        ("SELECT id, CASE WHEN x THEN ts_headline('english', t, q) END FROM t", "snippets"),
        ('SELECT COUNT(*) AS "__count" FROM "postmortems_postmortem"', "count"),
        ('SELECT 1 FROM "postmortems_team"', "other"),
    ],
)
def test_statement_kind(sql, kind):
    assert statement_kind(sql) == kind
