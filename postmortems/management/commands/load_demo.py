"""Load the demo organisation: Fernhill Outfitters, an online outdoor retailer.

``python manage.py load_demo`` (run by ``make run``) creates five teams, ten
users with team memberships, the teams' services, and imports the Markdown
one-pagers in ``postmortems/demo/`` through the ``import_postmortems`` command,
so the demo goes through the same parser and write path
(``services.postmortem_save``) as any real import.

The documents are written as of a fixed "now", ``DEMO_ANCHOR`` (2026-11-01).
After importing, every date of the demo documents (incident times, timeline,
action-item due dates and completion times) is moved by the whole number of
days between that anchor and today, so the demo never looks stale: overdue
items stay overdue by the same number of days, recent incidents stay recent.

Running the command again gives the same state: rows are matched by username,
slug and external id, and the shift is computed per document from the dates in
its file, so a document is never shifted twice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from io import StringIO
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password, is_password_usable, make_password
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import DateField, ExpressionWrapper, F
from django.test.utils import override_settings
from django.utils import timezone

from postmortems import services
from postmortems.history import record_revision
from postmortems.models import ActionItem, PostMortem, Service, Team, TeamMembership, TimelineEntry

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_ANCHOR = dt.date(2026, 11, 1)
"""The demo's "now": the dates in ``postmortems/demo/*.md`` are written as of this day."""
DEMO_PASSWORD = "demo-postmortem"  # noqa: S105 — a published password for a local demo only
DEMO_EMAIL_DOMAIN = "fernhill.example"
EXTERNAL_ID_PREFIX = "demo-"
LOGIN_URL = "http://127.0.0.1:8000/"

# (slug, name, description)
TEAMS: list[tuple[str, str, str]] = [
    ("payments", "Payments", "Checkout, card payments, refunds, fraud scoring and tax rates."),
    (
        "platform",
        "Platform",
        "Edge gateway, identity, Kubernetes clusters, internal DNS, secrets and the deploy pipeline.",
    ),
    (
        "search",
        "Search & Discovery",
        "Product search, autocomplete, the catalog indexer and recommendations.",
    ),
    ("mobile", "Mobile", "The iOS and Android apps, the mobile backend-for-frontend and push notifications."),
    ("data", "Data", "Order events, the warehouse and its ETL, inventory sync and reporting."),
]

# (username, first name, last name, [(team slug, role)]); alice is also admin.
USERS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("alice", "Alice", "Okafor", [("payments", TeamMembership.Role.LEAD)]),
    (
        "bob",
        "Bob",
        "Lindqvist",
        [("payments", TeamMembership.Role.MEMBER), ("data", TeamMembership.Role.MEMBER)],
    ),
    ("carol", "Carol", "Mendes", [("payments", TeamMembership.Role.FACILITATOR)]),
    ("dave", "Dave", "Kowalski", [("platform", TeamMembership.Role.LEAD)]),
    ("erin", "Erin", "Walsh", [("platform", TeamMembership.Role.MEMBER)]),
    (
        "frank",
        "Frank",
        "Osei",
        [("platform", TeamMembership.Role.MEMBER), ("data", TeamMembership.Role.MEMBER)],
    ),
    ("grace", "Grace", "Nakamura", [("search", TeamMembership.Role.LEAD)]),
    (
        "heidi",
        "Heidi",
        "Brandt",
        [("data", TeamMembership.Role.LEAD), ("search", TeamMembership.Role.MEMBER)],
    ),
    ("ivan", "Ivan", "Petrov", [("mobile", TeamMembership.Role.LEAD)]),
    ("judy", "Judy", "Haddad", [("mobile", TeamMembership.Role.MEMBER)]),
]
ADMIN_USERNAME = "alice"

# The security incident of the demo is restricted (issue 9): its team, its
# authors and facilitator, the named readers and admins read it; nobody else
# even learns that it exists. (external id, [named reader usernames])
RESTRICTED_DEMO: list[tuple[str, list[str]]] = [("demo-platform-006", ["grace"])]

# (slug, name, owning team slug)
SERVICES: list[tuple[str, str, str]] = [
    ("checkout", "Checkout", "payments"),
    ("payments-api", "Payments API", "payments"),
    ("refunds", "Refunds", "payments"),
    ("fraud-scoring", "Fraud scoring", "payments"),
    ("tax-rates", "Tax rates", "payments"),
    ("edge-gateway", "Edge gateway", "platform"),
    ("identity", "Identity", "platform"),
    ("artifact-registry", "Artifact registry", "platform"),
    ("deploy-pipeline", "Deploy pipeline", "platform"),
    ("internal-dns", "Internal DNS", "platform"),
    ("secrets-vault", "Secrets vault", "platform"),
    ("search-api", "Search API", "search"),
    ("catalog-indexer", "Catalog indexer", "search"),
    ("autocomplete", "Autocomplete", "search"),
    ("recommendations", "Recommendations", "search"),
    ("ios-app", "iOS app", "mobile"),
    ("android-app", "Android app", "mobile"),
    ("mobile-bff", "Mobile BFF", "mobile"),
    ("push-notifications", "Push notifications", "mobile"),
    ("order-events", "Order events", "data"),
    ("warehouse-etl", "Warehouse ETL", "data"),
    ("inventory-sync", "Inventory sync", "data"),
    ("reporting", "Reporting", "data"),
]

