"""Schemathesis fuzzing of the REST API, in-process (RELIABILITY.md T26).

The OpenAPI schema is fetched from ``/api/v1/schema/`` (drf-spectacular) through
the WSGI application (``schemathesis.openapi.from_wsgi``), and every operation
gets ``examples`` Hypothesis-generated requests sent through the same WSGI app,
signed in with a token. Path parameters are real ids and slugs of a seeded
organisation most of the time (so reads and writes hit real objects, including
a restricted document the caller may and one it may not see) and generated
values the rest of the time.

Each response is checked by schemathesis' own checks (``CHECKS``) and the
outcome tallied per operation instead of stopping at the first failure, so one
run counts every request and every finding. Shrinking is off: a finding is
reported as generated, and every request sent is counted.

Source of the approach: schemathesis 4 docs, "Python API" (``from_wsgi``,
``APIOperation.as_strategy``, ``Case.call`` + ``Case.validate_response``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

# The checks this proof runs. ``not_a_server_error``: no 5xx; the three
# conformance checks: the status code is documented, the body matches its schema,
# the content type is the documented one.
CHECK_NAMES = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)


@dataclass
class Finding:
    """One kind of failure: a check failing on one operation with one status code."""

    check: str
    operation: str
    status: int
    title: str
    count: int = 0
    example: str = ""  # curl command and response excerpt of the first occurrence
    detail: str = ""  # the check's message for the first occurrence


@dataclass
class Tally:
    """What a fuzzing run sent and found.

    ``per_operation`` maps "METHOD /path" to a Counter of response status codes;
    ``findings`` maps (check, operation, status) to a ``Finding``.
    """

    requests: int = 0
    server_errors: int = 0
    per_operation: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    findings: dict[tuple[str, str, int], Finding] = field(default_factory=dict)
    failing_requests: Counter = field(default_factory=Counter)  # check name → requests failing it
    unsatisfiable: list[str] = field(default_factory=list)  # operation (mode) with no case to generate


@dataclass
class Seed:
    """The seeded organisation: who calls, and the real values for path parameters."""

    token: str
    username: str
    # "<path up to and including {parameter}>" (e.g. "/api/v1/teams/{slug}") or "<parameter>" → values
    values: dict[str, list[Any]]
    invisible_postmortem: int
    undeleted: list[int]  # documents put back after each operation (a DELETE may have hit them)


def seed_organisation() -> Seed:
    """Create teams, people, post-mortems (organisation, restricted, deleted),
    action items and a review through the factories and services.

    Returns the caller's token and the real values for path parameters.
    """
    from rest_framework.authtoken.models import Token

    from postmortems.models import ActionItem, ContributingFactor, PostMortem
    from reviews import scheduling as review_scheduling
    from tests.factories import (
        ActionItemFactory,
        DeclinedChangeFactory,
        FixPullRequestFactory,
        PostMortemFactory,
        ServiceFactory,
        TeamFactory,
        TeamMembershipFactory,
        TimelineEntryFactory,
        UserFactory,
        factor,
    )

    payments = TeamFactory(slug="payments", name="Payments")
    search = TeamFactory(slug="search", name="Search")
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    carol = UserFactory(username="carol")
    TeamMembershipFactory(team=payments, user=alice, role="lead")
    TeamMembershipFactory(team=payments, user=bob)
    TeamMembershipFactory(team=search, user=carol)
    checkout = ServiceFactory(slug="checkout", team=payments)
    ServiceFactory(slug="indexer", team=search)

    def document(team, authors, **fields) -> PostMortem:
        pm = PostMortemFactory(
            team=team,
            authors=authors,
            services=[checkout] if team == payments else [],
            factors=[factor("config-change"), factor("missing-test")],
            **fields,
        )
        TimelineEntryFactory(postmortem=pm, text="Error-rate alert fired for checkout.")
        TimelineEntryFactory(postmortem=pm, text="Config change reverted; errors stop.")
        due = timezone.localdate() + dt.timedelta(days=14)
        for owner, text, kind in (
            (alice, "Add a contract test for the payment timeout setting", ActionItem.Kind.TEST),
            (bob, "Alert when the checkout error rate exceeds 2% for 5 minutes", ActionItem.Kind.CHECK),
            (alice, "Add a schema check for payment configuration values", ActionItem.Kind.CHECK),
        ):
            ActionItemFactory(postmortem=pm, owner=owner, text=text, kind=kind, due_date=due)
        DeclinedChangeFactory(postmortem=pm)
        FixPullRequestFactory(postmortem=pm)
        return pm

    org = [document(payments, [alice]) for _ in range(2)]
    org.append(document(search, [carol], status=PostMortem.Status.PUBLISHED))
    mine_restricted = document(payments, [alice], visibility=PostMortem.Visibility.RESTRICTED)
    hidden = document(search, [carol], visibility=PostMortem.Visibility.RESTRICTED)
    deleted = document(payments, [alice])
    PostMortem.all_objects.filter(pk=deleted.pk).update(deleted_at=timezone.now(), deleted_by=alice)

    reviewed = document(payments, [alice])
    review = review_scheduling.review_schedule(
        user=alice,
        postmortem=reviewed,
        scheduled_at=timezone.now() + dt.timedelta(days=2),
        facilitator=bob,
    )
    token = Token.objects.create(user=alice).key

    pm_ids = [pm.pk for pm in [*org, mine_restricted, reviewed]] + [hidden.pk, deleted.pk]
    item_ids = list(ActionItem.all_objects.order_by("pk").values_list("pk", flat=True))
    values: dict[str, list[Any]] = {
        "/api/v1/postmortems/{id}": pm_ids,
        "/api/v1/action-items/{id}": item_ids,
        "/api/v1/reviews/{id}": [review.pk],
        "item_id": list(reviewed.action_items.values_list("pk", flat=True)),
        "/api/v1/factors/{slug}": list(ContributingFactor.objects.values_list("slug", flat=True)[:5]),
        "/api/v1/services/{slug}": ["checkout", "indexer"],
        "/api/v1/teams/{slug}": ["payments", "search"],
        "/api/v1/reviews/agendas/{slug}": ["payments", "search"],
        "number": [1, 2],
    }
    return Seed(
        token=token,
        username=alice.username,
        values=values,
        invisible_postmortem=hidden.pk,
        undeleted=[pk for pk in pm_ids if pk != deleted.pk],
    )


# How a positive case's If-Match is chosen: as generated (a random string: 400 or
# 412), the current version (the write goes through) or "*" (unconditional).
PRECONDITIONS = ("generated", "current", "current", "any")


def _current_version(case: Any) -> int | None:
    """The stored version of the post-mortem or action item a case addresses."""
    from postmortems.models import ActionItem, PostMortem

    model = {"/api/v1/postmortems/": PostMortem, "/api/v1/action-items/": ActionItem}.get(
        case.operation.path.split("{")[0]
    )
    pk = (case.path_parameters or {}).get("id")
    if model is None or not isinstance(pk, int) or not -(2**31) < pk < 2**31:
        return None
    return model.all_objects.filter(pk=pk).values_list("version", flat=True).first()


def _set_if_match(case: Any, precondition: str) -> None:
    """Replace a generated If-Match with the current ETag or ``*`` (see PRECONDITIONS)."""
    if not case.headers or not any(name.lower() == "if-match" for name in case.headers):
        return
    name = next(name for name in case.headers if name.lower() == "if-match")
    if precondition == "any":
        case.headers[name] = "*"
    elif precondition == "current":
        version = _current_version(case)
        case.headers[name] = f'"{version}"' if version is not None else "*"


def _undelete(seed: Seed) -> None:
    """Bring back the seeded documents a fuzzed DELETE removed (the next operation needs them)."""
    from postmortems.models import PostMortem

    PostMortem.all_objects.filter(pk__in=seed.undeleted).update(deleted_at=None, deleted_by=None)


def _real_values(seed: Seed, path: str) -> list[dict[str, Any]]:
    """Real path-parameter combinations for an operation path (may be empty)."""
    import itertools
    import re

    names = re.findall(r"{(\w+)}", path)
    if not names:
        return []
    choices = []
    for name in names:
        prefix = path.split("{" + name + "}")[0] + "{" + name + "}"
        found = seed.values.get(prefix) or seed.values.get(name)
        if not found:
            return []
        choices.append([(name, value) for value in found])
    return [dict(combo) for combo in itertools.product(*choices)][:40]


def run(
    schema, seed: Seed, *, examples: int, modes=("positive", "negative"), only: str | None = None
) -> Tally:
    """Fuzz every operation of ``schema`` with ``examples`` generated requests per
    generation mode; return the tally (requests sent, statuses, findings).

    Positive requests follow the schema; negative ones break it on purpose (they
    must be refused with a 4xx, never a 5xx). Path parameters are real values for
    three requests in four when the seed has some for the path.
    """
    import schemathesis
    from hypothesis.errors import Unsatisfiable
    from schemathesis import checks as st_checks

    checks = [getattr(st_checks, name) for name in CHECK_NAMES]
    headers = {"Authorization": f"Token {seed.token}"}
    tally = Tally()

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if only and only not in label:
            continue
        for mode_name in modes:
            mode = schemathesis.GenerationMode(mode_name)
            real = [
                operation.as_strategy(generation_mode=mode, path_parameters=values)
                for values in _real_values(seed, operation.path)
            ]
            try:
                _fuzz_operation(
                    tally,
                    generated=operation.as_strategy(generation_mode=mode),
                    real=real,
                    examples=examples,
                    send=lambda case: _send(tally, case, checks, headers),
                )
            except Unsatisfiable:
                # Nothing to break (e.g. a GET without parameters has no negative form).
                tally.unsatisfiable.append(f"{label} ({mode_name})")
            finally:
                _undelete(seed)
    return tally


def _fuzz_operation(tally: Tally, *, generated, real: list, examples: int, send: Callable) -> None:
    """Draw ``examples`` cases (a seeded object's path three times in four when
    ``real`` has strategies, else ``generated``) and ``send`` each.

    Raises:
        hypothesis.errors.Unsatisfiable: when no case can be generated.
    """
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def fuzz(data) -> None:
        # The simplest draw (0) is a seeded object, so even one example reaches one.
        if real and data.draw(st.integers(0, 3), label="real") < 3:
            strategy = real[data.draw(st.integers(0, len(real) - 1), label="which")]
        else:
            strategy = generated
        case = data.draw(strategy, label="case")
        precondition = data.draw(st.sampled_from(PRECONDITIONS), label="If-Match")
        if case.meta is None or case.meta.generation.mode.is_positive:
            _set_if_match(case, precondition)
        send(case)

    fuzz()


def _send(tally: Tally, case: Any, checks: list, headers: dict[str, str]) -> None:
    """Send one case, count its answer and record every failed check (never raises for them)."""
    from schemathesis.core.failures import FailureGroup

    label = f"{case.operation.method.upper()} {case.operation.path}"
    response = case.call(headers=headers)
    tally.requests += 1
    tally.per_operation[label][response.status_code] += 1
    if response.status_code >= 500:
        tally.server_errors += 1
    try:
        case.validate_response(response, checks=checks, headers=headers)
    except FailureGroup as group:
        failed = set()
        for failure in group.exceptions:
            name = _check_name(failure)
            failed.add(name)
            key = (name, label, response.status_code)
            finding = tally.findings.get(key)
            if finding is None:
                finding = tally.findings[key] = Finding(
                    check=name,
                    operation=label,
                    status=response.status_code,
                    title=str(getattr(failure, "title", failure)),
                    example=_example(case, response, headers),
                    detail=str(getattr(failure, "message", ""))[:1500],
                )
            finding.count += 1
        for name in failed:
            tally.failing_requests[name] += 1


def _check_name(failure: Any) -> str:
    """The schemathesis check a failure comes from ("not_a_server_error", …)."""
    mapping = {
        "ServerError": "not_a_server_error",
        "ContentTypeServerError": "not_a_server_error",
        "MissingContentType": "content_type_conformance",
        "ContentDeserializationError": "response_schema_conformance",
        "DiscriminatorMismatch": "response_schema_conformance",
        "UndefinedStatusCode": "status_code_conformance",
        "UndefinedContentType": "content_type_conformance",
        "MalformedMediaType": "content_type_conformance",
        "JsonSchemaError": "response_schema_conformance",
        "MalformedJson": "response_schema_conformance",
    }
    return mapping.get(type(failure).__name__, type(failure).__name__)


def _example(case: Any, response: Any, headers: dict[str, str]) -> str:
    """A reproducible request (curl, token elided) and the start of the response."""
    try:
        curl = case.as_curl_command(headers={"Authorization": "Token <token>"})
    except Exception:  # curl rendering is best effort
        curl = f"{case.method} {case.formatted_path}"
    body = response.text if hasattr(response, "text") else str(response.content)
    return f"{curl}\n→ {response.status_code} {body[:400]}"
