"""The insights pages, the action-item list behind them and the CSV downloads,
on the hand-computed organisation of conftest.py (time frozen at its "now")."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import urlsplit

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from insights.figures import ORG_FIGURES, TEAM_FIGURES, definitions
from postmortems.models import ActionItem, PostMortem
from tests.factories import ActionItemFactory, PostMortemFactory, ServiceFactory, factor
from tests.insights.conftest import NOW, at

RANGE = {"from": "2026-01-01", "to": "2026-06-15"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _figures(response):
    return {figure.slug: figure for figure in response.context["figures"]}


def _table(figure):
    return [[cell.value for cell in row] for row in figure.table.rows]


# --- refusal and bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/insights/",
        "/insights/teams/payments/",
        "/insights/me/",
        "/insights/action-items/",
        "/insights/csv/severity-by-month.csv",
    ],
)
def test_anonymous_people_are_sent_to_log_in(client, org, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2026-13-01"}, "from", "Enter a valid date."),
        ({"to": "yesterday"}, "to", "Enter a valid date."),
        ({"from": "2026-06-01", "to": "2026-01-01"}, "to", "must not be before its start"),
        ({"from": "1990-01-01", "to": "2026-01-01"}, "from", "at most 3700 days"),
        ({"team": "nope"}, "team", "Unknown team"),
    ],
)
def test_bad_filters_show_errors_and_no_figures(web, org, params, field, message):
    response = web.get("/insights/", params)

    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert response.context["figures"] == []
    assert message.encode() in response.content
    assert PostMortem.objects.count() == 8  # nothing changed


def test_bad_filters_on_the_team_and_person_pages(web, org):
    assert web.get("/insights/teams/payments/", {"from": "x"}).status_code == 400
    assert web.get("/insights/me/", {"to": "2026-02-30"}).status_code == 400
    assert web.get("/insights/teams/nope/").status_code == 404
    assert web.get("/insights/csv/severity-by-month.csv", {"from": "x"}).status_code == 400
    assert web.get("/insights/csv/nope.csv", RANGE).status_code == 404


def test_writes_are_refused(web, org):
    assert web.post("/insights/", RANGE).status_code == 405
    assert web.post("/insights/action-items/").status_code == 405


# --- organisation page ----------------------------------------------------------------------------


def test_organisation_page_shows_every_figure_with_its_definition(web, org):
    response = web.get("/insights/", RANGE)

    assert response.status_code == 200
    figures = _figures(response)
    assert list(figures) == list(ORG_FIGURES)
    body = response.content.decode()
    for figure in figures.values():
        assert escape(figure.title) in body
        assert escape(figure.definition) in body
    assert figures["follow-up-windows"].available and figures["definition-of-done"].available
    # Charts: a canvas and its JSON for each, and the scripts from our static files only.
    for slug in ("postmortems-per-team", "severity-by-month", "factors-by-quarter", "follow-through"):
        assert f'data-insights-chart="chart-{slug}-data"' in body
        assert f'id="chart-{slug}-data" type="application/json"' in body
    assert "/static/vendor/chartjs/chart.umd.min.js" in body
    assert "/static/insights/insights.js" in body
    assert "<script>" not in body  # no inline script (CSP)


def test_teams_side_by_side(web, org):
    figure = _figures(web.get("/insights/", RANGE))["teams"]

    rows = {row[0]: row for row in _table(figure)}
    assert figure.table.columns[:10] == [
        "Team",
        "Post-mortems",
        "SEV1/SEV2",
        "Completion rate",
        "Open items",
        "Overdue",
        "Median age of open (days)",
        "Median days to review",
        "Reviewed within target",
        "Quality budget",
    ]
    assert rows["payments"][:10] == ["payments", 4, 2, 0.2, 4, 2, 123.0, 9.4, 0.3333, "breached"]
    assert rows["platform"][:10] == ["platform", 2, 1, 0.5, 1, 1, 120.0, 6.0, 1.0, "within"]
    assert rows["search"][:10] == ["search", 0, 0, None, 0, 0, None, None, None, "within"]


def test_chart_data_are_the_table_numbers(web, org):
    figures = _figures(web.get("/insights/", RANGE))

    severity = figures["severity-by-month"]
    table = _table(severity)
    for index, dataset in enumerate(severity.chart["datasets"]):
        assert dataset["data"] == [row[1 + index] for row in table], dataset["label"]
    assert severity.chart["labels"] == [
        "Jan 2026",
        "Feb 2026",
        "Mar 2026",
        "Apr 2026",
        "May 2026",
        "Jun 2026",
    ]

    heatmap = figures["factors-by-quarter"]
    assert heatmap.chart["kind"] == "matrix"
    assert heatmap.chart["yLabels"][0] == factor("config-change").name
    cells = {(c["y"], c["x"]): c["v"] for c in heatmap.chart["cells"]}
    assert cells[(factor("config-change").name, "2026 Q1")] == 3
    assert cells[(factor("config-change").name, "2026 Q2 (part)")] == 0

    durations = figures["durations-by-service"]
    assert durations.chart["format"] == "hours"  # gateway's 300-minute resolution is past 3 hours
    assert durations.chart["labels"][0] == "Checkout"


def test_chart_json_on_the_page_matches_the_figure(web, org):
    response = web.get("/insights/", RANGE)
    body = response.content.decode()
    figure = _figures(response)["severity-by-month"]

    start = body.index('id="chart-severity-by-month-data" type="application/json">') + len(
        'id="chart-severity-by-month-data" type="application/json">'
    )
    data = json.loads(body[start : body.index("</script>", start)])

    assert data == figure.chart


def test_a_team_chosen_on_the_organisation_page_opens_the_team_page(web, org):
    response = web.get("/insights/", {**RANGE, "team": "platform"})

    assert response.status_code == 302
    assert response["Location"] == "/insights/teams/platform/?from=2026-01-01&to=2026-06-15"


def test_default_range_is_the_last_twelve_whole_months(web, org):
    response = web.get("/insights/")

    scope = response.context["scope"]
    assert (scope.start.isoformat(), scope.end.isoformat()) == ("2025-07-01", "2026-06-15")
    assert 'value="2025-07-01"' in response.content.decode()


# --- every figure links to the list behind it ----------------------------------------------------


def _list_count(web, href: str) -> int:
    response = web.get(href)
    assert response.status_code == 200, href
    return response.context["page"].paginator.count


@pytest.mark.parametrize("url", ["/insights/", "/insights/teams/payments/", "/insights/teams/platform/"])
def test_every_linked_number_is_the_count_of_its_list(web, org, url):
    figures = _figures(web.get(url, RANGE))
    checked = 0
    for figure in figures.values():
        if not figure.table:
            continue
        for row in figure.table.rows:
            for cell in row:
                if not cell.href or not isinstance(cell.value, int):
                    continue
                path = urlsplit(cell.href).path
                if path not in ("/postmortems/", "/insights/action-items/"):
                    continue
                assert _list_count(web, cell.href) == cell.value, (figure.slug, cell.href)
                checked += 1
    assert checked > 8


def test_tiles_link_to_their_lists(web, org):
    figure = _figures(web.get("/insights/teams/payments/", RANGE))["follow-through"]
    tiles = {tile["label"]: tile for tile in figure.tiles}

    assert _list_count(web, tiles["Completion rate"]["href"]) == 5  # the items due
    assert _list_count(web, tiles["Open"]["href"]) == 4
    assert _list_count(web, tiles["Overdue"]["href"]) == 2
    assert _list_count(web, tiles["Median time to close"]["href"]) == 2


# --- team page ---------------------------------------------------------------------------------------


def test_team_page_shows_the_teams_figures(web, org):
    response = web.get("/insights/teams/payments/", RANGE)

    assert response.status_code == 200
    figures = _figures(response)
    assert list(figures) == list(TEAM_FIGURES)
    assert response.context["team"] == org.payments
    follow = figures["follow-through"]
    assert [t["value"] for t in follow.tiles] == ["20%", 4, 2, "123.0 d", "22.0 d"]
    assert _table(follow)[1][:4] == ["2026-02", 2, 1, 1]
    budget = _table(figures["quality-budget"])
    assert budget == [["payments", 2, 2, 106, 20, 7, "breached"]]
    review = figures["review-timeliness"]
    assert [row[0] for row in _table(review)] == [
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
        "2026-05",
        "2026-06",
    ]


def test_team_without_incidents_shows_empty_figures(web, org):
    response = web.get("/insights/teams/search/", RANGE)

    assert response.status_code == 200
    figures = _figures(response)
    assert figures["factors-by-quarter"].chart is None
    assert figures["durations-by-service"].chart is None
    assert all(row[-1] == 0 for row in _table(figures["severity-by-month"]))
    assert "Nothing in this range." in response.content.decode()
    assert [t["value"] for t in figures["follow-through"].tiles] == ["—", 0, 0, "—", "—"]


# --- person page ---------------------------------------------------------------------------------------


def test_my_work_lists_what_is_mine(web, org):
    response = web.get("/insights/me/", RANGE)

    assert response.status_code == 200
    work = response.context["work"]
    assert [i.pk for i in work.overdue] == [org.items.i3.pk, org.items.i7.pk]
    body = response.content.decode()
    for item in (org.items.i3, org.items.i5, org.items.i7):
        assert item.key in body
    assert org.items.i1.key not in body  # done
    assert org.items.j1.key not in body  # carol's
    assert org.pms.D.title in body and org.pms.C.title in body  # reviews to facilitate
    figures = _figures(response)
    assert _table(figures["my-open-items"]) == [
        ["Overdue more than 7 days", 2],
        ["Overdue up to 7 days", 0],
        ["Due in the next 7 days", 0],
        ["Due later", 1],
    ]
    assert figures["my-open-items"].chart["datasets"][0]["data"] == [2, 0, 0, 1]
    assert _table(figures["my-postmortems"]) == [
        ["draft", 1],
        ["in_review", 0],
        ["reviewed", 0],
        ["published", 1],
    ]


def test_my_work_of_a_person_with_nothing(client, org, outsider):
    client.force_login(outsider)

    response = client.get("/insights/me/", RANGE)

    assert response.status_code == 200
    assert "Nothing overdue." in response.content.decode()
    assert "No post-mortem waits for you" in response.content.decode()


# --- CSV -------------------------------------------------------------------------------------------------


def test_csv_has_the_tables_numbers(web, org):
    response = web.get("/insights/csv/severity-by-month.csv", RANGE)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "insights-severity-by-month-organisation-20260101-20260615.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Month", "SEV1", "SEV2", "SEV3", "SEV4", "Unrated", "Total"]
    assert rows[1] == ["2026-01", "1", "1", "0", "0", "0", "2"]
    assert rows[5] == ["2026-05", "0", "0", "0", "0", "0", "0"]


def test_csv_of_a_team_and_of_my_work(web, org):
    team = web.get("/insights/csv/durations-by-service.csv", {**RANGE, "team": "payments"})
    mine = web.get("/insights/csv/my-open-items.csv", RANGE)

    rows = list(csv.reader(io.StringIO(team.content.decode())))
    assert rows[1][:5] == ["checkout", "3", "3", "10.0", "18.0"]
    assert "insights-durations-by-service-payments-" in team["Content-Disposition"]
    assert list(csv.reader(io.StringIO(mine.content.decode())))[1] == ["Overdue more than 7 days", "2"]


@pytest.mark.parametrize("slug", [s for s in ORG_FIGURES if s not in ("follow-up-windows",)])
def test_every_org_figure_has_a_csv(web, org, slug):
    response = web.get(f"/insights/csv/{slug}.csv", RANGE)

    assert response.status_code == 200
    assert len(list(csv.reader(io.StringIO(response.content.decode())))) >= 2


# --- the action-item list ------------------------------------------------------------------------------


def test_action_item_list_filters(web, org):
    def keys(params):
        response = web.get("/insights/action-items/", params)
        assert response.status_code == 200
        return [item.key for item in response.context["items"]]

    i = org.items
    assert keys({"team": "payments", "overdue": "true"}) == [i.i3.key, i.i7.key]
    assert keys({"on_time": "true"}) == [i.i1.key, i.j2.key]
    assert keys({"team": "payments", "status": "done", "on_time": "false"}) == [i.i2.key, i.i8.key]
    assert keys({"severity": ["SEV1"], "overdue": "true"}) == [i.i7.key]
    assert keys({"completed_from": "2026-02-01", "completed_to": "2026-03-31"}) == [i.i2.key, i.j2.key]
    assert keys({"team": "search"}) == []


def test_action_item_list_rejects_bad_filters(web, org):
    response = web.get("/insights/action-items/", {"due_from": "soon", "team": "nope"})

    assert response.status_code == 400
    assert set(response.context["filter"].form.errors) == {"due_from", "team"}


def test_action_item_list_query_count_does_not_grow(web, org, django_assert_max_num_queries):
    for n in range(10):
        ActionItemFactory(postmortem=org.pms.B, owner=org.bob, due_date=at(2026, 3, n + 1).date())
    with django_assert_max_num_queries(8):
        response = web.get("/insights/action-items/", {"team": "payments"})
    assert response.context["page"].paginator.count == 18


# --- query counts ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/insights/", "/insights/teams/payments/", "/insights/me/"])
def test_pages_query_count_does_not_grow_with_rows(web, org, url):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert web.get(url, RANGE).status_code == 200
        return len(queries)

    before = count()
    service = ServiceFactory(slug="search-api", team=org.search)
    for n in range(15):
        pm = PostMortemFactory(
            team=org.search if n % 2 else org.payments,
            started_at=at(2026, 1 + n % 5, 3),
            services=[service, org.checkout],
            factors=[factor("config-change"), factor("capacity")],
            authors=[org.alice],
            facilitator=org.alice,
        )
        for _ in range(3):
            ActionItemFactory(postmortem=pm, owner=org.alice, due_date=at(2026, 5, 1).date())
    assert ActionItem.objects.count() == 55

    assert count() == before
    assert before <= 35


def test_definitions_cover_every_figure():
    names = definitions()
    for key in (
        "severity_by_month",
        "factors_by_quarter",
        "durations_by_service",
        "completion_rate",
        "review_within_target",
        "quality_budget",
        "definition_of_done",
        "followup_windows",
    ):
        assert names[key] and "\n" not in names[key]


def test_figures_of_absent_capabilities_say_not_available(web, org, monkeypatch):
    from insights import selectors

    real = selectors.apps.is_installed
    monkeypatch.setattr(
        selectors.apps, "is_installed", lambda name: name not in ("patterns", "followthrough") and real(name)
    )

    response = web.get("/insights/", RANGE)

    figures = _figures(response)
    assert response.status_code == 200
    assert not figures["definition-of-done"].available
    assert not figures["follow-up-windows"].available
    body = response.content.decode()
    assert "Not available: the Definition-of-Done capability (patterns app) is not installed." in body
    assert "Not available: the follow-through app (follow-up policies) is not installed." in body
    assert "Past follow-up window" not in figures["teams"].table.columns
    api = web.get("/api/v1/insights/", RANGE).json()
    assert api["definition_of_done"] == {"available": False, "organisation": None, "teams": []}
    assert api["follow_up_windows"] == {"available": False, "teams": []}
    assert api["teams"][0]["open_past_window"] is None
