"""Reads of the patterns app: DoD versions and their diff, the Markdown
checklist, proposal lists, and the "this factor has happened before" panel."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber

from patterns.models import DefinitionOfDone, DoDItem, DoDProposal, DoDVersion, ProposalEvidence, Scope
from patterns.services import CurrentDoD, dod_current
from postmortems.access import visibility_q
from postmortems.models import ActionItem, ContributingFactor, PostMortem, Team
from postmortems.search import STOP_WORDS, search_postmortems

# --- what a reader may see of the evidence (issue 9) ------------------------------------
#
# Detection counts every live post-mortem, restricted ones included: a pattern
# is real even when some of its evidence is not for everyone's eyes. What a
# page or the API shows of that evidence is decided here, per reader:
#
# * evidence the reader may read (``postmortems.access.visibility_q``) is shown
#   in full: key, title, team, dates, the "why" excerpt, action items;
# * evidence the reader may not read is shown only as an anonymous count
#   ("2 restricted post-mortems"): no key, title, team, date or excerpt;
# * evidence of soft-deleted post-mortems is not shown and not counted.


def live_evidence_q(prefix: str = "") -> Q:
    """Evidence rows whose post-mortem is not soft-deleted (``prefix`` as in ``visibility_q``).

    ``ProposalEvidence`` reaches its post-mortem through a plain foreign key,
    which the default manager of ``PostMortem`` does not filter.
    """
    return Q(**{f"{prefix}postmortem__deleted_at__isnull": True})


def readable_evidence_q(user, prefix: str = "") -> Q:
    """Evidence rows ``user`` may read: live, and the post-mortem visible to them."""
    return live_evidence_q(prefix) & visibility_q(user, prefix=f"{prefix}postmortem__")


def item_links_annotate(items: Sequence[DoDItem], *, user) -> None:
    """Set ``shown_postmortems`` (the motivating post-mortems ``user`` may read,
    in key order) and ``hidden_postmortems`` (how many others, an int) on each
    DoD item. One query; reads the items' prefetched ``postmortems`` (deleted
    documents are already left out by the default manager)."""
    linked = {pm.pk for item in items for pm in item.postmortems.all()}
    readable = set(PostMortem.objects.visible_to(user).filter(pk__in=linked).values_list("pk", flat=True))
    for item in items:
        pms = sorted(item.postmortems.all(), key=lambda pm: pm.pk)
        item.shown_postmortems = [pm for pm in pms if pm.pk in readable]
        item.hidden_postmortems = len(pms) - len(item.shown_postmortems)


# --- Definition of Done ----------------------------------------------------------------


def dod_for(*, team: Team | None) -> DefinitionOfDone | None:
    """The team's (None: the organisation's) Definition of Done, or None before its first version."""
    scope = Scope.TEAM if team is not None else Scope.ORG
    return DefinitionOfDone.objects.select_related("team").filter(scope=scope, team=team).first()


def dod_current_for(*, team: Team | None, user=None) -> CurrentDoD:
    """The newest version and items of a scope's DoD (version 0 and no items when there is none);
    with ``user``, each item's post-mortem links are filtered for them (``item_links_annotate``)."""
    dod = dod_for(team=team)
    current = dod_current(dod=dod) if dod else CurrentDoD(dod=None, version=None)
    if user is not None:
        item_links_annotate(current.items, user=user)
    return current


def dod_versions(*, dod: DefinitionOfDone | None) -> QuerySet[DoDVersion]:
    """Versions newest first, with ``item_count`` and the accepted proposal (if any)."""
    if dod is None:
        return DoDVersion.objects.none()
    return (
        DoDVersion.objects.filter(dod=dod)
        .select_related("created_by", "proposal")
        .annotate(item_count=Count("items"))
        .order_by("-number")
    )


def dod_version_items(*, version: DoDVersion | None, user=None) -> list[DoDItem]:
    """A version's items in order, with factor and post-mortem links prefetched;
    with ``user``, ``item_links_annotate`` is applied too."""
    if version is None:
        return []
    items = list(version.items.select_related("factor").prefetch_related("postmortems").order_by("position"))
    if user is not None:
        item_links_annotate(items, user=user)
    return items


