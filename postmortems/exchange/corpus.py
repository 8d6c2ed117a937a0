"""Reading the public post-mortem corpora (JSON Lines) into ``DocumentData``.

The corpora and their record shape are described in
``shared/data/postmortems/README.md``: one JSON object per line with ``id``,
``title``, ``company``, ``date``, ``url``, ``summary``, ``categories``,
``source_corpus``, ``license`` and a per-corpus ``extra`` object.

How a record becomes a post-mortem:

* ``external_id`` = record ``id``; ``source_url`` = ``url``;
* ``title`` = record title, or "<company>: <first sentence of the summary>"
  (≤ 200 characters) when the corpus has none;
* ``team`` = a team named after ``company`` (the importer may put everything
  under one team instead); status "published"; severity blank — the corpora do
  not rate severity and we never invent one;
* ``started_at`` = ``date`` at 00:00 UTC, or icco's ``extra.start_time`` when
  present; icco's ``extra.end_time`` becomes ``resolved_at`` when it is not
  before the start;
* "What happened" = the summary, then the corpus's longer text under a
  sub-heading (icco ``extra.description``, ISSRE ``extra.details``) and, for
  ISSRE, the mitigation under "**Mitigation:**"; "Why it happened" = ISSRE's
  ``extra.root_cause_details`` (empty for the other corpora);
* contributing factors come from the corpus's own categories through the
  mapping tables below — one table per corpus, read by ``factors_for``.

Sections longer than ``KB_MAX_SECTION_CHARS`` are cut with a visible note
(``TRUNCATION_NOTE``) and counted, so the importer can report how often.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from postmortems.exchange.document import DocumentData, RecordError

ICCO = "icco/postmortems"
DANLUU = "danluu/post-mortems"
ISSRE = "IntelligentDDS/Post-mortems-Analysis"

TRUNCATION_NOTE = "… (truncated; see the source)"
TITLE_MAX_CHARS = 200
URL_MAX_CHARS = 500

# --- category → contributing-factor tables ---------------------------------------

ICCO_CATEGORY_FACTORS: dict[str, tuple[str, ...]] = {
    "config-change": ("config-change",),
    "cascading-failure": ("cascading-failure",),
    "hardware": ("hardware-failure",),
    "time": ("time-handling",),
    "cloud": ("third-party-failure",),
    "security": ("access-control",),
    "automation": ("deploy-process",),
    "undescriptive": (),
    "postmortem": (),
}
"""icco/postmortems labels → factor slugs (README "Suggested crosswalk").

The labels were set by regular expressions over the source pages, so they are
noisy; we still take them at their word rather than guess per record.

* ``cloud`` → ``third-party-failure``: the label fires when a cloud provider
  is involved, which for the reader of the write-up is an external dependency.
  For the providers' own incidents (AWS, Google) this over-reaches; the
  crosswalk marks it "partly" and we accept that noise.
* ``security`` → ``access-control``: the closest factor we have (permissions,
  credentials, attacks that got through); there is no "security" factor.
* ``automation`` → ``deploy-process``: the label matches rollouts, pipelines
  and automated changes — the way changes reach production — more often than
  any other meaning; the crosswalk lists it as "code / deploy change (partly)".
* ``undescriptive`` and the old blanket label ``postmortem`` carry no cause.
"""

DANLUU_SECTION_FACTORS: dict[str, tuple[str, ...]] = {
    "config errors": ("config-change",),
    "hardware/power failures": ("hardware-failure",),
    "time": ("time-handling",),
    "database": ("schema-migration",),
    "conflicts": ("race-condition",),
    "uncategorized": (),
}
"""danluu/post-mortems section headings (lower-cased) → factor slugs.

* ``Database`` → ``schema-migration``: both entries in that section are a
  migration or a schema defect in production (a table rename at the end of a
  migration, a foreign key narrower than the key it references).
* ``Conflicts`` → ``race-condition``: the section collects interleavings —
  a failover that lost in-flight writes, a migration blocked behind a long
  query, conflicting deployed versions — i.e. concurrent operations in an order
  the design did not handle. One or two entries fit only loosely.
