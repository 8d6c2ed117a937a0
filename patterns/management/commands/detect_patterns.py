"""``manage.py detect_patterns [--team SLUG] [--dry-run]``: find recurring
contributing factors and open or extend Definition-of-Done proposals."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from patterns.detection import detect_patterns
from postmortems.models import Team


class Command(BaseCommand):
    help = (
        "Find contributing factors that recur (K post-mortems inside W days; organisation-wide "
        "from 2+ teams) and open or extend DoD proposals. Prints one line per recurring pattern."
    )

    def add_arguments(self, parser):
        parser.add_argument("--team", metavar="SLUG", help="Only this team (no organisation-wide detection).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would happen; write nothing.")

    def handle(self, *args, **options):
        team = None
        if options["team"]:
            team = Team.objects.filter(slug=options["team"]).first()
            if team is None:
                raise CommandError(f"No team with slug {options['team']!r}.")
        report = detect_patterns(team=team, dry_run=options["dry_run"])
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was written.")
        for finding in report.findings:
            self.stdout.write(finding.describe())
        self.stdout.write(report.summary_line())
