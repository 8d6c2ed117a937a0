"""Schemathesis against the API's own OpenAPI schema (RELIABILITY.md T26, issue 9).

Every operation of ``/api/v1/schema/`` gets generated requests (positive: valid
per the schema; negative: invalid on purpose), signed in with a token, in
process through the WSGI app, against a seeded organisation (see fuzz_api.py).
``make verify`` sends at least 1,000 requests (10 per operation and mode) and
writes the figures to docs/reliability.md; the normal suite sends one per
operation and mode (about 115).

Pass: 0 server errors and 0 violations of the conformance checks (documented
status code, body matching its schema, documented content type), except the
known findings listed below, each reported to be fixed in the application
(KNOWN_*). A known finding that stops occurring does not fail the test; a new
one does. Remove an entry once its fix is in.
"""

from __future__ import annotations

import pytest

from tests.reliability import fuzz_api, report

# (check, "METHOD /path", status) → why it is known. Reported in /tmp/lead/h5_findings.md.
KNOWN_SERVER_ERRORS = {
    ("not_a_server_error", "POST /api/v1/dod-proposals/{id}/accept/", 500): (
        "F1: a non-integer id (`/dod-proposals/abc/accept/`) reaches `get_object_or_404(pk='abc')` → "
        "ValueError → 500 (patterns/api/views.py `_decide`)"
    ),
    ("not_a_server_error", "POST /api/v1/dod-proposals/{id}/reject/", 500): "F1, as for accept",
    ("status_code_conformance", "POST /api/v1/dod-proposals/{id}/accept/", 500): "F1 (the same 500)",
    ("status_code_conformance", "POST /api/v1/dod-proposals/{id}/reject/", 500): "F1 (the same 500)",
}

# Schema annotations: the answers are right, the schema does not document them.
# Path prefixes whose 400/403/404 answers are not in the schema (F4).
UNDOCUMENTED_ERRORS_UNDER = (
    "/api/v1/reviews/",
    "/api/v1/dod-proposals/",
    "/api/v1/org/dod",
    "/api/v1/teams/{slug}/dod",
    "/api/v1/teams/{slug}/pattern-settings/",
    "/api/v1/patterns/detect/",
)
# (check, "METHOD /path") → why (F2, F3, F5).
KNOWN_SCHEMA_FINDINGS = {
    ("response_schema_conformance", "GET /api/v1/postmortems/{id}/"): (
        'F2: blank URL fields (`source_url`, timeline `evidence_url`, `fix_prs`…) are "" but typed '
        "`format: uri`"
    ),
    ("response_schema_conformance", "PATCH /api/v1/postmortems/{id}/"): "F2",
    ("response_schema_conformance", "POST /api/v1/postmortems/{id}/restore/"): "F2",
    ("response_schema_conformance", "GET /api/v1/postmortems/"): "F2",
    ("response_schema_conformance", "GET /api/v1/action-items/"): 'F2: blank `ticket_url` is ""',
    ("response_schema_conformance", "GET /api/v1/action-items/{id}/"): "F2",
    ("response_schema_conformance", "PATCH /api/v1/action-items/{id}/"): "F2",
    ("response_schema_conformance", "GET /api/v1/teams/{slug}/pattern-settings/"): (
        "F3: `updated_at`/`updated_by` are null for a team that never saved settings; typed non-null"
    ),
    ("response_schema_conformance", "PATCH /api/v1/teams/{slug}/pattern-settings/"): "F3",
    ("response_schema_conformance", "GET /api/v1/reviews/pulse-summary/"): (
        'F9: without `postmortem` or `team` the 400 body is `{"detail": ["..."]}`, a list where the '
        "schema says string"
    ),
}
KNOWN_HTML_404 = (
    "F5: a path parameter no route accepts (e.g. an id with a '.') gets Django's HTML 404, "
    "while the schema documents 404 as JSON"
)


