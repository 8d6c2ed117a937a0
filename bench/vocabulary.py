"""Word statistics of real post-mortems, read at bench time, never stored in the repo.

``load_vocabulary()`` reads the public corpora in ``../shared/data/postmortems``
(``$KB_CORPUS_DIR`` overrides) when they are there, and the project's demo
one-pagers (``postmortems/demo``) otherwise. It keeps *statistics*, not
documents: first-order Markov chains (word → counts of the next word, i.e. the
bigram frequencies) over the summaries, the root-cause texts and the
mitigation texts; the company names (teams) and products (services) with their
frequencies; and the distribution of contributing-factor sets, obtained by
mapping each record's own categories through ``postmortems.exchange.corpus.factors_for``
— the same mapping the importer uses.

The generator (``bench.corpus``) samples from these, so the synthetic corpus has
the vocabulary, the word and bigram frequencies and the factor mix of real
incident write-ups, while no sentence of them is copied into the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS_DIR = ROOT.parent / "shared" / "data" / "postmortems"
DEMO_DIR = ROOT / "postmortems" / "demo"

# Tokens keep ordinary punctuation (so sentences end and commas fall where they
# did) but lose Markdown and markup, which would turn a generated line into
# structure (a heading, a link) in the one-pager format.
_ALLOWED = re.compile(r"^[\w.,;:'\"()%/&$+=@-]+$", re.UNICODE)
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_STRIP = str.maketrans({c: " " for c in "*_`#|<>[]{}\\~"})
_SPACE_BEFORE_PUNCTUATION = re.compile(r"\s+([.,;:!?])")
START = "\x02"  # sentence start marker in the chains


@dataclass
class MarkovChain:
    """First-order word chain: ``transitions[word]`` = ``(next words, cumulative weights)``.

    ``START`` maps to the words that begin sentences. Built from bigram counts.
    """

    transitions: dict[str, tuple[list[str], list[int]]] = field(default_factory=dict)
    tokens: int = 0

    @classmethod
    def from_texts(cls, texts: list[str]) -> MarkovChain:
        """Count bigrams over ``texts`` (plain text or light Markdown) and build the chain."""
        counts: dict[str, Counter] = {}
        total = 0
        for text in texts:
            for sentence in _sentences(text):
                previous = START
                for token in sentence:
                    counts.setdefault(previous, Counter())[token] += 1
                    previous = token
                    total += 1
        chain = cls(tokens=total)
        for word, following in counts.items():
            words = list(following)
            cumulative, running = [], 0
            for w in words:
                running += following[w]
                cumulative.append(running)
            chain.transitions[word] = (words, cumulative)
        return chain

    def sentence(self, rng, *, max_words: int = 32) -> str:
        """One sentence sampled from the chain (ends at a full stop or ``max_words``)."""
        words: list[str] = []
        current = START
        while len(words) < max_words:
            options = self.transitions.get(current)
            if not options:
                break
            choices, cumulative = options
            current = choices[bisect_right(cumulative, rng.random() * cumulative[-1])]
            words.append(current)
            if current[-1] in ".!?":
                break
        text = _SPACE_BEFORE_PUNCTUATION.sub(r"\1", " ".join(words)).strip()
        if not text:
            return "The service was degraded."
        if text[-1] not in ".!?":
            text = text.rstrip(",;:-") + "."
        return text[0].upper() + text[1:]


def _clean(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text or "")
    return text.translate(_STRIP)


def _sentences(text: str) -> list[list[str]]:
    sentences: list[list[str]] = []
    current: list[str] = []
    for raw in _clean(text).split():
        if not _ALLOWED.match(raw) or raw.startswith(("-", "+", "=")) or len(raw) > 40:
            continue
        current.append(raw)
        if raw[-1] in ".!?" and len(current) > 2:
            sentences.append(current)
            current = []
    if len(current) > 2:
        sentences.append(current)
    return sentences


@dataclass
class Vocabulary:
    """What the generator samples from (see the module docstring).

    ``teams``/``services``: ``(names, weights)``; ``factor_sets``: ``(tuples of
    factor slugs, weights)``, only non-empty sets; ``source`` says where the
    statistics came from; ``fingerprint`` changes when the input does.
    """

    source: str
    records: int
    summary: MarkovChain
    cause: MarkovChain
    change: MarkovChain
    teams: tuple[list[str], list[int]]
    services: tuple[list[str], list[int]]
    factor_sets: tuple[list[tuple[str, ...]], list[int]]
    fingerprint: str


def _weighted(counter: Counter) -> tuple[list[str], list[int]]:
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return [k for k, _ in items], [v for _, v in items]


def corpus_dir() -> Path:
    """Where the public corpora are expected (``$KB_CORPUS_DIR`` or ``../shared/data/postmortems``)."""
    return Path(os.environ.get("KB_CORPUS_DIR") or DEFAULT_CORPUS_DIR)


def load_vocabulary(directory: Path | None = None) -> Vocabulary:
    """Read the statistics from the public corpora, or from the demo data when absent.

    Args:
        directory: a folder of ``*.jsonl`` corpus files (README schema of
            ``shared/data/postmortems``); default ``corpus_dir()``.

    Returns:
        A ``Vocabulary``. Deterministic: the same files give the same chains.
    """
    directory = directory or corpus_dir()
    files = sorted(directory.glob("*.jsonl")) if directory.is_dir() else []
    if files:
        return _from_corpora(files)
    return _from_demo()


def _from_corpora(files: list[Path]) -> Vocabulary:
    from postmortems.exchange.corpus import _corpus_of, factors_for

    summaries: list[str] = []
    causes: list[str] = []
    changes: list[str] = []
    teams: Counter = Counter()
    services: Counter = Counter()
    factor_sets: Counter = Counter()
    digest = hashlib.sha256()
    records = 0
    for path in files:
        raw = path.read_bytes()
        digest.update(raw)
        for line in raw.decode("utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(record, dict):
                continue
            records += 1
            extra = record.get("extra") if isinstance(record.get("extra"), dict) else {}
            summaries.append(str(record.get("summary") or ""))
            if isinstance(extra.get("root_cause_details"), str):
                causes.append(extra["root_cause_details"])
            if isinstance(extra.get("mitigation_details"), str):
                changes.append(extra["mitigation_details"])
            company = str(record.get("company") or "").strip()
            if company:
                teams[company] += 1
            for key in ("product", "service_name"):
                value = extra.get(key)
                if isinstance(value, str) and 2 <= len(value.strip()) <= 60:
                    services[value.strip()] += 1
            categories = record.get("categories") or []
            if isinstance(categories, list):
                slugs, _unknown = factors_for(_corpus_of(record), [str(c) for c in categories])
                if slugs:
                    factor_sets[tuple(slugs)] += 1
    summary = MarkovChain.from_texts(summaries)
    return Vocabulary(
        source=f"public corpora ({records} records in {', '.join(p.name for p in files)})",
        records=records,
        summary=summary,
        cause=MarkovChain.from_texts(causes) if causes else summary,
        change=MarkovChain.from_texts(changes) if changes else summary,
        teams=_weighted(teams),
        services=_weighted(services),
        factor_sets=_weighted(factor_sets),
        fingerprint=digest.hexdigest()[:16],
    )


def _from_demo() -> Vocabulary:
    from postmortems.exchange.markdown_format import parse_markdown

    happened: list[str] = []
    causes: list[str] = []
    changes: list[str] = []
    teams: Counter = Counter()
    services: Counter = Counter()
    factor_sets: Counter = Counter()
    digest = hashlib.sha256()
    paths = sorted(DEMO_DIR.glob("*.md"))
    for path in paths:
        text = path.read_text(encoding="utf-8")
        digest.update(text.encode())
        doc = parse_markdown(text, default_external_id=path.stem)
        happened.append(doc.what_happened)
        happened.extend(row.text for row in doc.timeline)
        causes.append(doc.why_it_happened)
        changes.append(doc.what_we_change)
        changes.extend(row.text for row in doc.action_items)
        teams[doc.team] += 1
        services.update(doc.services)
        if doc.factors:
            factor_sets[tuple(sorted(set(doc.factors)))] += 1
    return Vocabulary(
        source=f"demo one-pagers ({len(paths)} files in postmortems/demo; public corpora absent)",
        records=len(paths),
        summary=MarkovChain.from_texts(happened),
        cause=MarkovChain.from_texts(causes),
        change=MarkovChain.from_texts(changes),
        teams=_weighted(teams),
        services=_weighted(services),
        factor_sets=_weighted(factor_sets),
        fingerprint=digest.hexdigest()[:16],
    )
