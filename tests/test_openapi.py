"""The schema documents every error answer, and unknown API paths answer JSON (kb/openapi.py)."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, item in schema["paths"].items():
        for method in ("get", "put", "patch", "post", "delete"):
            if method in item:
                yield path, method, item[method]


def test_every_operation_documents_the_common_errors(schema):
    operations = list(_operations(schema))
    assert len(operations) > 30
    for path, method, operation in operations:
        for code in ("401", "403", "404", "429"):
            assert code in operation["responses"], (method, path, code)
        if "requestBody" in operation:
            assert "400" in operation["responses"], (method, path)


def test_optional_urls_are_documented_as_uri_or_empty(schema):
    blankable = 0
    for name, component in schema["components"]["schemas"].items():
        required = set(component.get("required", []))
        for field, prop in component.get("properties", {}).items():
            if "anyOf" in prop and {"type": "string", "maxLength": 0} in prop["anyOf"]:
                blankable += 1
                assert any(option.get("format") == "uri" for option in prop["anyOf"]), (name, field)
            elif prop.get("format") == "uri":
                # Only a required, writable URL may be a bare "uri".
                assert field in required and not prop.get("readOnly"), (name, field)
    assert blankable >= 3


def test_unknown_api_path_answers_json_404(client, author):
    client.force_login(author)
    response = client.get("/api/v1/no-such-collection/1.5/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_unknown_page_answers_html_404(client, author):
    client.force_login(author)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    "body",
    [
        {"title": "x", "team": "pay\x00ments"},
        {"title": "x", "team": "payments", "authors": ["al\x00ice"]},
        {"ti\x00tle": "x"},
    ],
)
def test_a_nul_character_anywhere_in_a_json_body_is_a_clear_400(api, team, body):
    from postmortems.models import PostMortem

    response = api.post("/api/v1/postmortems/", body, format="json")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert PostMortem.all_objects.count() == 0


def test_a_nul_character_in_a_form_body_is_a_clear_400(api, team):
    response = api.post("/api/v1/postmortems/", {"title": "x", "team": "pay\x00ments"}, format="multipart")
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


# Regressions for what schemathesis found (docs/reliability.md, T26).


def test_a_non_numeric_proposal_id_is_404_not_500(api):
    for verb in ("accept", "reject"):
        response = api.post(f"/api/v1/dod-proposals/abc/{verb}/", {"reason": "x"}, format="json")
        assert response.status_code == 404, verb


def test_pattern_settings_document_null_for_a_team_that_never_saved_them(api, team, schema):
    body = api.get(f"/api/v1/teams/{team.slug}/pattern-settings/").json()
    assert body["updated_by"] is None and body["updated_at"] is None
    props = schema["components"]["schemas"]["PatternSettings"]["properties"]
    assert props["updated_at"].get("nullable") is True
    assert props["updated_by"].get("nullable") is True


def test_pulse_summary_without_a_scope_is_a_400_with_a_string_detail(api):
    response = api.get("/api/v1/reviews/pulse-summary/")
    assert response.status_code == 400
    assert isinstance(response.json()["detail"], str)


def test_markdown_and_calendar_endpoints_document_their_errors_in_their_own_media_type(schema):
    operations = [
        (path, operation)
        for path, method, operation in _operations(schema)
        if any(
            not media.startswith("application/json")
            for media in operation["responses"].get("200", {}).get("content", {})
        )
    ]
    assert operations
    for path, operation in operations:
        media = set(operation["responses"]["200"]["content"])
        assert media <= set(operation["responses"]["404"]["content"]), path
