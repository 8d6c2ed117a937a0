"""``python manage.py export_postmortems DIR [--team SLUG] [--key PM-1 ...]``

Writes one ``PM-<n>.md`` per post-mortem in the Markdown one-pager format of
``postmortems.exchange.markdown_format``; ``import_postmortems DIR`` reads the
files back without loss.
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
            missing = set(ids) - set(PostMortem.objects.filter(pk__in=ids).values_list("pk", flat=True))
            if missing:
                raise CommandError("No such post-mortem: " + ", ".join(f"PM-{pk}" for pk in sorted(missing)))
            documents = documents.filter(pk__in=ids)
        directory = Path(options["directory"])
        directory.mkdir(parents=True, exist_ok=True)
        count = 0
        for pm in documents:
            (directory / f"{pm.key}.md").write_text(render_postmortem_markdown(pm), encoding="utf-8")
            count += 1
        self.stdout.write(self.style.SUCCESS(f"Exported {count} post-mortem(s) to {directory}."))
