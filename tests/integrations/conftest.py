"""Fixtures for the GitHub integration: a configured webhook secret, tasks run
in-process (so the same tests pass on the SQLite run and the Redis run), and
helpers that build and sign realistic deliveries."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest

from integrations.github.signature import signature_for

SECRET = "test-webhook-secret-7c1f0a"
URL = "/webhooks/github/"
_BASE = json.loads((Path(__file__).parent / "data" / "pull_request_opened.json").read_text())


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.GITHUB_WEBHOOK_SECRET = SECRET
    settings.GITHUB_WEBHOOK_PREVIOUS_SECRET = ""
    settings.GITHUB_HOSTS = ["github.com"]
    return SECRET


@pytest.fixture(autouse=True)
def tasks_in_process(request):
    """Run ``.delay()`` in-process here, also in the Redis run (no worker there)."""
    if request.node.get_closest_marker("redis"):
        yield
        return
    from kb.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


def pr_payload(
    action: str = "opened",
    *,
    number: int = 42,
    title: str | None = None,
    body: str | None = None,
    branch: str | None = None,
    state: str | None = None,
    merged: bool = False,
    repo: str = "acme/shop",
    updated_at: str | None = None,
) -> dict:
    """A ``pull_request`` delivery shaped like GitHub's (see data/pull_request_opened.json)."""
    payload = copy.deepcopy(_BASE)
    pr = payload["pull_request"]
    payload["action"] = action
    payload["number"] = number
    payload["repository"]["full_name"] = repo
    pr["number"] = number
    pr["html_url"] = f"https://github.com/{repo}/pull/{number}"
    pr["url"] = f"https://api.github.com/repos/{repo}/pulls/{number}"
    if title is not None:
        pr["title"] = title
    if body is not None:
        pr["body"] = body
    if branch is not None:
        pr["head"]["ref"] = branch
        pr["head"]["label"] = f"{repo.split('/')[0]}:{branch}"
    if action == "closed":
        pr["state"] = "closed"
        pr["closed_at"] = updated_at or "2026-03-03T10:00:00Z"
        pr["updated_at"] = pr["closed_at"]
    if merged:
        pr["merged"] = True
        pr["merged_at"] = updated_at or "2026-03-03T10:00:00Z"
        pr["merge_commit_sha"] = "e5bd3914e2e596debea16f433f57875b5b90bcd6"
    if state is not None:
        pr["state"] = state
    if updated_at is not None:
        pr["updated_at"] = updated_at
    return payload


def deliver(
    client,
    payload=None,
    *,
    event: str = "pull_request",
    guid: str | None = None,
    hook_id: str = "412345678",
    raw: bytes | None = None,
    secret: str = SECRET,
    signature: str | None = None,
    content_type: str = "application/json",
    headers: dict | None = None,
):
    """POST one delivery to the webhook, signed like GitHub signs it."""
    body = raw if raw is not None else json.dumps(payload).encode()
    extra = {
        "HTTP_X_GITHUB_EVENT": event,
        "HTTP_X_GITHUB_DELIVERY": guid or str(uuid.uuid4()),
        "HTTP_X_GITHUB_HOOK_ID": hook_id,
        "HTTP_USER_AGENT": "GitHub-Hookshot/7a3b1c2",
    }
    sig = signature if signature is not None else signature_for(secret=secret, body=body)
    if sig:
        extra["HTTP_X_HUB_SIGNATURE_256"] = sig
    extra.update(headers or {})
    return client.post(URL, data=body, content_type=content_type, **extra)
