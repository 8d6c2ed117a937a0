"""``python manage.py import_postmortems PATH... [--team SLUG] [--create-users] [--no-progress] [--strict]``

Imports JSON Lines corpora (``*.jsonl``) and Markdown one-pagers (``*.md``),
files or directories (searched recursively). The work is done by
``postmortems.exchange.importer.import_paths``; this command prints each bad
record as ``file:line: message`` on stderr and a summary line on stdout.

Exit status: 0 when at least one record was good (or there was nothing bad);
1 when every record was bad, or with ``--strict`` when any record was bad.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from postmortems.exchange.importer import ImportSetupError, import_paths


class Command(BaseCommand):
    help = "Import post-mortems from JSON Lines corpora and Markdown one-pagers (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="*.jsonl / *.md files or directories")
        parser.add_argument(
            "--team", dest="team", metavar="SLUG", help="put every post-mortem under this existing team"
        )
        parser.add_argument(
            "--create-users",
            dest="create_users",
            action="store_true",
            help="create unknown authors, facilitators and owners (unusable password)",
        )
        parser.add_argument("--no-progress", dest="no_progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--strict", dest="strict", action="store_true", help="exit non-zero if any record is bad"
        )

    def handle(self, *args, **options) -> None:
        try:
            report = import_paths(
                options["paths"],
                team_slug=options.get("team"),
                create_users=options.get("create_users", False),
                progress=not options.get("no_progress", False),
            )
        except ImportSetupError as exc:
            raise CommandError(str(exc)) from exc
        for problem in report.problems:
            self.stderr.write(f"{problem}")
        for warning in report.warnings:
            self.stderr.write(f"{warning} (warning)")
        for line in report.detail_lines():
            self.stdout.write(line)
        style = self.style.SUCCESS if not report.bad else self.style.WARNING
        self.stdout.write(style(report.summary_line()))
        if report.bad and (options.get("strict") or not report.good):
            raise CommandError(
                f"{report.bad} bad record(s)" + (" and nothing imported." if not report.good else ".")
            )
