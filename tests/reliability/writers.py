"""Concurrent writers against the API under gunicorn (RELIABILITY.md T15/T27, "No lost edits").

``serve`` starts gunicorn (gthread workers) on a free loopback port against the
test database; ``hammer`` runs N writer threads for a bounded time, each doing
read-modify-write cycles on the same few objects:

1. ``GET`` the object → its ``ETag`` and current state;
2. ``PATCH`` it with ``If-Match: <that ETag>`` and a change that carries a
   unique token (appended to a post-mortem's text, or an action item's status
   moved on and its text set to the token);
3. on 412 (someone else saved first) go back to 1; on 2xx the write is
   "acknowledged" and recorded with the version it was based on and the one it
   produced.

Every response is counted by class (2xx, 412, 428, other 4xx, 5xx, transport
errors). The test then checks the database: every acknowledged token is there,
the version is 1 + the number of acknowledged writes, and each acknowledged
write produced exactly the version after the one it read (no write was based on
a stale read). Idea: the read-modify-write "soak" of RELIABILITY.md T15 and
RFC 9110 §13.1.1 (If-Match).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Ack:
    """One acknowledged write: its token, the version it read and the one it made."""

    target: int
    token: str
    read_version: int
    new_version: int


@dataclass
class Outcome:
    """Counts of one load run (all writers together).

    ``responses`` maps a class ("2xx", "412", "428", "4xx other", "5xx") to a
    count; ``errors`` are transport failures (refused, reset, timeout); ``acks``
    the acknowledged writes; ``examples`` the first few unexpected answers.
    """

    requests: int = 0
    reads: int = 0
    writes: int = 0
    responses: Counter = field(default_factory=Counter)
    errors: int = 0
    acks: list[Ack] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    seconds: float = 0.0
    load_average: float = 0.0  # the machine's 1-minute load average when the run started
    write_latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, status: int) -> None:
        """Count one response by class (2xx, 412, 428, 4xx other, 5xx)."""
        if 200 <= status < 300:
            key = "2xx"
        elif status in (412, 428):
            key = str(status)
        elif status >= 500:
            key = "5xx"
        else:
            key = "4xx other"
        with self.lock:
            self.requests += 1
            self.responses[key] += 1

    def unexpected(self, text: str) -> None:
        """Keep the first few unexpected answers for the report."""
        with self.lock:
            if len(self.examples) < 5:
                self.examples.append(text[:500])

    def p95_write_ms(self) -> float:
        """95th percentile of PATCH latency in milliseconds (0 when nothing was written)."""
        if not self.write_latencies:
            return 0.0
        ordered = sorted(self.write_latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """A DATABASE_URL for the database this test process is connected to (the test db)."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] or ""
    if s.get("PASSWORD"):
        auth += f":{s['PASSWORD']}"
    host = s["HOST"] or "127.0.0.1"
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@contextmanager
def serve(*, workers: int = 2, threads: int = 4, token: str) -> Iterator[int]:
    """Run gunicorn (deploy/gunicorn.conf.py, gthread) on a free loopback port
    against the test database; yield the port; stop it (SIGTERM, then SIGKILL).

    Uses ``tests.settings`` (the project's settings, throttling off: eight
    writers from one address would otherwise meet the write throttle) with
    ``DEBUG`` off.

    Raises:
        RuntimeError: gunicorn exited or did not answer within 60 s (with its log).
    """
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "DEBUG": "0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    log_path = Path(f"/tmp/kb-writers-{port}.log")  # noqa: S108 - a scratch log, removed below
    with log_path.open("w+b") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [gunicorn, "--config", "deploy/gunicorn.conf.py", "kb.wsgi:application"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_until_up(port, token, process, log)
            yield port
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    log_path.unlink(missing_ok=True)


def _wait_until_up(port: int, token: str, process: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{log.read()[-3000:].decode()}")
        try:
            status, _, _ = _request(_connect(port), "GET", "/api/v1/factors/", token)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    log.seek(0)
    raise RuntimeError(f"gunicorn did not answer in 60 s:\n{log.read()[-3000:].decode()}")


def _connect(port: int) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", port, timeout=30)


def _request(
    conn: http.client.HTTPConnection,
    method: str,
    path: str,
    token: str,
    body: dict | None = None,
    headers: dict | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request on a kept-alive connection: (status, headers, JSON body or None)."""
    sent = {"Authorization": f"Token {token}", "Accept": "application/json", **(headers or {})}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    conn.request(method, path, body=payload, headers=sent)
    response = conn.getresponse()
    raw = response.read()
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw.decode(errors="replace")
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


# A change: (current body) → (PATCH body carrying ``token``).
Change = Callable[[dict, str], dict]


def hammer(
    *,
    port: int,
    token: str,
    paths: list[str],
    change: Change,
    writers: int,
    seconds: float,
) -> Outcome:
    """Run ``writers`` threads for ``seconds``, each doing GET → PATCH(If-Match)
    cycles on ``paths`` (writer i starts on path i mod len(paths) and moves on after
    each acknowledged write, so every path has several writers at once).

    Returns the counts; never raises for a bad answer (they are counted).
    """
    outcome = Outcome()
    start = threading.Barrier(writers)
    stop_at: list[float] = []

    def writer(number: int) -> None:
        conn = _connect(port)
        start.wait()
        if not stop_at:
            stop_at.append(time.monotonic() + seconds)
        sequence = 0
        index = number % len(paths)
        while time.monotonic() < stop_at[0]:
            path = paths[index]
            try:
                status, headers, body = _request(conn, "GET", path, token)
                outcome.count(status)
                with outcome.lock:
                    outcome.reads += 1
                if status != 200:
                    outcome.unexpected(f"GET {path} → {status} {body}")
                    continue
                etag = headers.get("etag", "")
                read_version = int(body["version"])
                tag = f"w{number}-{sequence}"
                began = time.monotonic()
                status, headers, answer = _request(
                    conn, "PATCH", path, token, change(body, tag), {"If-Match": etag}
                )
                took = time.monotonic() - began
                outcome.count(status)
                with outcome.lock:
                    outcome.writes += 1
                    outcome.write_latencies.append(took)
                if 200 <= status < 300:
                    sequence += 1
                    target = int(path.rstrip("/").rsplit("/", 1)[1])
                    with outcome.lock:
                        outcome.acks.append(Ack(target, tag, read_version, answer["version"]))
                    index = (index + 1) % len(paths)
                elif status != 412:
                    outcome.unexpected(f"PATCH {path} (If-Match {etag}) → {status} {answer}")
                # Acknowledged, conflict (412) or error: read again.
            except (OSError, http.client.HTTPException) as exc:
                with outcome.lock:
                    outcome.errors += 1
                outcome.unexpected(f"{path}: {type(exc).__name__}: {exc}")
                conn.close()
                conn = _connect(port)
        conn.close()

    threads = [threading.Thread(target=writer, args=(n,), daemon=True) for n in range(writers)]
    outcome.load_average = os.getloadavg()[0]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    outcome.seconds = time.monotonic() - began
    return outcome


def append_to_text(field_name: str) -> Change:
    """A post-mortem change: append ``- <token>`` as a new line of a Markdown field."""

    def change(body: dict, token: str) -> dict:
        return {field_name: f"{body[field_name].rstrip()}\n- load token {token}"}

    return change


NEXT_STATUS = {"open": "in_progress", "in_progress": "done", "done": "open", "not_doing": "open"}


def move_action_item(prefix: str) -> Change:
    """An action-item change: move the status on (open → in progress → done → open)
    and set the text to ``<prefix> [<token>]``."""

    def change(body: dict, token: str) -> dict:
        return {"status": NEXT_STATUS[body["status"]], "text": f"{prefix} [{token}]"}

    return change