def dod_markdown(*, current: CurrentDoD, scope_name: str, url: str = "") -> str:
    """The DoD as a Markdown checklist to paste into a pull-request template.

    Returns:
        A heading comment naming the scope and version, then one ``- [ ] item``
        per line; an explanatory comment when the DoD has no items yet.
    """
    header = f"<!-- Definition of Done: {scope_name}, version {current.number}"
    header += f" ({url}) -->" if url else " -->"
    lines = [header, "## Definition of Done", ""]
    if current.items:
        lines += [f"- [ ] {_one_line(item.text)}" for item in current.items]
    else:
        lines.append("<!-- No items yet. -->")
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    # A checklist line must stay one line; "<" would open HTML in a PR template.
    return " ".join(text.split()).replace("<", "&lt;")


@dataclass(frozen=True)
class WordPart:
    """A piece of a changed item's text: "same", "added" or "removed" words."""

    op: str
    text: str


@dataclass
class ItemChange:
    """One line of a DoD diff.

    ``op`` is "added", "removed", "changed" (text or factor), "moved" (position
    only) or "same". Positions are 1-based; None where the item is absent.
    """

    op: str
    uid: str
    old_position: int | None
    new_position: int | None
    old_text: str
    new_text: str
    old_factor: str = ""
    new_factor: str = ""
    words: list[WordPart] = field(default_factory=list)


@dataclass
class DoDDiff:
    """The difference between two versions (``old`` may be 0: the empty list)."""

    old_number: int
    new_number: int
    changes: list[ItemChange]
    unified: str

    @property
    def changed(self) -> list[ItemChange]:
        return [change for change in self.changes if change.op != "same"]