def _known(finding: fuzz_api.Finding) -> str | None:
    """Why a finding is known, or None for a new one."""
    key = (finding.check, finding.operation, finding.status)
    if key in KNOWN_SERVER_ERRORS:
        return KNOWN_SERVER_ERRORS[key]
    nul = "\\u0000" in finding.example or "\\x00" in finding.example
    if finding.status == 500 and nul:
        return (
            "F6: a NUL character in a username or slug (e.g. an action item's `owner`) goes to "
            "PostgreSQL in the lookup → DataError → 500 (SlugRelatedField does not refuse NUL)"
        )
    if finding.check == "not_a_server_error":
        return None
    path = finding.operation.split(" ", 1)[1]
    if (
        finding.check == "status_code_conformance"
        and finding.status in (400, 403, 404, 405)
        and path.startswith(UNDOCUMENTED_ERRORS_UNDER)
    ):
        return "F4: 400/403/404 answers not in the schema"
    if (finding.check, finding.operation) in KNOWN_SCHEMA_FINDINGS:
        return KNOWN_SCHEMA_FINDINGS[(finding.check, finding.operation)]
    if (
        finding.check == "content_type_conformance"
        and finding.status == 404
        and finding.operation.endswith((".md", "/ics/"))
    ):
        return (
            "F7: the Markdown and iCalendar endpoints answer 404 as text/markdown or text/calendar, not JSON"
        )
    html = "<!doctype html" in finding.example.lower() or "<html" in finding.example.lower()
    if finding.check == "content_type_conformance" and finding.status == 404 and html:
        return KNOWN_HTML_404
    return None


def _examples() -> int:
    return 10 if report.full_run() else 1


@pytest.mark.django_db(transaction=True)
def test_api_answers_as_its_schema_says():
    import schemathesis
    from django.core.wsgi import get_wsgi_application

    seed = fuzz_api.seed_organisation()
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
    tally = fuzz_api.run(schema, seed, examples=_examples())

    new = [f for f in tally.findings.values() if _known(f) is None]
    _record(tally)
    if report.full_run():
        assert tally.requests >= 1000
    else:
        assert tally.requests >= 100
    assert len(tally.per_operation) >= 60  # every operation was tried
    # The seeded objects were reached: reads of real ids answered 200.
    assert tally.per_operation["GET /api/v1/postmortems/{id}/"][200] > 0
    assert not new, "\n\n".join(
        f"{f.check} {f.operation} → {f.status} ×{f.count}\n{f.detail}\n{f.example}" for f in new
    )


def _record(tally: fuzz_api.Tally) -> None:
    """Write the figures and the findings to docs/reliability.md (full runs only)."""
    statuses = sorted({code for counts in tally.per_operation.values() for code in counts})
    rows = [
        [
            f"`{label}`",
            sum(counts.values()),
            ", ".join(f"{code}: {counts[code]}" for code in statuses if counts[code]),
        ]
        for label, counts in sorted(tally.per_operation.items(), key=lambda item: item[0].split(" ")[::-1])
    ]
    findings = sorted(tally.findings.values(), key=lambda f: (f.check, f.operation, f.status))
    finding_rows = [
        [f.check, f"`{f.operation}`", f.status, f.count, _known(f) or "**NEW**"] for f in findings
    ]
    server_findings = [f for f in findings if f.check == "not_a_server_error"]
    known_5xx = sum(f.count for f in server_findings if _known(f))
    known_ids = sorted({(_known(f) or "").split(":")[0].split(",")[0] for f in server_findings if _known(f)})
    server_line = (
        f"{tally.server_errors} (known failing: {known_5xx}; findings {', '.join(known_ids) or '—'})"
    )
    body = "\n\n".join(
        [
            report.table(
                ["figure", "value"],
                [
                    ["requests sent (generated, positive + negative)", tally.requests],
                    ["operations", len(tally.per_operation)],
                    ["5xx answers", server_line],
                    *[
                        [f"requests failing `{name}`", tally.failing_requests[name]]
                        for name in fuzz_api.CHECK_NAMES
                    ],
                ],
            ),
            "Findings (one row per check, operation and status; **KNOWN FAILING** until fixed "
            "in the application, see tests/reliability/test_api_fuzz.py):",
            report.table(["check", "operation", "status", "requests", "why / finding"], finding_rows)
            if finding_rows
            else "None.",
            "Requests per operation:",
            report.table(["operation", "requests", "statuses"], rows),
            "Schemathesis "
            + _schemathesis_version()
            + f", in process (WSGI), {_examples()} examples per operation and mode, Hypothesis "
            "derandomized, token of a team lead; path ids are seeded objects (organisation, "
            "restricted, another team's restricted document, a deleted one) three times in four. "
            "Writes send `If-Match` as generated, the current ETag or `*`. Command: `make verify` "
            "(tests/reliability/test_api_fuzz.py).",
        ]
    )
    report.record(f"API fuzzing with schemathesis (T26, {report.engine()})", body)


def _schemathesis_version() -> str:
    import schemathesis

    return schemathesis.__version__
