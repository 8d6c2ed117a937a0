"""Real processes for the integration tests: a Celery worker, a beat, a
throw-away redis-server, and a "web process" that saves a post-mortem.

Every process is started by a test and stopped by it (its own process group,
SIGTERM then SIGKILL). Nothing here touches the shared Redis on 6379 beyond the
database number the test run was given.

Run as a script (``python -m tests.followthrough.processes save …``) it is the
web process: it saves one post-mortem with one action item through
``postmortems.services.postmortem_save`` and prints what happened as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def database_url() -> str:
    """The URL of the database the test run is using (the test database)."""
    from django.db import connection

    db = connection.settings_dict
    if connection.vendor != "postgresql":
        raise RuntimeError("worker tests need PostgreSQL (a file the worker can share)")
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def environment(*, redis_url: str, smtp_port: int, **extra: str) -> dict[str, str]:
    """Environment for a worker, beat or web process of this test run."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="kb.settings",
        SECRET_KEY="integration-test-secret-key",
        DEBUG="0",
        DATABASE_URL=database_url(),
        REDIS_URL=redis_url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_USE_TLS="0",
        SITE_URL="http://kb.test",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Process:
    """One child process with its output in a log file."""

    def __init__(self, args: list[str], *, env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argument lists
            args, cwd=ROOT, env=env, stdout=self._file, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not seen in {self.log.name}:\n{self.output()[-3000:]}")

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.pid}/task/{self.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        self._file.close()


def start_worker(*, env: dict[str, str], log: Path) -> Process:
    """``celery -A kb worker`` (prefork, one child), waited for until ready."""
    worker = Process(
        [
            str(BIN / "celery"),
            "-A",
            "kb",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=kbtest-{uuid.uuid4().hex[:8]}@%h",
            "--loglevel=INFO",
        ],
        env=env,
        log=log,
    )
    worker.wait_for(" ready.")
    return worker


def start_beat(*, env: dict[str, str], log: Path, schedule: Path) -> Process:
    """``celery -A kb beat`` with its schedule file in the test's directory."""
    return Process(
        [str(BIN / "celery"), "-A", "kb", "beat", "--loglevel=INFO", f"--schedule={schedule}"],
        env=env,
        log=log,
    )


def start_redis(*, port: int, log: Path) -> Process:
    """A throw-away redis-server on ``port`` that keeps nothing on disk."""
    redis = Process(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        env=dict(os.environ),
        log=log,
    )
    redis.wait_for("Ready to accept connections", timeout=10)
    return redis


def save_postmortem(*, env: dict[str, str], team_id: int, owner_id: int) -> dict:
    """Run the "web process": save a post-mortem with one action item; return its report."""
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.followthrough.processes", "save", str(team_id), str(owner_id)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _save(team_id: int, owner_id: int) -> None:
    import datetime as dt

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from postmortems.models import Team
    from postmortems.services import postmortem_save

    team = Team.objects.get(pk=team_id)
    owner = get_user_model().objects.get(pk=owner_id)
    started = time.perf_counter()
    pm = postmortem_save(
        fields={
            "title": "Saved while Redis was down",
            "team": team,
            "severity": "SEV2",
            "what_happened": "The broker was stopped.",
            "why_it_happened": "An integration test stopped it.",
        },
        action_items=[
            {
                "text": "Tell the owner once Redis is back",
                "kind": "process",
                "owner": owner,
                "due_date": dt.date.today() + dt.timedelta(days=30),
            }
        ],
    )
    seconds = time.perf_counter() - started
    print(json.dumps({"pm": pm.pk, "item": pm.action_items.get().pk, "seconds": round(seconds, 3)}))  # noqa: T201


if __name__ == "__main__":
    if sys.argv[1:2] == ["save"]:
        _save(int(sys.argv[2]), int(sys.argv[3]))
    else:
        raise SystemExit("usage: python -m tests.followthrough.processes save TEAM_ID OWNER_ID")