_FRONT_MATTER_FIELD = re.compile(r"^(external_id|started_at):[ \t]*(\S*)[ \t]*$", re.MULTILINE)


def demo_files(directory: Path | None = None) -> list[Path]:
    """The demo one-pagers: ``*.md`` files in ``directory`` (default ``DEMO_DIR``), by name."""
    return sorted((directory or DEMO_DIR).glob("*.md"))


def written_start_dates(directory: Path | None = None) -> dict[str, dt.date]:
    """Map each demo document's external id to the start date written in its file.

    Reads only the ``external_id`` and ``started_at`` front-matter lines; the
    full parsing is the importer's job.

    Returns:
        ``{"demo-payments-001": date(2026, 3, 4), ...}`` (UTC calendar dates).
    """
    dates: dict[str, dt.date] = {}
    for path in demo_files(directory):
        fields = dict(_FRONT_MATTER_FIELD.findall(path.read_text(encoding="utf-8")))
        if fields.get("external_id") and fields.get("started_at"):
            started = dt.datetime.fromisoformat(fields["started_at"].replace("Z", "+00:00"))
            dates[fields["external_id"]] = started.astimezone(dt.UTC).date()
    return dates


def _demo_password_hash(stored: set[str]) -> str:
    """A hash of ``DEMO_PASSWORD``: one already stored if any, else a new one.

    Every demo user gets the same hash string, so a second run checks one hash
    instead of hashing ten times (PBKDF2 is slow by design); sharing a salt
    costs nothing for a password that is published anyway.
    """
    for encoded in sorted(stored):
        if is_password_usable(encoded) and check_password(DEMO_PASSWORD, encoded):
            return encoded
    return make_password(DEMO_PASSWORD)


def demo_shift_days(today: dt.date | None = None) -> int:
    """Whole days from ``DEMO_ANCHOR`` to ``today`` (default: today, server time zone).

    Negative when ``today`` is before the anchor.
    """
    return ((today or timezone.localdate()) - DEMO_ANCHOR).days


