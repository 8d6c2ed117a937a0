"""A deterministic synthetic corpus of post-mortems, and its Markdown one-pagers.

``generate(n, seed=…, vocabulary=…)`` returns ``n`` ``DocumentData`` — the
importer's own input shape — each with the four sections (Markdown with bold
labels, paragraphs and lists), a timeline, action items (mixed kinds and
statuses, some done, some "not doing" with a reason), declined changes, fix pull
requests, services, authors, a facilitator and contributing factors. The same
``n``, seed and vocabulary always give the same corpus; the first ``k``
documents of a bigger corpus are the ``k`` documents of a smaller one.

Text comes from ``bench.vocabulary`` (bigram chains over real summaries, root
causes and mitigations): a pool of sentences is drawn from the chains once,
and documents draw sentences from the pool, which keeps generation at tens of
thousands of documents a second while the word and bigram frequencies stay
those of the source. A few internal "codenames" (``CODENAMES``) are sprinkled
over a known fraction of documents: they are the rare terms whose matches the
suite can check exactly (ripgrep and the API must agree on them).

``to_markdown(doc)`` writes the one-pager format that ``import_postmortems``
reads (``postmortems/exchange/markdown_format.py``).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator

import yaml

from bench.vocabulary import Vocabulary
from postmortems.exchange.document import (
    ActionItemRow,
    DeclinedChangeRow,
    DocumentData,
    FixPullRequestRow,
    TimelineRow,
)

UTC = dt.UTC
DEFAULT_SEED = 20240601
SENTENCE_POOL = 24_000
USERS = 400
# Internal system names; each appears in about ``rate`` of the documents.
CODENAMES: dict[str, float] = {
    "quillfeather": 0.0004,
    "brambleton": 0.0008,
    "marrowgate": 0.0015,
    "tindervale": 0.003,
    "osprey": 0.006,
    "juniper": 0.012,
}
SEVERITIES = (("SEV1", 10), ("SEV2", 30), ("SEV3", 40), ("SEV4", 20))
STATUSES = (("published", 80), ("reviewed", 10), ("in_review", 5), ("draft", 5))
ITEM_KINDS = ("code", "test", "check", "process", "documentation")
ITEM_STATUSES = (("open", 45), ("in_progress", 20), ("done", 30), ("not_doing", 5))
EPOCH = dt.datetime(2015, 1, 1, tzinfo=UTC)
SPAN_MINUTES = 11 * 365 * 24 * 60


def usernames(count: int = USERS) -> list[str]:
    """The synthetic engineers: ``engineer0001`` … (authors, facilitators, owners)."""
    return [f"engineer{i:04d}" for i in range(1, count + 1)]


class _Pools:
    def __init__(self, vocabulary: Vocabulary, rng: random.Random) -> None:
        self.happened = [vocabulary.summary.sentence(rng) for _ in range(SENTENCE_POOL)]
        self.cause = [vocabulary.cause.sentence(rng) for _ in range(SENTENCE_POOL // 2)]
        self.change = [vocabulary.change.sentence(rng) for _ in range(SENTENCE_POOL // 2)]
        # Rows are one line and have length limits (action item 500, title 200).
        self.short_happened = [s for s in self.happened if len(s) <= 180] or ["The service was degraded."]
        self.short_change = [s for s in self.change if len(s) <= 180] or ["Add an alert for the error rate."]


_POOL_CACHE: dict[tuple[str, int], _Pools] = {}


def _pools(vocabulary: Vocabulary, seed: int) -> _Pools:
    """The sentence pools for (vocabulary, seed), built once per process."""
    key = (vocabulary.fingerprint, seed)
    if key not in _POOL_CACHE:
        _POOL_CACHE.clear()  # one corpus at a time; a pool holds ~50k sentences
        _POOL_CACHE[key] = _Pools(vocabulary, random.Random(seed))
    return _POOL_CACHE[key]


def _pick(rng: random.Random, weighted) -> str:
    values, weights = weighted
    return rng.choices(values, weights=weights)[0]


def _choice_table(pairs):
    return [p[0] for p in pairs], [p[1] for p in pairs]


def generate(
    count: int, *, seed: int = DEFAULT_SEED, vocabulary: Vocabulary, start: int = 0
) -> list[DocumentData]:
    """``count`` post-mortems, deterministic for (seed, vocabulary): documents ``start`` … ``start+count-1``.

    Returns:
        ``DocumentData`` objects, ``external_id`` ``bench-<seed>-<index>``, in the
        order the loaders store them.
    """
    return list(iter_documents(count, seed=seed, vocabulary=vocabulary, start=start))


def iter_documents(
    count: int, *, seed: int = DEFAULT_SEED, vocabulary: Vocabulary, start: int = 0
) -> Iterator[DocumentData]:
    """Like ``generate`` but lazy (the 100k corpus need not sit in memory)."""
    pools = _pools(vocabulary, seed)
    users = usernames()
    for index in range(start, start + count):
        # One generator per document: document i does not depend on how many
        # documents come before it in a bigger run, only on (seed, i).
        rng = random.Random(f"{seed}:{index}")
        yield _document(index, seed, rng, pools, vocabulary, users)


def _paragraph(rng: random.Random, pool: list[str], low: int, high: int) -> str:
    return " ".join(rng.choice(pool) for _ in range(rng.randint(low, high)))


def _document(
    index: int, seed: int, rng: random.Random, pools: _Pools, vocabulary: Vocabulary, users: list[str]
) -> DocumentData:
    team = _pick(rng, vocabulary.teams)
    services = sorted({_pick(rng, vocabulary.services) for _ in range(rng.randint(1, 2))})
    factors = list(_pick(rng, vocabulary.factor_sets))
    start = EPOCH + dt.timedelta(minutes=rng.randrange(SPAN_MINUTES))
    detected = start + dt.timedelta(minutes=rng.randint(1, 90))
    mitigated = detected + dt.timedelta(minutes=rng.randint(5, 300))
    resolved = mitigated + dt.timedelta(minutes=rng.randint(0, 1440))
    authors = sorted(set(rng.sample(users, rng.randint(1, 2))))

    first = rng.choice(pools.short_happened).rstrip(".!? ")
    title = f"{team}: {first}"
    if len(title) > 200:
        title = title[:199].rsplit(" ", 1)[0].rstrip() + "…"

    what_happened = (
        f"**Symptom:** {_paragraph(rng, pools.happened, 1, 3)}\n\n"
        f"**Impact:** {_paragraph(rng, pools.happened, 1, 2)}\n\n"
        f"{_paragraph(rng, pools.happened, 2, 4)}"
    )
    for name, rate in CODENAMES.items():
        if rng.random() < rate:
            what_happened += f"\n\nThe {name} cluster was among the affected systems."
    why = (
        f"**Proximate cause:** {_paragraph(rng, pools.cause, 1, 3)}\n\n**Contributing factors:**\n\n"
        + "\n".join(f"- {rng.choice(pools.cause)}" for _ in range(rng.randint(2, 4)))
    )
    what_we_change = f"The theme: {_paragraph(rng, pools.change, 1, 2)}"
    what_we_dont_change = _paragraph(rng, pools.change, 1, 2) if rng.random() < 0.7 else ""

    moment = start
    timeline = []
    for _ in range(rng.randint(3, 8)):
        moment += dt.timedelta(minutes=rng.randint(1, 45))
        evidence = f"https://grafana.example.com/d/{rng.randrange(10**6):06d}" if rng.random() < 0.3 else ""
        timeline.append(TimelineRow(at=moment, text=rng.choice(pools.short_happened), evidence_url=evidence))

    statuses = _choice_table(ITEM_STATUSES)
    items = []
    for _ in range(rng.randint(2, 5)):
        status = rng.choices(statuses[0], weights=statuses[1])[0]
        due = (start + dt.timedelta(days=rng.randint(7, 90))).date()
        completed = (
            dt.datetime.combine(due, dt.time(rng.randint(8, 18), 0), tzinfo=UTC) if status == "done" else None
        )
        items.append(
            ActionItemRow(
                text=rng.choice(pools.short_change),
                owner=rng.choice(users),
                due_date=due,
                kind=rng.choice(ITEM_KINDS),
                status=status,
                not_doing_reason=rng.choice(pools.short_change) if status == "not_doing" else "",
                ticket_url=f"https://jira.example.com/browse/OPS-{rng.randrange(1, 99999)}"
                if rng.random() < 0.3
                else "",
                completed_at=completed,
            )
        )
    declined = [
        DeclinedChangeRow(
            text=rng.choice(pools.short_change).rstrip(". "), rationale=rng.choice(pools.short_change)
        )
        for _ in range(rng.choice((0, 0, 1, 1, 2)))
    ]
    prs = []
    for _ in range(rng.choice((0, 0, 1, 1, 2))):
        repo = f"example-{rng.randrange(1, 200):03d}/service-{rng.randrange(1, 50):02d}"
        prs.append(
            FixPullRequestRow(
                url=f"https://github.com/{repo}/pull/{rng.randrange(1, 20000)}",
                title=rng.choice(pools.short_change).rstrip(". "),
                state=rng.choice(("open", "merged", "merged", "closed")),
                item=rng.randint(1, len(items)) if rng.random() < 0.6 else None,
            )
        )
    severity = _choice_table(SEVERITIES)
    status = _choice_table(STATUSES)
    return DocumentData(
        external_id=f"bench-{seed}-{index + 1:06d}",
        title=title,
        team=team,
        services=services,
        severity=rng.choices(severity[0], weights=severity[1])[0],
        status=rng.choices(status[0], weights=status[1])[0],
        started_at=start,
        detected_at=detected,
        mitigated_at=mitigated,
        resolved_at=resolved,
        what_happened=what_happened,
        why_it_happened=why,
        what_we_change=what_we_change,
        what_we_dont_change=what_we_dont_change,
        factors=sorted(set(factors)),
        authors=authors,
        facilitator=rng.choice(users) if rng.random() < 0.7 else None,
        timeline=timeline,
        action_items=items,
        declined_changes=declined,
        fix_prs=prs,
    )


# --- Markdown ---------------------------------------------------------------------------


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_markdown(doc: DocumentData) -> str:
    """The one-pager ``import_postmortems`` reads (``markdown_format`` describes the format)."""
    meta = {
        "title": doc.title,
        "team": doc.team,
        "services": doc.services,
        "severity": doc.severity or None,
        "status": doc.status,
        "started_at": _iso(doc.started_at),
        "detected_at": _iso(doc.detected_at),
        "mitigated_at": _iso(doc.mitigated_at),
        "resolved_at": _iso(doc.resolved_at),
        "factors": doc.factors,
        "authors": doc.authors,
        "facilitator": doc.facilitator,
        "external_id": doc.external_id,
        "source_url": doc.source_url or None,
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=10_000)
    out = [
        "---",
        front.rstrip("\n"),
        "---",
        "",
        f"# {doc.title}",
        "",
        "## What happened",
        "",
        doc.what_happened,
        "",
    ]
    if doc.timeline:
        out += ["### Timeline", ""]
        for row in doc.timeline:
            line = f"- {row.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC — {row.text}"
            out.append(line + (f" (evidence: {row.evidence_url})" if row.evidence_url else ""))
        out.append("")
    out += [
        "## Why it happened",
        "",
        doc.why_it_happened,
        "",
        "## What we change",
        "",
        doc.what_we_change,
        "",
    ]
    for item in doc.action_items:
        attrs = [f"owner: {item.owner}", f"due: {item.due_date.isoformat()}"]
        if item.kind != "code":
            attrs.append(f"kind: {item.kind}")
        if item.status in ("in_progress", "not_doing"):
            attrs.append(f"status: {item.status}")
        if item.ticket_url:
            attrs.append(f"ticket: {item.ticket_url}")
        if item.status == "done" and item.completed_at:
            attrs.append(f"completed: {_iso(item.completed_at)}")
        if item.not_doing_reason:
            attrs.append(f"reason: {item.not_doing_reason}")
        mark = "x" if item.status == "done" else " "
        out.append(f"- [{mark}] {item.text} ({', '.join(attrs)})")
    if doc.action_items:
        out.append("")
    if doc.fix_prs:
        out += ["### Fix pull requests", ""]
        for pr in doc.fix_prs:
            attrs = [f"state: {pr.state}"] + ([f"item: {pr.item}"] if pr.item else [])
            out.append(f"- {pr.url} — {pr.title} ({', '.join(attrs)})")
        out.append("")
    out += ["## What we don't change", ""]
    if doc.what_we_dont_change:
        out += [doc.what_we_dont_change, ""]
    out += [f"- {row.text} (why: {row.rationale})" for row in doc.declined_changes]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"
