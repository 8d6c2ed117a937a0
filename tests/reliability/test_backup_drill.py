"""Backup and restore drill (RELIABILITY.md T18): every row comes back.

Three paths, each from a seeded database into an empty one, compared model by
model (row count and SHA-256 of the rows ordered by primary key; see drill.py):

- SQLite online backup (``sqlite3.Connection.backup``, safe while the app
  writes), then ``PRAGMA integrity_check``;
- the portable path, ``dumpdata --natural-foreign --natural-primary`` (minus
  content types, permissions, sessions and the admin log) → ``migrate`` +
  ``loaddata``: SQLite → SQLite in the SQLite run, SQLite → PostgreSQL in the
  PostgreSQL run (the move from the embedded default to production);
- PostgreSQL ``pg_dump -Fc`` → ``pg_restore --exit-on-error`` (PostgreSQL run).

After each restore: ``migrate --check`` and ``check`` pass, search finds the same
documents, and a new post-mortem can be written (sequences are right). The
application keeps no uploaded files (no FileField anywhere), so rows are the
whole backup. ``make verify`` seeds more (and imports the public corpus when
../shared/data is there) and writes the figures to docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dj_database_url
import pytest
from django.conf import settings

from tests.reliability import report
from tests.reliability.drill import DUMPDATA_ARGS

ROOT = Path(__file__).resolve().parents[2]
ENGINE = settings.DATABASES["default"]["ENGINE"]
CORPUS = Path(os.environ.get("KB_CORPUS_DIR") or ROOT.parent / "shared" / "data" / "postmortems")


def _documents() -> int:
    return 300 if report.full_run() else 25


def _corpus() -> str | None:
    if report.full_run() and CORPUS.is_dir() and any(CORPUS.glob("*.jsonl")):
        return str(CORPUS)
    return None


def _run(args: list[str], database_url: str, *, timeout: float = 1200) -> tuple[str, float]:
    """Run ``args`` in this checkout against ``database_url``; (stdout, seconds).

    Raises:
        AssertionError: with the output when the command fails.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": "",
        "PYTHONPATH": str(ROOT),
    }
    started = time.monotonic()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - started
    assert result.returncode == 0, f"{' '.join(args)}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout, seconds


def _manage(*args: str, url: str) -> float:
    return _run([sys.executable, "manage.py", *args], url)[1]


def _drill(*args: str, url: str) -> dict:
    out, _ = _run([sys.executable, "-m", "tests.reliability.drill", *args], url)
    return json.loads(out.strip().splitlines()[-1])


def _seed(url: str) -> dict:
    extra = ["--corpus", _corpus()] if _corpus() else []
    return _drill("seed", "--documents", str(_documents()), *extra, url=url)


@contextmanager
def _scratch() -> Iterator[Path]:
    """A temporary folder, on tmpfs when there is one (SQLite is fsync-bound on disk)."""
    shm = Path("/dev/shm")
    parent = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="kb-drill-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _empty_sqlite(folder: Path, name: str) -> str:
    """A migrated, empty SQLite database (a copy of one migrated per folder)."""
    template = folder / "empty.sqlite3"
    if not template.exists():
        _manage("migrate", "--no-input", "-v0", url=f"sqlite:///{template}")
    shutil.copy(template, folder / name)
    return f"sqlite:///{folder / name}"


def _check_restored(url: str, source: dict, path: str, *, exact: bool) -> int:
    """Compare the restored database at ``url`` with ``source`` (a drill ``seed``
    result); returns the rows compared. ``exact``: to the microsecond."""
    restored = _drill("restored", url=url)
    key = "digest" if exact else "digest_ms"
    assert set(restored[key]) == set(source[key]), f"{path}: models differ"
    different = {
        m: (source[key][m], restored[key][m]) for m in source[key] if source[key][m] != restored[key][m]
    }
    assert different == {}, f"{path}: rows differ in {different}"
    assert restored["search"] == source["search"], f"{path}: search finds other documents"
    assert restored["smoke"]["postmortems"] == source["counts"]["postmortems"] + 1
    return sum(rows for rows, _ in source[key].values())


def _row(path: str, rows: int, models: int, seconds: float) -> list:
    return [path, "0", models, rows, "equal", f"{seconds:.2f}"]


HEADER = ["path", "exit", "models compared", "rows restored", "per-model digests", "restore seconds"]