class Command(BaseCommand):
    help = (
        "Load the Fernhill Outfitters demo organisation (teams, users, services and "
        "post-mortems) with dates moved to today. Idempotent."
    )

    def handle(self, *args, **options) -> None:
        directory = DEMO_DIR
        if not demo_files(directory):
            raise CommandError(f"No demo documents found in {directory}.")
        with transaction.atomic():
            teams = self._load_teams()
            users = self._load_users(teams)
            self._load_services(teams)
        problems = StringIO()
        # The owners are fictional: their "this action item is yours" e-mails
        # (sent in-process when no broker is configured) would only flood the
        # console of `make run`, so they go to the dummy backend.
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"):
            call_command(
                "import_postmortems",
                str(directory),
                create_users=True,
                no_progress=True,
                stdout=self.stdout,
                stderr=problems,
            )
        self.stderr.write(problems.getvalue(), ending="")
        bad = [
            line
            for line in problems.getvalue().splitlines()
            if line.strip() and not line.endswith("(warning)")
        ]
        if bad:
            raise CommandError(f"{len(bad)} demo document(s) could not be imported (see above).")
        demo_docs = PostMortem.objects.filter(external_id__startswith=EXTERNAL_ID_PREFIX)
        missing = set(written_start_dates(directory)) - set(demo_docs.values_list("external_id", flat=True))
        if missing:
            raise CommandError(
                f"{len(missing)} demo document(s) were not imported: {', '.join(sorted(missing))}."
            )
        shifted = self._shift_dates(directory)
        restricted = self._restrict(RESTRICTED_DEMO)

        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {len(teams)} teams, {len(users)} users, "
                f"{demo_docs.count()} post-mortems, "
                f"{ActionItem.objects.filter(postmortem__in=demo_docs).count()} action items "
                f"(dates moved by {shifted:+d} days so {DEMO_ANCHOR:%Y-%m-%d} reads as today)."
            )
        )
        for pm, readers in restricted:
            self.stdout.write(
                f"{pm.key} is restricted: team {pm.team.slug}, its authors and facilitator, "
                f"named readers {', '.join(readers)} and admins can read it."
            )
        self.stdout.write(
            self.style.WARNING(
                f'"{DEMO_PASSWORD}" is a published demo password: use this data for a '
                "local demo only, never on a reachable server."
            )
        )
        self.stdout.write(
            f"Log in at {LOGIN_URL} as {ADMIN_USERNAME} / {DEMO_PASSWORD} "
            f"(every demo user — {', '.join(u[0] for u in USERS)} — has the same password; "
            f"{ADMIN_USERNAME} is also an admin)."
        )

    def _load_teams(self) -> dict[str, Team]:
        teams = {}
        for slug, name, description in TEAMS:
            teams[slug], _ = Team.objects.update_or_create(
                slug=slug, defaults={"name": name, "description": description}
            )
        return teams

    def _load_users(self, teams: dict[str, Team]) -> list:
        user_model = get_user_model()
        users = []
        for username, first_name, last_name, memberships in USERS:
            is_admin = username == ADMIN_USERNAME
            user, _ = user_model.objects.update_or_create(
                username=username,
                defaults={
                    "first_name": first_name,
                    "last_name": last_name,
                    "email": f"{username}@{DEMO_EMAIL_DOMAIN}",
                    "is_active": True,
                    "is_staff": is_admin,
                    "is_superuser": is_admin,
                },
            )
            for team_slug, role in memberships:
                TeamMembership.objects.update_or_create(
                    team=teams[team_slug], user=user, defaults={"role": role}
                )
            users.append(user)
        demo_hash = _demo_password_hash({user.password for user in users})
        user_model.objects.filter(pk__in=[u.pk for u in users]).exclude(password=demo_hash).update(
            password=demo_hash
        )
        return users

    def _restrict(self, restricted: list[tuple[str, list[str]]]) -> list[tuple[PostMortem, list[str]]]:
        """Make the listed demo documents restricted, through the one write path (idempotent)."""
        user_model = get_user_model()
        done = []
        for external_id, readers in restricted:
            pm = PostMortem.objects.filter(external_id=external_id).first()
            if pm is None:
                raise CommandError(f"Demo document {external_id} to restrict is missing.")
            named = list(user_model.objects.filter(username__in=readers))
            already = pm.visibility == PostMortem.Visibility.RESTRICTED and set(
                pm.restricted_to.values_list("pk", flat=True)
            ) == {u.pk for u in named}
            if not already:
                services.postmortem_save(
                    postmortem=pm,
                    fields={"visibility": PostMortem.Visibility.RESTRICTED, "restricted_to": named},
                    enforce_readiness=False,
                    detect_patterns=False,
                    change_reason="demo: restricted (security incident)",
                )
            done.append((pm, readers))
        return done

    def _load_services(self, teams: dict[str, Team]) -> None:
        for slug, name, team_slug in SERVICES:
            Service.objects.update_or_create(slug=slug, defaults={"name": name, "team": teams[team_slug]})

    def _shift_dates(self, directory: Path) -> int:
        """Move each demo document's dates so the anchor day becomes today.

        A document's current offset is read from its stored start date against
        the one in its file, so a document the importer left untouched (already
        shifted on an earlier run) is moved only by the difference.

        Returns:
            The target shift in days.
        """
        target = demo_shift_days()
        written = written_start_dates(directory)
        by_delta: dict[int, list[int]] = defaultdict(list)
        rows = PostMortem.objects.filter(external_id__in=written).values_list(
            "pk", "external_id", "started_at"
        )
        for pk, external_id, started_at in rows:
            current = (timezone.localdate(started_at, dt.UTC) - written[external_id]).days
            if target - current:
                by_delta[target - current].append(pk)
        with transaction.atomic():
            for days, pks in by_delta.items():
                self._shift(pks, dt.timedelta(days=days))
            # The shift is a change like any other: each moved document gets a
            # revision, so its history compares and restores the dates it shows.
            moved = [pk for pks in by_delta.values() for pk in pks]
            for pm in PostMortem.objects.filter(pk__in=moved):
                record_revision(pm, reason="demo: dates moved to today")
        return target

    @staticmethod
    def _shift(pks: list[int], delta: dt.timedelta) -> None:
        PostMortem.objects.filter(pk__in=pks).update(
            **{name: F(name) + delta for name in ("started_at", "detected_at", "mitigated_at", "resolved_at")}
        )
        TimelineEntry.objects.filter(postmortem_id__in=pks).update(at=F("at") + delta)
        items = ActionItem.objects.filter(postmortem_id__in=pks)
        items.update(due_date=ExpressionWrapper(F("due_date") + delta, output_field=DateField()))
        items.filter(completed_at__isnull=False).update(completed_at=F("completed_at") + delta)
