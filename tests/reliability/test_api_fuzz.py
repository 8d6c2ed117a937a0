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

# (check, "METHOD /path", status) → why it is known. Every finding of the first
# runs (F1–F9: 500s on non-numeric proposal ids and NUL in slugs, undocumented
# error answers, blank URLs, null settings, HTML 404s, list-valued details) has
# been fixed in the app; a finding added here must name its issue.
KNOWN_SERVER_ERRORS: dict[tuple[str, str, int], str] = {}
KNOWN_SCHEMA_FINDINGS: dict[tuple[str, str], str] = {}


def _known(finding: fuzz_api.Finding) -> str | None:
    """Why a finding is known, or None for a new one (which fails the test)."""
    key = (finding.check, finding.operation, finding.status)
    if key in KNOWN_SERVER_ERRORS:
        return KNOWN_SERVER_ERRORS[key]
    return KNOWN_SCHEMA_FINDINGS.get((finding.check, finding.operation))


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