def _word_diff(old: str, new: str) -> list[WordPart]:
    a, b = old.split(), new.split()
    parts: list[WordPart] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(WordPart("same", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(WordPart("removed", " ".join(a[i1:i2])))
        if j2 > j1:
            parts.append(WordPart("added", " ".join(b[j1:j2])))
    return parts


def dod_diff(*, old: DoDVersion | None, new: DoDVersion | None) -> DoDDiff:
    """Compare two versions item by item (by ``uid``) and as a unified text diff.

    Args:
        old, new: versions of one DoD; None stands for the empty version 0.

    Returns:
        A ``DoDDiff``: changes in the new version's order, removed items after
        the item that preceded them; ``unified`` is ``difflib.unified_diff`` of
        the two Markdown checklists.
    """
    old_items = dod_version_items(version=old)
    new_items = dod_version_items(version=new)
    old_by_uid = {item.uid: item for item in old_items}
    new_uids = {item.uid for item in new_items}
    changes: list[ItemChange] = []

    def factor_slug(item: DoDItem) -> str:
        return item.factor.slug if item.factor_id else ""

    def removed(item: DoDItem) -> ItemChange:
        return ItemChange(
            "removed", str(item.uid), item.position, None, item.text, "", old_factor=factor_slug(item)
        )

    # Removed items that came before every surviving item go first.
    leading = []
    for item in old_items:
        if item.uid in new_uids:
            break
        leading.append(removed(item))
    changes += leading
    for item in new_items:
        before = old_by_uid.get(item.uid)
        if before is None:
            changes.append(
                ItemChange(
                    "added", str(item.uid), None, item.position, "", item.text, new_factor=factor_slug(item)
                )
            )
            continue
        if before.text != item.text or before.factor_id != item.factor_id:
            op = "changed"
        elif before.position != item.position:
            op = "moved"
        else:
            op = "same"
        changes.append(
            ItemChange(
                op,
                str(item.uid),
                before.position,
                item.position,
                before.text,
                item.text,
                old_factor=factor_slug(before),
                new_factor=factor_slug(item),
                words=_word_diff(before.text, item.text) if before.text != item.text else [],
            )
        )
        # Items removed right after this one in the old list follow it.
        for follower in old_items[before.position :]:
            if follower.uid in new_uids:
                break
            changes.append(removed(follower))
    old_lines = [f"- [ ] {_one_line(item.text)}" for item in old_items]
    new_lines = [f"- [ ] {_one_line(item.text)}" for item in new_items]
    old_number = old.number if old else 0
    new_number = new.number if new else 0
    unified = "\n".join(
        difflib.unified_diff(
            old_lines,
            new_lines,
            fromfile=f"version {old_number}",
            tofile=f"version {new_number}",
            lineterm="",
        )
    )
    return DoDDiff(old_number=old_number, new_number=new_number, changes=changes, unified=unified)


# --- proposals ------------------------------------------------------------------------------


def proposal_list(*, user) -> QuerySet[DoDProposal]:
    """Proposals for list pages and the API list, with the relations a row shows
    and two counts (ints): ``evidence_count``, the incidents behind the proposal
    (soft-deleted post-mortems left out), and ``readable_evidence_count``, those
    ``user`` may read; the difference is shown only as an anonymous count. The
    query count does not grow with rows."""

    def counted(condition: Q) -> Coalesce:
        rows = (
            ProposalEvidence.objects.filter(proposal=OuterRef("pk"))
            .filter(condition)
            .order_by()
            .values("proposal")
            .annotate(n=Count("pk"))
            .values("n")[:1]
        )
        return Coalesce(Subquery(rows), Value(0), output_field=IntegerField())

    return DoDProposal.objects.select_related("team", "factor", "decided_by", "dod_version").annotate(
        evidence_count=counted(live_evidence_q()),
        readable_evidence_count=counted(readable_evidence_q(user)),
    )


def proposal_detail(*, user) -> QuerySet[DoDProposal]:
    """Proposals with the evidence ``user`` may read (post-mortems, their teams
    and action items) prefetched as ``evidence.all()``, newest first."""
    evidence = (
        ProposalEvidence.objects.filter(readable_evidence_q(user))
        .select_related("postmortem", "postmortem__team")
        .prefetch_related(Prefetch("postmortem__action_items", queryset=ActionItem.objects.order_by("id")))
    )
    return (
        proposal_list(user=user)
        .select_related("previous")
        .prefetch_related(Prefetch("evidence", queryset=evidence.order_by("-started_at", "-postmortem_id")))
    )


def proposal_item(proposal: DoDProposal) -> DoDItem | None:
    """For a "DoD item not working" proposal: the item as in its scope's current DoD."""
    if not proposal.dod_item_uid:
        return None
    return (
        DoDItem.objects.filter(uid=proposal.dod_item_uid)
        .select_related("version")
        .order_by("-version__number")
        .first()
    )


# --- the post-mortem panels -------------------------------------------------------------------


@dataclass
class FactorHistory:
    """Earlier post-mortems with one of a post-mortem's factors."""

    factor: ContributingFactor
    earlier: list[PostMortem]
    total_in_team: int
    total: int


def factor_history(*, postmortem: PostMortem, user, limit: int = 5) -> list[FactorHistory]:
    """For each factor of ``postmortem``: the post-mortems with the same factor
    that started before it, same team first, newest first (``limit`` each), and
    how many there are in its team and in the organisation.

    Only post-mortems ``user`` may read are listed or counted (soft-deleted ones
    never): the counts are figures of what the reader can open, so a restricted
    document shows up neither as a title nor as a number.

    A post-mortem without a start time compares by creation time instead. Three
    queries, whatever the number of factors (window functions rank and count per
    factor over narrow rows; then the factors and the listed documents by id);
    factors with no earlier post-mortem are left out.
    """
    Link = PostMortem.factors.through
    rows = Link.objects.filter(
        contributingfactor_id__in=Link.objects.filter(postmortem_id=postmortem.pk).values(
            "contributingfactor_id"
        )
    ).exclude(postmortem_id=postmortem.pk)
    # The link table's manager does not hide deleted documents: say so here.
    rows = rows.filter(postmortem__deleted_at__isnull=True).filter(visibility_q(user, prefix="postmortem__"))
    if postmortem.started_at:
        rows = rows.filter(postmortem__started_at__lt=postmortem.started_at)
    else:
        rows = rows.filter(postmortem__created_at__lt=postmortem.created_at)
    same_team = Case(When(postmortem__team_id=postmortem.team_id, then=Value(1)), default=Value(0))
    per_factor = [F("contributingfactor_id")]
    rows = (
        rows.annotate(
            total=Window(Count("pk"), partition_by=per_factor),
            in_team=Window(Sum(same_team), partition_by=per_factor),
            rank=Window(
                RowNumber(),
                partition_by=per_factor,
                order_by=[
                    same_team.desc(),
                    F("postmortem__started_at").desc(nulls_last=True),
                    F("postmortem_id").desc(),
                ],
            ),
        )
        .filter(rank__lte=limit)
        # Narrow rows: the window functions sort every earlier link row of the
        # factors (~90,000 at 100k documents); carrying whole documents through
        # that sort spilled it to disk and took seconds (docs/benchmarks.md).
        .values("contributingfactor_id", "postmortem_id", "total", "in_team", "rank")
        .order_by("contributingfactor_id", "rank")
    )
    rows = list(rows)
    factors = ContributingFactor.objects.in_bulk({row["contributingfactor_id"] for row in rows})
    documents = PostMortem.objects.select_related("team").in_bulk({row["postmortem_id"] for row in rows})
    histories: dict[int, FactorHistory] = {}
    for row in rows:
        history = histories.get(row["contributingfactor_id"])
        if history is None:
            history = histories[row["contributingfactor_id"]] = FactorHistory(
                factor=factors[row["contributingfactor_id"]],
                earlier=[],
                total_in_team=row["in_team"],
                total=row["total"],
            )
        history.earlier.append(documents[row["postmortem_id"]])
    return sorted(histories.values(), key=lambda history: (history.factor.name, history.factor.pk))


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]{2,}")


def similarity_query(*, postmortem: PostMortem, max_terms: int = 10) -> str:
    """A websearch query (terms joined by ``or``) from a post-mortem's title and
    its "why it happened" / "what happened" text: title words first, then the
    most frequent other words. Returns "" when nothing is left."""
    counts: dict[str, int] = {}
    title_words: list[str] = []
    for word in _WORD.findall(postmortem.title or ""):
        low = word.lower()
        if low not in STOP_WORDS and low not in title_words:
            title_words.append(low)
    for text in (postmortem.why_it_happened, postmortem.what_happened):
        for word in _WORD.findall((text or "")[:5000]):
            low = word.lower()
            if low not in STOP_WORDS and len(low) > 3:
                counts[low] = counts.get(low, 0) + 1
    frequent = [w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if w not in title_words]
    terms = (title_words + frequent)[:max_terms]
    return " or ".join(terms)


# How many related documents "similar post-mortems" ranks at most. Ranking every
# match of a broad OR query over the whole corpus made the one-page view take
# seconds at 10k+ documents (docs/benchmarks.md, Findings); ranking only the
# newest documents that share the team or a contributing factor keeps it bounded.
SIMILAR_CANDIDATES = 300


def similar_postmortems(*, postmortem: PostMortem, user, limit: int = 5) -> list[PostMortem]:
    """The most similar other post-mortems by full-text search (``postmortems.search``),
    best first. A fixed number of queries (the candidates' ids, then the search).

    Candidates are the ``SIMILAR_CANDIDATES`` newest post-mortems that ``user``
    may read and that share the document's team or one of its contributing
    factors, so the cost does not grow with the size of the corpus.
    """
    query = similarity_query(postmortem=postmortem)
    if not query:
        return []
    Link = PostMortem.factors.through
    # EXISTS rather than a join on the factor links: no DISTINCT, so the planner
    # walks the started_at index and stops at the SIMILAR_CANDIDATES-th related
    # document (the join made it de-duplicate every related row first: ~1 s at
    # 100k documents, docs/benchmarks.md).
    shares_a_factor = Exists(
        Link.objects.filter(
            postmortem_id=OuterRef("pk"),
            contributingfactor_id__in=Link.objects.filter(postmortem_id=postmortem.pk).values(
                "contributingfactor_id"
            ),
        )
    )
    candidates = (
        PostMortem.objects.visible_to(user)
        .filter(Q(team_id=postmortem.team_id) | shares_a_factor)
        .exclude(pk=postmortem.pk)
        .order_by("-started_at", "-id")
        .values_list("pk", flat=True)[:SIMILAR_CANDIDATES]
    )
    # Read the ids first: given a subquery, PostgreSQL estimated that the broad
    # ``or`` query matches nearly every document and checked it on all of them
    # (a tsvector read per document, ~0.8 s at 100k) before keeping the 300.
    ids = list(candidates)
    if not ids:
        return []
    pool = PostMortem.objects.visible_to(user).filter(pk__in=ids).select_related("team")
    found = search_postmortems(pool, query)
    return list(found[:limit])


def rejected_for_postmortem(*, postmortem: PostMortem) -> list[DoDProposal]:
    """Rejected DoD proposals that this post-mortem was evidence for ("what we
    don't change"), newest decision first."""
    return list(
        DoDProposal.objects.filter(status=DoDProposal.Status.REJECTED, evidence__postmortem=postmortem)
        .select_related("team", "factor", "decided_by")
        .order_by("-decided_at")
    )


def proposals_for_postmortem(*, postmortem: PostMortem) -> list[DoDProposal]:
    """Open and accepted DoD proposals this post-mortem is evidence for."""
    return list(
        DoDProposal.objects.filter(evidence__postmortem=postmortem)
        .exclude(status=DoDProposal.Status.REJECTED)
        .select_related("team", "factor", "dod_version")
        .order_by("-created_at")
    )


def version_pair(
    *,
    dod: DefinitionOfDone | None,
    old: int | None,
    new: int | None,
    versions: Sequence[DoDVersion] | None = None,
) -> tuple[DoDVersion | None, DoDVersion | None]:
    """Resolve two version numbers of ``dod`` (0 = empty); defaults: the newest and the one before.

    Raises:
        DoDVersion.DoesNotExist: when a number names no version.
    """
    if dod is None:
        if old or new:
            raise DoDVersion.DoesNotExist("No such version.")
        return None, None
    numbers = list(DoDVersion.objects.filter(dod=dod).order_by("-number").values_list("number", flat=True))
    newest = numbers[0] if numbers else 0
    new = newest if new is None else new
    old = max(new - 1, 0) if old is None else old

    def fetch(number: int) -> DoDVersion | None:
        if number == 0:
            return None
        if number not in numbers:
            raise DoDVersion.DoesNotExist(f"No version {number}.")
        return DoDVersion.objects.select_related("created_by").get(dod=dod, number=number)

    return fetch(old), fetch(new)


def evidence_preview(
    *, proposals: Sequence[DoDProposal], user, per_proposal: int = 4
) -> dict[int, list[ProposalEvidence]]:
    """The newest ``per_proposal`` evidence rows of each proposal that ``user``
    may read (one query, for list pages).

    Returns:
        ``{proposal id: [ProposalEvidence with postmortem and team]}``.
    """
    ids = [p.pk for p in proposals]
    if not ids:
        return {}
    rows = (
        ProposalEvidence.objects.filter(proposal_id__in=ids)
        .filter(readable_evidence_q(user))
        .select_related("postmortem", "postmortem__team")
        .only(
            "proposal_id",
            "started_at",
            "postmortem__id",
            "postmortem__title",
            "postmortem__why_it_happened",
            "postmortem__what_happened",
            "postmortem__team__name",
            "postmortem__team__slug",
        )
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("proposal_id"),
                order_by=[F("started_at").desc(), F("postmortem_id").desc()],
            )
        )
        .filter(rank__lte=per_proposal)
        .order_by("proposal_id", "-started_at", "-postmortem_id")
    )
    preview: dict[int, list[ProposalEvidence]] = {}
    for row in rows:
        preview.setdefault(row.proposal_id, []).append(row)
    return preview