@pytest.mark.skipif(ENGINE != "django.db.backends.sqlite3", reason="the SQLite paths run in the SQLite suite")
def test_sqlite_online_backup_and_dumpdata_restore_every_row():
    with _scratch() as folder:
        source_url = _empty_sqlite(folder, "source.sqlite3")
        source = _seed(source_url)
        assert source["search"], "the seed should be searchable"

        # 1. Online backup through SQLite's backup API.
        started = time.monotonic()
        with (
            sqlite3.connect(folder / "source.sqlite3") as src,
            sqlite3.connect(folder / "backup.sqlite3") as dst,
        ):
            src.backup(dst)
        backup_seconds = time.monotonic() - started
        with sqlite3.connect(folder / "backup.sqlite3") as check:
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = _check_restored(f"sqlite:///{folder / 'backup.sqlite3'}", source, "sqlite backup", exact=True)

        # 2. Portable: dumpdata → migrate + loaddata into an empty database.
        dump = folder / "kb.json"
        _manage("dumpdata", "--all", *DUMPDATA_ARGS, "--indent", "0", "-o", str(dump), url=source_url)
        fresh_url = _empty_sqlite(folder, "fresh.sqlite3")
        load_seconds = _manage("loaddata", str(dump), url=fresh_url)
        _check_restored(fresh_url, source, "dumpdata/loaddata", exact=False)

    counts = source["counts"]
    models = len(source["digest"])
    report.record(
        "Backup and restore drill (T18, SQLite)",
        report.table(
            HEADER,
            [
                _row(
                    "SQLite online backup (`Connection.backup`) + integrity_check",
                    rows,
                    models,
                    backup_seconds,
                ),
                _row("dumpdata → migrate + loaddata (SQLite → SQLite)", rows, models, load_seconds),
            ],
        )
        + f"\n\nSeed: {counts['postmortems']} post-mortems, {counts['action_items']} action items"
        f"{' (including the 788 imported from the public corpus)' if _corpus() else ''}, through the service "
        "layer. After each restore `migrate --check` and `check` pass, search returns the same documents "
        "and a new post-mortem saves. The dumpdata path is compared with times cut to the millisecond "
        "(Django's JSON serializer writes no finer); the online backup to the microsecond. "
        "Command: `make verify`.",
    )


def _pg_base() -> dict:
    return dj_database_url.parse(os.environ["DATABASE_URL"])


def _pg_url(name: str) -> str:
    db = _pg_base()
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"


def _pg_admin(sql: str) -> None:
    import psycopg

    db = _pg_base()
    with psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(sql)


@pytest.mark.skipif(ENGINE != "django.db.backends.postgresql", reason="the PostgreSQL paths run in its suite")
@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump/pg_restore are not installed")
def test_postgresql_dump_restore_and_sqlite_to_postgresql_restore_every_row():
    stem = f"test_{_pg_base()['NAME']}_drill"
    names = {role: f"{stem}_{role}" for role in ("source", "restore", "portable")}
    for name in names.values():
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    try:
        with _scratch() as folder:
            # 1. pg_dump -Fc → pg_restore into a new database.
            _pg_admin(f'CREATE DATABASE "{names["source"]}"')
            source_url = _pg_url(names["source"])
            _manage("migrate", "--no-input", "-v0", url=source_url)
            source = _seed(source_url)
            assert source["search"]
            dump = folder / "kb.dump"
            _, dump_seconds = _run(["pg_dump", "-Fc", "-f", str(dump), source_url], source_url)
            _pg_admin(f'CREATE DATABASE "{names["restore"]}"')
            restore_url = _pg_url(names["restore"])
            _, restore_seconds = _run(
                ["pg_restore", "--exit-on-error", "-d", restore_url, str(dump)], restore_url
            )
            rows = _check_restored(restore_url, source, "pg_dump/pg_restore", exact=True)

            # 2. Portable: a SQLite installation moves to PostgreSQL.
            sqlite_url = _empty_sqlite(folder, "source.sqlite3")
            sqlite_source = _seed(sqlite_url)
            dump_json = folder / "kb.json"
            _manage(
                "dumpdata", "--all", *DUMPDATA_ARGS, "--indent", "0", "-o", str(dump_json), url=sqlite_url
            )
            _pg_admin(f'CREATE DATABASE "{names["portable"]}"')
            portable_url = _pg_url(names["portable"])
            _manage("migrate", "--no-input", "-v0", url=portable_url)
            load_seconds = _manage("loaddata", str(dump_json), url=portable_url)
            portable_rows = _check_restored(portable_url, sqlite_source, "SQLite → PostgreSQL", exact=False)
    finally:
        for name in names.values():
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    counts, sqlite_counts = source["counts"], sqlite_source["counts"]
    report.record(
        "Backup and restore drill (T18, PostgreSQL)",
        report.table(
            HEADER,
            [
                _row(
                    "`pg_dump -Fc` → `pg_restore --exit-on-error`",
                    rows,
                    len(source["digest"]),
                    restore_seconds,
                ),
                _row(
                    "dumpdata → migrate + loaddata (SQLite → PostgreSQL)",
                    portable_rows,
                    len(sqlite_source["digest"]),
                    load_seconds,
                ),
            ],
        )  # fmt: skip
        + f"\n\nSeed: {counts['postmortems']} post-mortems, {counts['action_items']} action items on "
        f"PostgreSQL (SQLite source: {sqlite_counts['postmortems']}, {sqlite_counts['action_items']})"
        f"{', each including the 788 imported from the public corpus' if _corpus() else ''}, through the "
        f"service layer. pg_dump took {dump_seconds:.2f} s. After each restore `migrate --check` and "
        "`check` pass, search returns the same documents and a new post-mortem saves. The dumpdata "
        "path is compared with times cut to the millisecond (Django's JSON serializer writes no "
        "finer); pg_dump to the microsecond. Command: `make verify`.",
    )