* ``Uncategorized`` is "no category" (README), so it maps to nothing.
"""

ISSRE_ROOT_CAUSE_FACTORS: dict[str, tuple[str, ...]] = {
    # internal causes > software bugs > …
    "internal causes": (),
    "internal causes > others": (),
    "internal causes > software bugs": (),
    "internal causes > software bugs > config": ("config-change",),
    "internal causes > software bugs > code change": ("code-change",),
    "internal causes > software bugs > incompatibility": ("dependency-upgrade",),
    "internal causes > software bugs > timing bug": ("time-handling",),
    "internal causes > software bugs > payload flood": ("capacity",),
    "internal causes > software bugs > space": ("capacity",),
    "internal causes > software bugs > resource race": ("race-condition",),
    "internal causes > software bugs > exception handling": ("error-handling",),
    "internal causes > software bugs > network": ("network-failure",),
    "internal causes > software bugs > logic": (),
    "internal causes > software bugs > others": (),
    # external causes > …
    "external causes > excessive flow": ("capacity",),
    "external causes > insufficient resource": ("capacity",),
    "external causes > insufficient resource > service capacity": ("capacity",),
    "external causes > insufficient resource > cpu": ("capacity",),
    "external causes > insufficient resource > memory": ("capacity",),
    "external causes > insufficient resource > disk": ("capacity",),
    "external causes > insufficient resource > network": ("capacity",),
    "external causes > hardware failures": ("hardware-failure",),
    "external causes > hardware failures > network": ("network-failure",),
    "external causes > hardware failures > network device": ("network-failure",),
    "external causes > hardware failures > fiber cut": ("network-failure",),
    "external causes > hardware failures > cable set": ("network-failure",),
    "external causes > hardware failures > power outage": ("hardware-failure",),
    "external causes > hardware failures > power": ("hardware-failure",),
    "external causes > hardware failures > cooling system": ("hardware-failure",),
    "external causes > hardware failures > fire suppression system": ("hardware-failure",),
    "external causes > hardware failures > disk": ("hardware-failure",),
    "external causes > hardware failures > mismatch": ("hardware-failure",),
    "external causes > third-party failures": ("third-party-failure",),
    "external causes > component removal": ("manual-operation",),
    "external causes > network": ("network-failure",),
    "external causes > others": (),
    "unknown": (),
}
"""ISSRE'22 root-cause paths (``layer-1 > layer-2 > layer-3``) → factor slugs.

Keys are written in their canonical spelling and looked up after
``fold_issre_label`` (case, plural/singular, ``softwares bugs`` /
``software failures`` → ``software bugs``, ``fire supression`` → ``fire
suppression``), so every spelling variant in the data hits one entry.

* ``config`` → ``config-change``, ``code change`` → ``code-change``,
  ``incompatibility`` → ``dependency-upgrade`` (the annotated cases are
  version or platform mismatches brought in by an upgrade), ``timing bug`` →
  ``time-handling``, ``resource race`` → ``race-condition``, ``exception
  handling`` → ``error-handling``.
* Load: ``excessive flow``, ``payload flood``, every ``insufficient resource``
  path and ``space`` (disk or memory exhausted) → ``capacity``.
* Network: ``hardware failures > network``/``network device``/``fiber cut``/
  ``cable set`` (physical links), ``external causes > network`` and
  ``software bugs > network`` (a network device or fabric misbehaving) →
  ``network-failure`` — the factor is about connectivity, whatever broke it.
* Other hardware, power, cooling, fire suppression, disks and device mismatch
  → ``hardware-failure``; ``third-party failures`` → ``third-party-failure``.
