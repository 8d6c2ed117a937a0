"""Helpers of the backup and restore drill (RELIABILITY.md T18), run as
subprocesses against a database named by ``DATABASE_URL``::

    python -m tests.reliability.drill seed --documents 25 [--corpus DIR]
    python -m tests.reliability.drill restored

Both print one JSON object: per-model digests (``{model: [rows, sha256]}``,
exact and with times cut to the millisecond) and the ids a search finds;
``seed`` adds the row counts it made, ``restored`` then checks the restored
database works (``migrate --check``, ``check``, one more post-mortem saved).

The digest of a model is the SHA-256 of its rows ordered by primary key, each row
its concrete field values as JSON. Two things would differ after a faithful
``dumpdata --natural-primary`` round trip and are normalised: rows of models with
a natural key (users, groups) are identified and referred to by that key, not by
their id, and rows of automatic many-to-many tables by their content, not their
id. Everything else, ids included, must match exactly.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import hashlib
import json
import os
import sys
import uuid
from pathlib import Path

# Left out of dumpdata (as Django's docs advise for a restore into a migrated
# database): migrations and logins recreate them.
EXCLUDED = ("contenttypes", "auth.permission", "sessions", "admin.logentry")
DUMPDATA_ARGS = ["--natural-foreign", "--natural-primary", *[a for m in EXCLUDED for a in ("-e", m)]]


def _setup() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()


def _plain(value, milliseconds: bool = False):
    if isinstance(value, dt.datetime | dt.time) and milliseconds:
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time | dt.timedelta | decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def digest(milliseconds: bool = False) -> dict[str, list]:
    """``{"app.model": [row count, sha256 hex]}`` for every table dumpdata covers.

    ``milliseconds`` truncates times to the millisecond first: Django's JSON
    serializer (``DjangoJSONEncoder``) writes no finer, so a dumpdata/loaddata
    round trip is exact only to the millisecond; the database-level backups
    (``pg_dump``, SQLite's backup API) are compared to the microsecond.
    """
    from django.apps import apps

    excluded_apps = {label for label in EXCLUDED if "." not in label}
    excluded_models = {label for label in EXCLUDED if "." in label}
    natural: dict[type, dict] = {}

    def natural_keys(model) -> dict:
        if model not in natural:
            natural[model] = {obj.pk: list(obj.natural_key()) for obj in model._base_manager.all()}
        return natural[model]

    result = {}
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if (
            meta.proxy
            or not meta.managed
            or meta.app_label in excluded_apps
            or meta.label_lower in excluded_models
        ):
            continue
        keyed = hasattr(model, "natural_key")
        by_content = keyed or meta.auto_created
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        rows = []
        for pk, *values in model._base_manager.order_by("pk").values_list("pk", *[f.attname for f in fields]):
            row = []
            for field, value in zip(fields, values, strict=True):
                related = field.related_model if field.is_relation else None
                if related is not None and value is not None and hasattr(related, "natural_key"):
                    value = natural_keys(related)[value]
                elif isinstance(value, dict | list):
                    value = json.loads(json.dumps(value, sort_keys=True, default=str))
                row.append(_plain(value, milliseconds))
            if keyed:
                rows.append([natural_keys(model)[pk], row])
            elif by_content:
                rows.append(row)
            else:
                rows.append([_plain(pk), row])
        if by_content:
            rows.sort(key=lambda r: json.dumps(r, default=str, sort_keys=True))
        text = json.dumps(rows, default=str, sort_keys=True, separators=(",", ":"))
        result[meta.label_lower] = [len(rows), hashlib.sha256(text.encode()).hexdigest()]
    return result


def seed(documents: int, corpus: str | None) -> dict[str, int]:
    """Write ``documents`` generated post-mortems (5 action items, 3 timeline
    entries, a declined change and a fix PR each) through the service layer,
    plus the public corpus when ``corpus`` is a folder of JSONL files."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from postmortems import services
    from postmortems.models import ActionItem, ContributingFactor, PostMortem, Service, Team, TeamMembership

    User = get_user_model()
    teams = [
        Team.objects.get_or_create(slug=f"drill-{n}", defaults={"name": f"Drill team {n}"})[0]
        for n in range(5)
    ]
    users = []
    for n in range(20):
        user, _ = User.objects.get_or_create(
            username=f"drill-user-{n}", defaults={"email": f"drill{n}@example.com", "first_name": f"Ada {n}"}
        )
        TeamMembership.objects.get_or_create(team=teams[n % 5], user=user)
        users.append(user)
    services_ = [
        Service.objects.get_or_create(
            slug=f"drill-svc-{n}", defaults={"name": f"Service {n}", "team": teams[n % 5]}
        )[0]
        for n in range(10)
    ]
    factors = list(ContributingFactor.objects.order_by("pk")[:12])
    start = timezone.now() - dt.timedelta(days=400)
    for n in range(documents):
        at = start + dt.timedelta(hours=7 * n)
        owner = users[n % 20]
        services.postmortem_save(
            user=owner,
            fields={
                "title": f"Drill incident {n}: checkout latency after config push",
                "team": teams[n % 5],
                "severity": PostMortem.Severity.choices[n % 4][0],
                "started_at": at,
                "detected_at": at + dt.timedelta(minutes=5 + n % 30),
                "mitigated_at": at + dt.timedelta(minutes=40 + n % 50),
                "resolved_at": at + dt.timedelta(hours=2),
                "what_happened": f"Requests to service {n % 10} timed out for {20 + n % 40} minutes. "
                "**Impact**: slow checkout; `p99` over 4 s.\n\n- one\n- two",
                "why_it_happened": "A config push removed the timeout default; no check compared configs.",
                "what_we_change": "Validate configs in CI and alert on p99.",
                "what_we_dont_change": "We keep deploying on Fridays: the day did not matter.",
                "services": [services_[n % 10], services_[(n + 3) % 10]],
                "factors": [factors[n % len(factors)], factors[(n + 5) % len(factors)]],
                "authors": [owner, users[(n + 1) % 20]],
                "facilitator": users[(n + 2) % 20],
            },
            timeline=[
                {"at": at + dt.timedelta(minutes=k * 9), "text": f"Step {k} of incident {n}"}
                for k in range(3)
            ],
            action_items=[
                {
                    "text": f"Action {k} for incident {n}",
                    "kind": ActionItem.Kind.choices[k % 5][0],
                    "owner": users[(n + k) % 20],
                    "due_date": (at + dt.timedelta(days=30 + k)).date(),
                    "status": ActionItem.Status.OPEN if k < 3 else ActionItem.Status.DONE,
                }
                for k in range(5)
            ],
            declined_changes=[
                {"text": f"Freeze deploys after incident {n}", "rationale": "Not tied to the day."}
            ],
            fix_prs=[{"url": f"https://github.com/acme/shop/pull/{n + 1}", "title": f"Restore default {n}"}],
        )
    if corpus:
        call_command("import_postmortems", corpus, verbosity=0)
    return {"postmortems": PostMortem.objects.count(), "action_items": ActionItem.objects.count()}


SEARCH = "checkout latency"


def inspect() -> dict:
    """What a restore must reproduce: digests (exact and to the millisecond) and a search."""
    from postmortems.models import PostMortem
    from postmortems.search import search_postmortems

    found = search_postmortems(PostMortem.objects.all(), SEARCH).values_list("pk", flat=True)
    return {"digest": digest(), "digest_ms": digest(milliseconds=True), "search": sorted(found)}


def smoke() -> dict:
    """The restored database works: no migration missing, checks pass, a new
    post-mortem saves (so sequences were restored). Raises on failure."""
    from django.core.management import call_command

    call_command("migrate", check_unapplied=True, verbosity=0)
    call_command("check", verbosity=0)
    return seed(1, None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    seed_parser = commands.add_parser("seed", help="seed, then print counts and inspect")
    seed_parser.add_argument("--documents", type=int, default=25)
    seed_parser.add_argument("--corpus", default=None)
    commands.add_parser("restored", help="inspect, then smoke-test a restored database")
    args = parser.parse_args(argv)
    _setup()
    if args.command == "seed":
        print(json.dumps({"counts": seed(args.documents, args.corpus), **inspect()}))
    else:
        print(json.dumps({**inspect(), "smoke": smoke()}))


if __name__ == "__main__":
    main()
