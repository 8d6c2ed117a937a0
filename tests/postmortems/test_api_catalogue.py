"""REST API: the read-only contributing factors, teams and services, and the
OpenAPI schema."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.utils import timezone
from drf_spectacular.drainage import reset_generator_stats
from drf_spectacular.generators import SchemaGenerator

from postmortems.models import ContributingFactor, PostMortem
from tests.factories import PostMortemFactory, ServiceFactory, TeamMembershipFactory, factor


def test_factors_list_the_whole_taxonomy(api):
    response = api.get("/api/v1/factors/", {"page_size": 100})

    assert response.status_code == 200
    data = response.json()
    assert data["count"] == ContributingFactor.objects.count() == 27
    assert {row["slug"] for row in data["results"]} == set(
        ContributingFactor.objects.values_list("slug", flat=True)
    )


def test_factor_detail_counts_its_postmortems(api, team):
    PostMortemFactory.create_batch(2, team=team, factors=[factor("retry-storm")])
    PostMortemFactory(team=team, factors=[factor("config-change")])
    retry = factor("retry-storm")

    response = api.get("/api/v1/factors/retry-storm/")

    assert response.status_code == 200
    assert response.json() == {
        "slug": "retry-storm",
        "name": retry.name,
        "category": retry.category,
        "description": retry.description,
        "suggested_dod_item": retry.suggested_dod_item,
        "postmortem_count": 2,
    }


def test_factor_list_counts_live_documents_in_a_fixed_number_of_queries(
    api, team, django_assert_max_num_queries
):
    PostMortemFactory.create_batch(3, team=team, factors=[factor("retry-storm"), factor("config-change")])
    gone = PostMortemFactory(team=team, factors=[factor("retry-storm"), factor("expired-credential")])
    PostMortem.all_objects.filter(pk=gone.pk).update(deleted_at=timezone.now())

    # force_authenticate: no token query. A count, a page, one grouped count of links.
    with django_assert_max_num_queries(3):
        response = api.get("/api/v1/factors/", {"page_size": 100})

    assert response.status_code == 200
    counts = {row["slug"]: row["postmortem_count"] for row in response.json()["results"]}
    assert len(counts) == 27
    assert (counts["retry-storm"], counts["config-change"], counts["expired-credential"]) == (3, 3, 0)
    assert sum(counts.values()) == 6
    detail = api.get("/api/v1/factors/retry-storm/").json()
    assert detail["postmortem_count"] == counts["retry-storm"]


def test_team_shows_its_members(api, team, author, teammate, outsider):
    response = api.get("/api/v1/teams/payments/")

    assert response.status_code == 200
    data = response.json()
    assert (data["slug"], data["name"]) == ("payments", "Payments")
    assert sorted(data["members"]) == ["alice", "bob"]


def test_teams_list_query_count_does_not_grow(api, team, django_assert_max_num_queries):
    for n in range(5):
        TeamMembershipFactory(team__slug=f"team-x{n}")
    with django_assert_max_num_queries(3):
        response = api.get("/api/v1/teams/")
    assert response.json()["count"] == 6


def test_services_show_their_team(api, team):
    ServiceFactory(slug="checkout", name="Checkout", team=team)
    ServiceFactory(slug="legacy", name="Legacy", team=None)

    response = api.get("/api/v1/services/")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {"slug": "checkout", "name": "Checkout", "team": "payments"},
        {"slug": "legacy", "name": "Legacy", "team": None},
    ]


@pytest.mark.parametrize("url", ["/api/v1/factors/retry-storm/", "/api/v1/teams/payments/"])
def test_catalogue_is_read_only(api, team, url):
    assert api.patch(url, {"name": "Renamed"}, format="json").status_code == 405
    assert api.delete(url).status_code == 405
    assert api.post(url.rsplit("/", 2)[0] + "/", {"slug": "x", "name": "X"}, format="json").status_code == 405
    assert factor("retry-storm").name != "Renamed"


def test_unknown_slug_is_404(api, db):
    assert api.get("/api/v1/factors/human-error/").status_code == 404
    assert api.get("/api/v1/teams/nope/").status_code == 404


# --- OpenAPI schema ----------------------------------------------------------------


def test_schema_lists_every_api_path(db):
    schema = SchemaGenerator().get_schema(request=None, public=True)

    paths = schema["paths"]
    assert set(paths["/api/v1/postmortems/"]) == {"get", "post"}
    assert set(paths["/api/v1/postmortems/{id}/"]) == {"get", "patch", "delete"}
    assert set(paths["/api/v1/postmortems/{id}/restore/"]) == {"post"}
    assert set(paths["/api/v1/action-items/"]) == {"get"}
    assert set(paths["/api/v1/action-items/{id}/"]) == {"get", "patch"}
    for name in ("factors", "teams", "services"):
        assert set(paths[f"/api/v1/{name}/"]) == {"get"}
        assert set(paths[f"/api/v1/{name}/{{slug}}/"]) == {"get"}
    created = paths["/api/v1/postmortems/"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/PostMortemDetail")
    list_parameters = {p["name"] for p in paths["/api/v1/postmortems/"]["get"]["parameters"]}
    assert {
        "q",
        "team",
        "service",
        "severity",
        "status",
        "factor",
        "started_from",
        "started_to",
        "ordering",
        "page",
        "page_size",
    } <= list_parameters
    assert "mine" in {p["name"] for p in paths["/api/v1/action-items/"]["get"]["parameters"]}


def test_schema_documents_if_match_and_the_precondition_answers(db):
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]

    for path, method in (
        ("/api/v1/postmortems/{id}/", "patch"),
        ("/api/v1/postmortems/{id}/", "delete"),
        ("/api/v1/postmortems/{id}/restore/", "post"),
        ("/api/v1/action-items/{id}/", "patch"),
    ):
        operation = paths[path][method]
        [if_match] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
        assert (if_match["in"], if_match["required"]) == ("header", True)
        assert {"400", "401", "404", "412", "428"} <= set(operation["responses"]), (path, method)
        failed = operation["responses"]["412"]
        assert failed["content"]["application/json"]["schema"]["$ref"].endswith("/PreconditionFailed")
        assert "ETag" in failed["headers"]
    for path in ("/api/v1/postmortems/{id}/", "/api/v1/action-items/{id}/"):
        assert "ETag" in paths[path]["get"]["responses"]["200"]["headers"]
        assert {"401", "404"} <= set(paths[path]["get"]["responses"])
    assert "ETag" in paths["/api/v1/postmortems/"]["post"]["responses"]["201"]["headers"]
    assert "If-Match" not in {p["name"] for p in paths["/api/v1/postmortems/"]["post"].get("parameters", [])}


def test_schema_is_valid_openapi(db, tmp_path):
    out = tmp_path / "schema.yml"

    call_command("spectacular", "--validate", "--file", str(out))

    assert "/api/v1/postmortems/{id}/" in out.read_text()


def test_schema_generates_without_warnings(db, tmp_path):
    reset_generator_stats()  # count only this run's warnings
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))


def test_swagger_docs_page_is_served(api):
    response = api.get("/api/v1/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()