* ``component removal`` → ``manual-operation``: in the annotated write-ups a
  component was taken out by an operator command or a maintenance procedure
  (S3's mistyped removal command, a disabled production console).
* A bare ``software bugs`` (no layer 3), ``logic``, ``others`` and
  ``unknown`` say only that there was a bug or that nobody knows: no factor.
"""

_ISSRE_SEGMENT_SPELLINGS = {
    "software failure": "software bug",
    "fire supression system": "fire suppression system",
}


def _singular(word: str) -> str:
    # Crude on purpose: keys and labels go through the same function, so it only
    # has to be consistent, not correct English ("causes" → "cause").
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def fold_issre_label(label: str) -> str:
    """Fold an ISSRE root-cause path to the form the lookup table uses.

    Args:
        label: e.g. ``"Internal Causes > softwares bugs > Exception handling"``.

    Returns:
        Lower-case segments with singular words and known misspellings fixed,
        joined by ``" > "``, e.g. ``"internal cause > software bug > exception handling"``.
    """
    segments = []
    for segment in label.split(">"):
        words = [_singular(word) for word in segment.lower().split()]
        folded = " ".join(words)
        segments.append(_ISSRE_SEGMENT_SPELLINGS.get(folded, folded))
    return " > ".join(segment for segment in segments if segment)


_ISSRE_FOLDED = {fold_issre_label(key): value for key, value in ISSRE_ROOT_CAUSE_FACTORS.items()}


def _fold_simple(label: str) -> str:
    return " ".join(label.lower().split())


def factors_for(corpus: str, categories: list[str]) -> tuple[list[str], list[str]]:
    """Map a record's own categories to contributing-factor slugs.

    Args:
        corpus: ``source_corpus`` of the record (``ICCO``, ``DANLUU``, ``ISSRE``);
            any other value maps every label to nothing.
        categories: the record's labels, verbatim.

    Returns:
        ``(factor slugs sorted and unique, labels the table does not know)``.
        Labels the table maps to nothing on purpose (``Uncategorized``) are not
        "unknown".
    """
    if corpus == ICCO:
        table, fold = ICCO_CATEGORY_FACTORS, _fold_simple
    elif corpus == DANLUU:
        table, fold = DANLUU_SECTION_FACTORS, _fold_simple
    elif corpus == ISSRE:
        table, fold = _ISSRE_FOLDED, fold_issre_label
    else:
        return [], list(categories)
    slugs: set[str] = set()
    unknown: list[str] = []
    for label in categories:
        mapped = table.get(fold(label))
        if mapped is None:
            unknown.append(label)
        else:
            slugs.update(mapped)
    return sorted(slugs), unknown


# --- record → DocumentData -------------------------------------------------------

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"[*`]|(?<!\w)_+|_+(?!\w)")
_FIRST_SENTENCE = re.compile(r"^(.+?[.!?])(?=\s+[A-Z0-9\"“(\[]|\s*$)", re.DOTALL)
_URL_VALIDATOR = URLValidator(schemes=["http", "https"])


def plain_text(markdown: str) -> str:
    """Markdown inline text as plain text: links become their text, emphasis goes."""
    text = _MD_LINK.sub(r"\1", markdown or "")
    text = _MD_EMPHASIS.sub("", text)
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary, ending in "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut[limit // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def build_title(company: str | None, summary: str) -> str:
    """A title for a record without one: ``"<company>: <first sentence>"``, ≤ 200 chars."""
    text = plain_text(summary)
    match = _FIRST_SENTENCE.match(text)
    sentence = (match.group(1) if match else text).strip()
    title = f"{company}: {sentence}" if company and sentence else (company or sentence)
    return shorten(title or "Untitled incident", TITLE_MAX_CHARS)


def fit_section(text: str, limit: int) -> tuple[str, bool]:
    """Cut a section to ``limit`` characters with ``TRUNCATION_NOTE`` at the end.

    Returns:
        ``(text, truncated?)``.
    """
    text = (text or "").strip()
    if len(text) <= limit:
        return text, False
    suffix = "\n\n" + TRUNCATION_NOTE
    cut = text[: max(limit - len(suffix), 0)]
    if " " in cut[len(cut) // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip() + suffix, True


def clean_url(url: str | None) -> tuple[str, str | None]:
    """Make a corpus URL fit ``URLField``, repairing the corpus's known glitch.

    Two icco records hold a Markdown tail in the URL (``…/), [see also](…``);
    the first whitespace-separated token, stripped of trailing ``),;``, is the
    real link.

    Returns:
        ``(url or "", warning or None)``; the URL is empty when it could not be
        repaired.
    """
    url = (url or "").strip()
    if not url:
        return "", None
    candidates = [url]
    repaired = url.split()[0].rstrip("),;]") if url.split() else ""
    if repaired != url:
        candidates.append(repaired)
    for index, candidate in enumerate(candidates):
        if len(candidate) > URL_MAX_CHARS:
            continue
        try:
            _URL_VALIDATOR(candidate)
        except ValidationError:
            continue
        return candidate, (f"url repaired: {url!r} → {candidate!r}" if index else None)
    return "", f"url dropped (not a valid http(s) URL): {url!r}"


def _corpus_of(record: dict[str, Any]) -> str:
    corpus = record.get("source_corpus") or ""
    if corpus:
        return corpus
    prefix = str(record.get("id", "")).split("-", 1)[0]
    return {"icco": ICCO, "danluu": DANLUU, "issre22": ISSRE}.get(prefix, "")


def _aware(value: str, what: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{what}: not an ISO 8601 date-time: {value!r}") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _midnight(value: str, what: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError) as exc:
        raise RecordError(f"{what}: not an ISO date (YYYY-MM-DD): {value!r}") from exc
    return dt.datetime.combine(day, dt.time(0, 0), tzinfo=dt.UTC)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def parse_json_line(text: str) -> dict[str, Any]:
    """Parse one JSON Lines line into a record object.

    Raises:
        RecordError: when the line is not JSON or not a JSON object.
    """
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(f"broken JSON: {exc.msg} (column {exc.colno})") from exc
    if not isinstance(record, dict):
        raise RecordError(f"expected a JSON object, got {type(record).__name__}")
    return record


def document_from_record(record: dict[str, Any], *, max_section_chars: int) -> DocumentData:
    """Map one corpus record (README schema) to a ``DocumentData``.

    Args:
        record: one parsed JSON Lines object.
        max_section_chars: longest section allowed (``settings.KB_MAX_SECTION_CHARS``).

    Returns:
        The document; ``truncated_sections``, ``unknown_labels`` and
        ``warnings`` say what had to be bent.

    Raises:
        RecordError: for a missing or mistyped required field or a bad date.
    """
    external_id = record.get("id")
    if not isinstance(external_id, str) or not external_id.strip():
        raise RecordError("missing 'id' (a non-empty string)")
    summary = record.get("summary")
    if not isinstance(summary, str):
        raise RecordError("missing 'summary' (a string)")
    categories = record.get("categories") or []
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise RecordError("'categories' must be a list of strings")
    extra = record.get("extra") or {}
    if not isinstance(extra, dict):
        raise RecordError("'extra' must be an object")
    corpus = _corpus_of(record)
    company = _text(record.get("company")) or None

    title = _text(record.get("title"))
    title = shorten(title, TITLE_MAX_CHARS) if title else build_title(company, summary)

    started_at = resolved_at = None
    if corpus == ICCO and _text(extra.get("start_time")):
        started_at = _aware(extra["start_time"], "extra.start_time")
        if _text(extra.get("end_time")):
            end = _aware(extra["end_time"], "extra.end_time")
            resolved_at = end if end >= started_at else None
    elif record.get("date") is not None:
        started_at = _midnight(record["date"], "date")

    parts = [summary.strip()]
    if corpus == ICCO and _text(extra.get("description")):
        parts.append("### Longer description (icco corpus)\n\n" + extra["description"].strip())
    if corpus == ISSRE:
        if _text(extra.get("details")):
            parts.append("### Details (provider's post-mortem)\n\n" + extra["details"].strip())
        if _text(extra.get("mitigation_details")):
            parts.append("**Mitigation:** " + extra["mitigation_details"].strip())
    what_happened, cut_what = fit_section("\n\n".join(p for p in parts if p), max_section_chars)
    why = _text(extra.get("root_cause_details")) if corpus == ISSRE else ""
    why_it_happened, cut_why = fit_section(why, max_section_chars)

    source_url, url_warning = clean_url(record.get("url"))
    factors, unknown = factors_for(corpus, categories)
    return DocumentData(
        external_id=external_id.strip(),
        title=title,
        team=company or "Unattributed",
        status="published",
        severity="",
        started_at=started_at,
        resolved_at=resolved_at,
        what_happened=what_happened,
        why_it_happened=why_it_happened,
        source_url=source_url,
        factors=factors,
        truncated_sections=int(cut_what) + int(cut_why),
        unknown_labels=unknown,
        warnings=[url_warning] if url_warning else [],
    )
