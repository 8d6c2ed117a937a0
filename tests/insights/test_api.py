"""``GET /api/v1/insights/``: the same figures as the pages, with definitions."""

from __future__ import annotations

import pytest
import time_machine
from django.core.management import call_command
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.generators import SchemaGenerator
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from insights.figures import definitions
from postmortems.models import ActionItem, PostMortem
from tests.insights.conftest import NOW

URL = "/api/v1/insights/"
RANGE = {"from": "2026-01-01", "to": "2026-06-15"}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_organisation_figures(api, org):
    response = api.get(URL, RANGE)

    assert response.status_code == 200
    data = response.json()
    assert (data["team"], data["from"], data["to"], data["today"]) == (
        None,
        "2026-01-01",
        "2026-06-15",
        "2026-06-15",
    )
    assert data["definitions"] == definitions()
    assert data["undated_postmortems"] == 1
    assert [(m["month"], m["SEV1"], m["SEV2"], m["total"]) for m in data["postmortems_by_month"]] == [
        ("2026-01", 1, 1, 2),
        ("2026-02", 0, 1, 1),
        ("2026-03", 0, 0, 1),
        ("2026-04", 0, 0, 1),
        ("2026-05", 0, 0, 0),
        ("2026-06", 0, 0, 1),
    ]
    assert data["factors_by_quarter"]["quarters"] == ["2026-Q1", "2026-Q2"]
    assert data["factors_by_quarter"]["factors"][0] == {
        "slug": "config-change",
        "name": "Configuration change",
        "counts": [3, 0],
        "total": 3,
    }
    checkout = data["incident_durations"][0]
    assert checkout == {
        "service": "checkout",
        "name": "Checkout",
        "postmortems": 3,
        "detect": {"count": 3, "median_minutes": 10.0, "p90_minutes": 18.0},
        "mitigate": {"count": 2, "median_minutes": 45.0, "p90_minutes": 57.0},
        "resolve": {"count": 2, "median_minutes": 180.0, "p90_minutes": 228.0},
    }
    assert data["incident_durations"][-1]["service"] is None
    assert data["follow_through"] == {
        "due": 7,
        "done_on_time": 2,
        "completion_rate": 0.2857,
        "open": 5,
        "overdue": 3,
        "median_open_age_days": 120.0,
        "closed": 3,
        "median_days_to_close": 19.0,
    }
    assert data["review_timeliness"]["share_within_target"] == 0.5
    assert "review meeting" in data["review_date_source"]
    assert [(b["team"], b["within"]) for b in data["quality_budget"]] == [
        ("payments", False),
        ("platform", True),
        ("search", True),
    ]
    teams = {row["team"]: row for row in data["teams"]}
    assert (teams["payments"]["postmortems"], teams["payments"]["severe"]) == (4, 2)
    assert teams["payments"]["follow_through"]["completion_rate"] == 0.2
    assert teams["search"]["review_timeliness"]["share_within_target"] is None
    assert teams["payments"]["open_past_window"] == 4
    assert data["follow_up_windows"]["available"] is True
    assert data["definition_of_done"]["available"] is True
    assert data["definition_of_done"]["organisation"]["current_version"] is None


def test_one_teams_figures(api, org):
    data = api.get(URL, {**RANGE, "team": "platform"}).json()

    assert data["team"] == "platform"
    assert sum(m["total"] for m in data["postmortems_by_month"]) == 2
    assert data["follow_through"]["completion_rate"] == 0.5
    assert [row["team"] for row in data["teams"]] == ["platform"]
    assert [b["team"] for b in data["quality_budget"]] == ["platform"]
    assert [row["month"] for row in data["follow_through_by_month"]][0] == "2026-01"


def test_a_team_without_incidents(api, org):
    data = api.get(URL, {**RANGE, "team": "search"}).json()

    assert all(m["total"] == 0 for m in data["postmortems_by_month"])
    assert data["factors_by_quarter"]["factors"] == []
    assert data["incident_durations"] == []
    assert data["follow_through"]["completion_rate"] is None
    assert data["review_timeliness"]["median_days"] is None


def test_defaults_to_the_last_twelve_months(api, org):
    data = api.get(URL).json()

    assert (data["from"], data["to"]) == ("2025-07-01", "2026-06-15")
    assert len(data["postmortems_by_month"]) == 12


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({"team": "nope"}, {"team": ["Unknown team; use the slug of an existing team."]}),
        ({"from": "2026-02-30"}, {"from": ["Enter a valid date."]}),
        ({"to": "soon"}, {"to": ["Enter a valid date."]}),
        (
            {"from": "2026-06-01", "to": "2026-05-01"},
            {"to": ["The end of the range must not be before its start."]},
        ),
        ({"from": "1990-01-01"}, {"from": ["The range may be at most 3700 days (about ten years)."]}),
    ],
)
def test_bad_input_is_a_clear_400_and_changes_nothing(api, org, params, errors):
    before = (PostMortem.objects.count(), ActionItem.objects.count())

    response = api.get(URL, params)

    assert response.status_code == 400
    assert response.json() == errors
    assert (PostMortem.objects.count(), ActionItem.objects.count()) == before


def test_anonymous_requests_are_refused(anon_api, org):
    response = anon_api.get(URL, RANGE)

    assert response.status_code == 401
    assert "team" not in response.json()


def test_token_authentication_works(org):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=org.alice).key}")

    assert client.get(URL, RANGE).status_code == 200


def test_writes_are_not_allowed(api, org):
    assert api.post(URL, RANGE, format="json").status_code == 405
    assert api.delete(URL).status_code == 405


def test_query_count_does_not_grow(api, org, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):
        assert api.get(URL, RANGE).status_code == 200


def test_schema_documents_the_endpoint(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)

    operation = schema["paths"]["/api/v1/insights/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"team", "from", "to"}
    assert operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/Insights"
    )
    assert "400" in operation["responses"]
    fields = schema["components"]["schemas"]["Insights"]["properties"]
    assert {"from", "to", "definitions", "postmortems_by_month", "teams"} <= set(fields)


def test_schema_stays_warning_free(db, tmp_path):
    reset_generator_stats()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
