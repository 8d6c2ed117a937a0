"""``python manage.py export_postmortems DIR [--team SLUG] [--key PM-1 ...] [--include-restricted]``

Writes one ``PM-<n>.md`` per post-mortem in the Markdown one-pager format of
``postmortems.exchange.markdown_format``; ``import_postmortems DIR`` reads the
files back without loss.

What leaves the database (issue 9, "a restricted document never leaks"): by
default only *organisation* documents that are not deleted. Restricted
documents are written only when the operator passes ``--include-restricted``,
a deliberate choice for a trusted destination (a backup, a move to another
instance): the files carry no access marking, so whoever can read the
directory reads them, and they are imported back as organisation documents.
Deleted documents are never exported.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from postmortems.exchange.markdown_format import render_postmortem_markdown
from postmortems.models import KEY_PATTERN, PostMortem, Team


class Command(BaseCommand):
    help = "Export post-mortems as Markdown one-pagers (one PM-<n>.md per document)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", metavar="DIR", help="where to write (created if missing)")
        parser.add_argument("--team", dest="team", metavar="SLUG", help="only this team's post-mortems")
        parser.add_argument(
            "--include-restricted",
            action="store_true",
            help=(
                "also export restricted post-mortems (by default only organisation-wide ones are "
                "written); the files carry no access marking, so keep them where only the people "
                "allowed to read those documents can"
            ),
        )
        parser.add_argument(
            "--key",
            dest="keys",
            metavar="PM-N",
            nargs="+",
            action="extend",
            default=[],
            help="only these post-mortems",
        )

    def handle(self, *args, **options) -> None:
        documents = (
            PostMortem.objects.select_related("team", "facilitator")
            .prefetch_related(
                "services",
                "authors",
                "factors",
                "timeline",
                "action_items__owner",
                "declined_changes",
                "fix_prs",
            )
            .order_by("pk")
        )
        include_restricted = options["include_restricted"]
        if options["team"]:
            if not Team.objects.filter(slug=options["team"]).exists():
                raise CommandError(f"No team with slug {options['team']!r}.")
            documents = documents.filter(team__slug=options["team"])
        if options["keys"]:
            ids = []
            for key in options["keys"]:
                match = KEY_PATTERN.fullmatch(key.strip())
                if not match:
                    raise CommandError(f"Not a post-mortem key: {key!r} (expected PM-<number>).")
                ids.append(int(match.group(1)))
            found = dict(PostMortem.objects.filter(pk__in=ids).values_list("pk", "visibility"))
            missing = set(ids) - set(found)
            if missing:
                raise CommandError("No such post-mortem: " + ", ".join(f"PM-{pk}" for pk in sorted(missing)))
            restricted = sorted(pk for pk, v in found.items() if v == PostMortem.Visibility.RESTRICTED)
            if restricted and not include_restricted:
                raise CommandError(
                    "Restricted post-mortem(s): "
                    + ", ".join(f"PM-{pk}" for pk in restricted)
                    + "; add --include-restricted to export them."
                )
            documents = documents.filter(pk__in=ids)
        # Counted before the filter below, so the summary can say what was left out.
        restricted_in_scope = documents.filter(visibility=PostMortem.Visibility.RESTRICTED)
        if not include_restricted:
            documents = documents.filter(visibility=PostMortem.Visibility.ORGANISATION)
        directory = Path(options["directory"])
        directory.mkdir(parents=True, exist_ok=True)
        count = 0
        for pm in documents:
            (directory / f"{pm.key}.md").write_text(render_postmortem_markdown(pm), encoding="utf-8")
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Exported {count} post-mortem(s) to {directory}."))
        if include_restricted:
            self.stdout.write(
                self.style.WARNING(
                    "Restricted post-mortems were included; the files carry no access marking."
                )
            )
        else:
            skipped = restricted_in_scope.count()
            if skipped:
                self.stdout.write(
                    f"Left out {skipped} restricted post-mortem(s); --include-restricted exports them."
                )
