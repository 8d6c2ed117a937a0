"""Fixtures for follow-through: tasks in-process, a local SMTP server (aiosmtpd)
and a local Slack stand-in (an HTTP server on 127.0.0.1), both started and
stopped by the test that uses them."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from postmortems.models import TeamMembership
from tests.factories import TeamMembershipFactory, UserFactory


@pytest.fixture(autouse=True)
def tasks_in_process(request):
    """Run ``.delay()`` in-process here, also in the Redis run; tests marked
    ``redis`` use a real worker instead."""
    if request.node.get_closest_marker("redis"):
        yield
        return
    from kb.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """What the local SMTP server received. Set ``hold`` to keep the server from
    answering DATA until the event is set (a send "in flight")."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.received = threading.Event()
        self.hold: threading.Event | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.received.set()
        if self.hold is not None:
            for _ in range(200):  # at most 10 s
                if self.hold.is_set():
                    break
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        return [str(message["Subject"]) for message in self.messages]

    def recipients(self) -> list[str]:
        return sorted(str(message["To"]) for message in self.messages)


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 (aiosmtpd); yields (inbox, port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        if inbox.hold is not None:
            inbox.hold.set()
        controller.stop()


@pytest.fixture
def smtp_settings(settings, smtp_server):
    """Django's SMTP backend pointed at the local server."""
    inbox, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    return inbox


class SlackStandIn:
    """A local stand-in for a Slack incoming webhook: records JSON bodies and
    answers with ``status`` (200 by default)."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.status = 200
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's hook name
                length = int(self.headers.get("Content-Length") or 0)
                stand_in.posts.append(
                    {
                        "path": self.path,
                        "content_type": self.headers.get("Content-Type"),
                        "body": json.loads(self.rfile.read(length) or b"null"),
                    }
                )
                self.send_response(stand_in.status)
                self.end_headers()
                self.wfile.write(b"ok" if stand_in.status == 200 else b"invalid_token")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def slack(settings):
    settings.SLACK_WEBHOOK_HOSTS = ["hooks.slack.com", "127.0.0.1"]
    stand_in = SlackStandIn()
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def lead(team):
    user = UserFactory(username="lena-lead")
    TeamMembershipFactory(team=team, user=user, role=TeamMembership.Role.LEAD)
    return user
