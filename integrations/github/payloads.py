"""Read what the integration needs from a ``pull_request`` webhook payload, and
find post-mortem and action-item keys in a pull request's text.

Payloads are untrusted shapes even when signed (OWASP API10): every field is
type-checked and bounded here, and nothing else reads the raw payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlparse

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from postmortems.models import FixPullRequest
from postmortems.services import parse_pull_request_url

# Pull-request actions that change what we show (GitHub's "pull_request" event).
HANDLED_ACTIONS = frozenset({"opened", "edited", "closed", "reopened"})

# At most this many keys of each kind are acted on per pull request.
MAX_KEYS = 20

# "PM-12" / "AI-34" anywhere, not glued to a letter or digit before, nor to more
# digits after, so branch names such as ``fix/ai-34_timeout`` count too.
_KEY = re.compile(r"(?<![A-Za-z0-9])(PM|AI)-([1-9]\d{0,17})(?!\d)", re.IGNORECASE)
_GITHUB_PR_PATH = re.compile(r"/[\w.-]+/[\w.-]+/pull/\d+/?")
# GitHub's closing keywords (docs.github.com, "Linking a pull request to an
# issue"): close, closes, closed, fix, fixes, fixed, resolve, resolves, resolved,
# each directly before the key, with an optional colon.
_CLOSING = re.compile(
    r"(?<![A-Za-z0-9])(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?):?\s+AI-([1-9]\d{0,17})(?!\d)",
    re.IGNORECASE,
)


class PayloadError(ValueError):
    """The payload lacks a field the integration needs, or has the wrong type."""


@dataclass(frozen=True)
class Keys:
    """Keys mentioned by a pull request (ids, in order of first mention)."""

    postmortem_ids: tuple[int, ...]
    action_item_ids: tuple[int, ...]
    # Action items named after a closing keyword ("fixes AI-34").
    closing_action_item_ids: tuple[int, ...]


@dataclass(frozen=True)
class PullRequestEvent:
    """The parts of a ``pull_request`` delivery the integration uses."""

    action: str
    repository: str  # "owner/name", from the pull request's URL
    number: int
    url: str  # the pull request's html_url
    host: str  # lower-case host of ``url``
    title: str
    body: str
    branch: str
    state: str  # one of FixPullRequest.State
    updated_at: datetime | None

    @property
    def merged(self) -> bool:
        return self.state == FixPullRequest.State.MERGED


def _text(value, name: str, *, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"{name} must be a string.")
    return value[:limit]


def _dict(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise PayloadError(f"{name} must be an object.")
    return value


def pull_request_event(payload: dict) -> PullRequestEvent:
    """Read a ``pull_request`` delivery.

    The state is "merged" when ``pull_request.merged`` is true or
    ``merged_at`` is set, "closed" when the pull request is closed otherwise,
    and "open" else.

    Returns:
        A ``PullRequestEvent``.

    Raises:
        PayloadError: when ``action`` or ``pull_request`` is missing or mistyped,
            or ``html_url`` is not a pull request on a host in
            ``settings.GITHUB_HOSTS`` of the delivery's repository.
    """
    payload = _dict(payload, "payload")
    action = _text(payload.get("action"), "action", limit=64)
    if not action:
        raise PayloadError("action is missing.")
    pr = _dict(payload.get("pull_request"), "pull_request")
    url = _text(pr.get("html_url"), "pull_request.html_url", limit=500)
    try:
        repository, number = parse_pull_request_url(url)
    except ValidationError as exc:
        raise PayloadError(f"pull_request.html_url is not a pull request: {exc.messages[0]}") from exc
    parsed = urlparse(url)
    host = parsed.netloc.lower()
    if (
        parsed.scheme != "https"
        or host not in settings.GITHUB_HOSTS
        or not _GITHUB_PR_PATH.fullmatch(parsed.path)
    ):
        raise PayloadError(f"pull_request.html_url must be https on {', '.join(settings.GITHUB_HOSTS)}.")
    repo = payload.get("repository")
    full_name = repo.get("full_name") if isinstance(repo, dict) else None
    if isinstance(full_name, str) and full_name.lower() != repository.lower():
        raise PayloadError("pull_request.html_url does not belong to the delivery's repository.")
    if pr.get("number") is not None and pr.get("number") != number:
        raise PayloadError("pull_request.number does not match its URL.")

    head = pr.get("head") if isinstance(pr.get("head"), dict) else {}
    merged = pr.get("merged") is True or bool(pr.get("merged_at"))
    if merged:
        state = FixPullRequest.State.MERGED
    elif pr.get("state") == "closed":
        state = FixPullRequest.State.CLOSED
    else:
        state = FixPullRequest.State.OPEN
    updated = pr.get("updated_at")
    return PullRequestEvent(
        action=action,
        repository=repository,
        number=number,
        url=url,
        host=host,
        title=_text(pr.get("title"), "pull_request.title", limit=300),
        body=_text(pr.get("body"), "pull_request.body", limit=65_536),
        branch=_text(head.get("ref"), "pull_request.head.ref", limit=255),
        state=state,
        updated_at=parse_datetime(updated) if isinstance(updated, str) else None,
    )


def _unique(values) -> tuple[int, ...]:
    return tuple(dict.fromkeys(values))[:MAX_KEYS]


def find_keys(*, title: str, body: str, branch: str) -> Keys:
    """Find ``PM-<n>`` and ``AI-<n>`` keys in a pull request (case-insensitive).

    Mentions count in the title, the body and the branch name; closing keywords
    ("fixes AI-34", "Closes: AI-34") count in the title and body only, as on
    GitHub. At most ``MAX_KEYS`` of each kind are returned.
    """
    pm_ids: list[int] = []
    ai_ids: list[int] = []
    for text in (title, body, branch):
        for kind, number in _KEY.findall(text or ""):
            (pm_ids if kind.upper() == "PM" else ai_ids).append(int(number))
    closing = [int(n) for text in (title, body) for n in _CLOSING.findall(text or "")]
    return Keys(
        postmortem_ids=_unique(pm_ids),
        action_item_ids=_unique(ai_ids),
        closing_action_item_ids=_unique(closing),
    )
