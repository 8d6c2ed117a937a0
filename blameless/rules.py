"""The blameless-language rules, in one table.

Four rules look for wording that puts the cause of an incident on people
instead of on the system they worked in:

``blame``
    A person, role or team is the subject (or the named agent) of an error verb
    ("forgot", "ignored", "missed", "messed up", "made a mistake", "didn't
    bother") or of a judgement ("careless", "sloppy", "negligent").
    Google SRE book, ch. 15 "Postmortem Culture: Learning from Failure": a
    blameless post-mortem "must focus on identifying the contributing causes of
    the incident without indicting any individual or team". John Allspaw,
    "Blameless PostMortems and a Just Culture" (Etsy Code as Craft, 2012).
``human-error``
    "human error", "operator error", "user error", "pilot error" or "root cause
    was <a person, role or team>". Sidney Dekker, "The Field Guide to
    Understanding 'Human Error'" (3rd ed., 2014): "human error" is a label
    attached after the fact, a symptom of trouble deeper in the system and the
    start of an investigation, not its conclusion.
``counterfactual``
    Hindsight and counterfactual wording: "should have", "could have", "would
    have", "if only", "failed to" with a person as subject, "obviously", and
    "just"/"simply" when they play down what responders faced. Dekker, Field
    Guide, on reactions to failure (retrospective, counterfactual, judgmental,
    proximal) and hindsight bias: saying what people could or should have done
    explains nothing about why what they did made sense at the time ("local
    rationality").
``vague-action``
    Action items that ask people to try harder instead of changing the system:
    "be more careful", "pay more attention", "double-check", "remind everyone",
    a bare "improve X". Only checked in ``what_we_change`` and ``action_item``.
    Google SRE book ch. 15: "You can't 'fix' people, but you can fix systems and
    processes"; Sue Lueder and Betsy Beyer, "Postmortem Action Items: Plan the
    Work and Work the Plan" (SREcon17 Americas); Allspaw (Etsy, above).

How the patterns work
---------------------
The patterns are hand-written regular expressions, kept simple and documented.
We considered a parser (spaCy) to find grammatical subjects, but spaCy's English
models are not available from a trustworthy source on this machine's package
registry (only third-party mirrors), so nothing here depends on an NLP model.

Subjects are found by adjacency: a *person word* immediately before the verb,
with at most a few auxiliaries or adverbs in between ("the on-call just
ignored", "Bob doesn't forget"). Person words are pronouns ("we", "someone",
"who"), role nouns ("the engineer", "the on-call", "QA", "the release manager")
and capitalised first names at the start of a clause. "They" only counts at the
start of a sentence: in the middle of a sentence it usually points back to a
noun in the same sentence, which is as often software ("the probes passed, but
they missed ...").

Each pattern may carry exceptions (``Unless``): a regex tried on the text of the
same sentence before the match, after the match, or both. They hold the hard
negatives that share wording with a positive: "should have a dry-run mode"
(possession), "not obvious" (anti-hindsight), "a CI step that double-checks"
(a machine does the checking), "user error (HTTP 400)" (a response class).

All patterns are linear: no nested unbounded quantifiers, no two adjacent
quantifiers that can split the same whitespace, every gap between words is
bounded (``{0,3}``), and exceptions only look inside one sentence (at most
``WINDOW`` characters each side). ``tests/blameless/test_checker.py`` feeds
them long runs of whitespace and repeated trigger words.

Known limitations
-----------------
- A capitalised product name at the start of a clause reads as a first name:
  "Grafana missed two scrape intervals" is flagged as blame. All-caps names
  ("BOB FORGOT") are not recognised as names (roles in capitals are).
- "They" in mid-sentence is never taken as people, and at the start of a
  sentence always is; the antecedent is not resolved.
- Subjects must sit next to the verb: "Bob, the on-call, forgot" is missed.
- Agentless passives ("the notice was ignored") are flagged unless the subject
  is a technical noun from a short list; "the alert was missed" is not flagged.
- Impact hedges are recognised from a list of verbs ("customers would have
  experienced"); others ("would have been the same") are still flagged.
- Plural "user errors" as a metric ("when user errors became apparent") is
  flagged as human-error.
- Concreteness of an action item is judged only by a number or "by <doing>"
  after the vague phrase.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

SECTIONS: tuple[str, ...] = (
    "what_happened",
    "why_it_happened",
    "what_we_change",
    "action_item",
    "what_we_dont_change",
)

#: How far (in characters) an exception looks before or after a match; it never
#: looks past the sentence the match is in.
WINDOW = 200

_FLAGS = re.IGNORECASE | re.MULTILINE


@dataclass(frozen=True)
class Unless:
    """An exception to a pattern: the match is dropped when every given regex
    matches. ``before`` is searched in the sentence text that ends at the match
    (anchor it with ``\\Z`` to mean "just before"); ``after`` is matched at the
    start of the sentence text that follows the match."""

    before: re.Pattern[str] | None = None
    after: re.Pattern[str] | None = None


@dataclass(frozen=True)
class Pattern:
    """How one phrasing is found.

    ``scan`` finds the anchor word ("forgot", "should have", "root cause was").
    It is matched against the text lower-cased (ASCII only, so offsets do not
    move), is written in lower case, and is compiled without IGNORECASE: that
    keeps the one pass over the whole text cheap. The other regexes only look
    at the few characters around an anchor and see the original case (so a
    capitalised first name can be told from a common noun):

    - ``subject`` must match the text just before the anchor (it ends with
      ``\\Z``); the finding then starts where the subject starts.
    - ``object`` must match the text just after the anchor; the finding then
      ends where the object ends.
    - ``unless`` lists exceptions; any one that applies drops the match.
    """

    scan: re.Pattern[str]
    subject: re.Pattern[str] | None = None
    object: re.Pattern[str] | None = None
    unless: tuple[Unless, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One row of the table: ``id`` names the rule in findings and in the
    labelled set, ``sections`` lists the post-mortem sections it is checked in,
    ``message`` says what is wrong and ``suggestion`` how to rewrite it."""

    id: str
    message: str
    suggestion: str
    sections: frozenset[str]
    patterns: tuple[Pattern, ...] = field(repr=False)


def _re(source: str) -> re.Pattern[str]:
    return re.compile(source, _FLAGS)


def _scan(source: str) -> re.Pattern[str]:
    if not source.startswith(r"\b"):
        raise ValueError(f"scan patterns start at a word boundary, with \\b: {source}")
    letters = re.sub(r"\\.|\(\?[^)]*?[:=!<]", "", source)  # drop escapes like \b, \S and group prefixes
    if any("A" <= ch <= "Z" for ch in letters):
        raise ValueError(
            f"scan patterns are matched against lower-cased text; write them in lower case: {source}"
        )
    return re.compile(source, re.MULTILINE)


def _p(
    scan: str,
    *,
    subject: str | None = None,
    object: str | None = None,  # the grammatical object, as in Pattern
    before: str | None = None,
    after: str | None = None,
    also: tuple[Unless, ...] = (),
) -> Pattern:
    """A pattern; ``before``/``after`` give one exception (both must match when both are given)."""
    unless = also
    if before is not None or after is not None:
        unless = (Unless(_re(before) if before else None, _re(after) if after else None), *also)
    return Pattern(
        _scan(scan),
        _re(subject) if subject else None,
        _re(object) if object else None,
        unless,
    )


def _words(*words: str) -> str:
    """An alternation of words, longest first so that "on-call engineer" wins over "on-call"."""
    return "(?:" + "|".join(sorted(words, key=len, reverse=True)) + ")"


def _after_any(contexts: tuple[str, ...]) -> str:
    """A set of fixed-width lookbehinds: the match must follow one of ``contexts``."""
    return "(?:" + "|".join(f"(?<={c})" for c in contexts) + ")"


# --- Who counts as a person ----------------------------------------------------------------

#: Pronouns and indefinites that always refer to people.
PERSON_PRONOUNS = _words(
    "we", "i", "you", "he", "she", "who", "whoever", "someone", "somebody", "anyone", "anybody",
    "everyone", "everybody", "nobody", r"no[ -]one", "people", "humans", "folks",
)  # fmt: skip

#: Role nouns. Ambiguous heads appear only in compounds ("release manager",
#: "support lead"); "operator" counts only right after a determiner, so that "the
#: Postgres operator" (a Kubernetes operator) is not a person.
PERSON_ROLES = _words(
    r"engineers?", r"developers?", r"devs?", r"on-?calls?", r"sres?", r"dbas?", "qa", r"admins?",
    r"administrators?", r"sysadmins?", r"contractors?", r"interns?", r"new\s+hires?", r"reviewers?",
    r"approvers?", r"responders?", r"deployers?", r"committers?", r"maintainers?", r"testers?",
    r"analysts?", r"architects?", r"users?", r"customers?", r"teams?", "staff", r"colleagues?",
    r"teammates?", "person", r"commanders?",
    r"(?:release|engineering|product|project|incident|delivery|change|account)\s+managers?",
    r"(?:support|tech|team|incident|on-?call|comms|communications|engineering|qa|dev)\s+leads?",
    r"(?<=\bthe\s)operators?", r"(?<=\ban\s)operators?", r"(?<=\bour\s)operators?",
    r"(?<=\bhuman\s)operators?",
)  # fmt: skip

PERSON_WORD = rf"(?:{PERSON_PRONOUNS}|{PERSON_ROLES})"

#: Words that start a clause, after which a capitalised word is taken as a first name.
_CLAUSE_WORDS = (
    "and", "but", "so", "because", "when", "while", "after", "before", "since", "that", "sure",
    "if", "as", "then", "until", "though", "although", "where", "once", "yet", "or",
)  # fmt: skip
CLAUSE_START = _after_any(
    (
        r"^", r"[.;:!?,(*_\"'>|—–-]", r"[.;:!?,(*_\"'>|—–-]\s", r"\n[ \t]", r"\n[ \t]{2}", r"\n[ \t]{3}",
        r"\n[ \t]{4}", *(rf"\b{w}\s" for w in _CLAUSE_WORDS),
    )
)  # fmt: skip
SENTENCE_START = _after_any((r"^", r"[.!?*_>-]\s", r"\*", r"[.!?]\s\s"))

#: A capitalised first name (case-sensitive even though the rest is not), minus
#: capitalised words that start a clause but are not people.
NAME = (
    r"(?-i:(?!(?:It|This|That|These|Those|There|Here|They|What|Which|Nothing|Everything|Something"
    r"|Anything|Each|Every|All|Some|Most|Many|Both|Neither|Either|No|One|Our|Their|Its|The|An?)\b)"
    r"[A-ZÀ-Þ][a-zß-ÿ]+)"
)

#: A person as the subject of a clause: role or pronoun anywhere, "they" at the
#: start of a sentence, or a first name at the start of a clause.
# (The lookaheads only make the search cheaper: they skip the lookbehinds at
# positions that cannot start "they" or a name.)
PERSON_SUBJECT = rf"\b(?:{PERSON_WORD}|(?=[tT]){SENTENCE_START}they|(?-i:(?=[A-ZÀ-Þ])){CLAUSE_START}{NAME})\b"

#: What may sit between the subject and the verb: auxiliaries, negation, adverbs.
_BETWEEN = (
    r"(?:\s+(?:did|does|do|had|has|have)(?:\s*n['’]t|\s+not)?"
    r"|\s+(?:just|simply|completely|totally|also|then|again|still|never|clearly|apparently"
    r"|repeatedly|somehow|probably|accidentally|mistakenly|basically|obviously|conveniently)){0,3}"
)

#: A noun phrase naming a person: "the on-call engineer", "whoever", "Dana".
PERSON_NP = (
    rf"(?:(?:(?:the|a|an|our|their|one\s+of\s+(?:the|our)|some)\s+)?(?:[\w-]+\s+){{0,2}}?"
    rf"(?:{PERSON_WORD}|us|them)\b(?!['’]s)|(?-i:{NAME})\b(?!['’]s))"
)

# --- Verbs and phrases (scan patterns are lower case) --------------------------------------

#: A person just before the anchor, as a ``subject``: "Bob ", "the on-call just ", "who ".
PERSON_BEFORE = rf"{PERSON_SUBJECT}{_BETWEEN}\s+\Z"

#: Error verbs: wrong only when a person does them ("the cache missed" is fine).
ERROR_VERBS = (
    r"\b(?:forgot|forgotten|forget(?:s|ting)?|ignor(?:ed|es?|ing)|overlook(?:ed|s)?|neglect(?:ed|s)?"
    r"|(?:mess|screw)(?:ed|es|s)?\s+up|botch(?:ed|es)?|dropped\s+the\s+ball|blew\s+it"
    r"|ma(?:de|ke|kes)\s+(?:(?:a|an|one|two|several|multiple|some|the\s+same)\s+)?(?:[\w-]+\s+)?"
    r"(?:mistakes?|blunders?)"
    # "missed", except a missed target ("we missed our slo") or being away ("missed the start of").
    r"|miss(?:ed|es)?\b(?!\s+(?:(?:our|the|its|their|this|that|an?|all|both)\s+)?(?:[\w.%-]+\s+){0,3}?"
    r"(?:slos?|slas?|slis?|targets?|objectives?|budgets?|quotas?)\b)"
    r"(?!\s+(?:the\s+)?(?:start|beginning|first\s+(?:part|half)|rest|end)\s+of\b))\b"
)

#: Judgements that are about people whatever the grammar ("a careless edit").
JUDGEMENTS = (
    r"\b(?:careless(?:ly|ness)?|sloppy|sloppily|sloppiness|negligent(?:ly)?|negligence"
    r"|reckless(?:ly|ness)?|incompeten(?:t|ce))\b"
)

#: "could have"/"would have" describing how bad the system's failure might have
#: got (a near miss) rather than what someone should have done.
_NEAR_MISS = (
    r"(?:\s+\w+ly)?\s+(?:been\s+(?:much\s+|far\s+|a\s+lot\s+)?worse|exhausted|overwhelmed|affected|impacted"
    r"|spread|cascaded|corrupted|lost|taken\s+down|brought\s+down|overloaded|saturated|consumed|filled"
    r"|led\s+to)\b"
)

#: "would/could/should have" hedging a description of impact or of expected
#: behaviour, as status pages do: "customers would have experienced errors",
#: "existing databases should not have been impacted". Only when the sentence
#: has no condition ("if", "had", "unless"): with one it is a counterfactual.
_IMPACT_HEDGE = Unless(
    before=_re(r"\A(?!(?s:.*)\b(?:if|had|unless|otherwise|hindsight)\b)"),
    after=_re(
        r"(?:\s+(?:not|also|still|potentially|similarly|likely|either|only|all|generally|eventually))*\s+"
        r"(?:experienced|encountered|resulted\s+in|manifested|varied|continued|appeared|spanned|existed"
        r"|been\s+(?:\w+ly\s+)?(?:impacted|affected|unaffected|unable|successful|processed|delayed|degraded"
        r"|lower|higher|limited|minimal|exposed|visible|unavailable|able)"
        r"|seen\s+(?:errors?|failures?|timeouts?|latency|delays?|elevated|increased|higher|intermittent"
        r"|improvements?|impact|an?\s))\b"
        r"(?!(?s:.*)\b(?:if|had|unless)\b)"
    ),
)

#: Machines that can do the double-checking or reminding in a concrete action item.
_MACHINE_BEFORE = (
    r"\b(?:step|job|script|bot|tool|pipeline|hook|ci|check|test|linter|automation|workflow|system|"
    r"alert|monitor|cron|action)s?\s+(?:that\s+|which\s+|to\s+|will\s+|automatically\s+)*\Z"
)

#: In a vague-looking item, a number (threshold, target, count) or "by <doing>"
#: makes it concrete. An "(owner: ..., due ...)" parenthesis does not count.
_CONCRETE_AFTER = r"[^\d(]*?(?:\d|\bby\s+\w+ing\b|\((?!(?:owner|due|assignee)\b)[^\d(]*?\d)"

_VAGUE_OBJECTS = (
    r"(?:testing|tests|monitoring|alerting|alerts|logging|observability|coverage|documentation|docs"
    r"|training|reviews?|oversight|communication|visibility|care|caution|diligence)"
)

#: An earlier attribution that the sentence then corrects: "initial triage
#: attributed the failure to operator error, but the investigation found ...".
_CORRECTED = Unless(
    before=_re(
        r"\b(?:initial(?:ly)?|original(?:ly)?|at\s+first|first)\b.{0,150}?"
        r"\b(?:attribut|blam|classif|label|put\s+down)"
    ),
    after=_re(r"[^.]*\b(?:but|however|until)\b"),
)

ALL_SECTIONS = frozenset(SECTIONS)

RULES: tuple[Rule, ...] = (
    Rule(
        id="blame",
        message="Blames a person: a person or team is the subject of an error verb or a judgement.",
        suggestion=(
            "Describe what in the system made this likely: what did the person see, "
            "what did the tooling allow?"
        ),
        sections=ALL_SECTIONS,
        patterns=(
            # "Bob forgot", "the on-call just ignored", "who forgot", "Bob doesn't forget"
            _p(ERROR_VERBS, subject=PERSON_BEFORE),
            # "careless", "sloppy work", "negligent of the release manager"
            _p(JUDGEMENTS),
            # "was ignored by the operator", "botched by the on-call", "forgotten by whoever"
            _p(
                r"\b(?:was|were|been|being|got|is|are)\s+(?:\w+ly\s+)?(?:ignored|forgotten|overlooked|neglected"
                r"|botched|missed|messed\s+up|screwed\s+up)\s+by\b",
                object=rf"\s+{PERSON_NP}",
            ),
            # Agentless passive that only a person could do: "the notice was ignored for three months";
            # not "the unknown key was ignored" (software drops keys, headers, events).
            _p(
                r"\b(?:was|were|been|got)\s+(?:simply\s+|just\s+|completely\s+|conveniently\s+)?"
                r"(?:ignored|forgotten|overlooked|neglected|botched)\b(?!\s+by\b)",
                before=(
                    r"\b(?:headers?|keys?|fields?|values?|parameters?|arguments?|options?|settings?|signals?"
                    r"|events?|requests?|responses?|packets?|exceptions?|columns?|rows?|entries|entry"
                    r"|records?|inputs?|lines?|files?|paths?|errors?|messages?|payloads?|flags?|which)\s+\Z"
                ),
            ),
            # "didn't bother", "nobody bothered"
            _p(r"\b(?:did\s*n't|did\s+not|never|nobody|no[ -]one)\s+bother(?:ed)?\b"),
            # "Bob's fault", "the DBA's mistake", "a mistake by the DBA", "the on-call is to blame"
            _p(r"\b(?:fault|mistake|blunder|oversight)\b", subject=rf"\b(?:{PERSON_WORD}|{NAME})['’]s\s+\Z"),
            _p(r"\b(?:fault|mistake|blunder|oversight)\s+(?:of|by)\b", object=rf"\s+{PERSON_NP}"),
            _p(r"\bto\s+blame\b", subject=r"\b(?:is|are|was|were)\s+\Z"),
        ),
    ),
    Rule(
        id="human-error",
        message="Names human error as a cause: it ends the investigation where it should start.",
        suggestion=(
            "Name the conditions that made the action possible and likely (defaults, missing "
            "guard rails, unclear signals), then ask what would make it hard to do again."
        ),
        sections=ALL_SECTIONS,
        patterns=(
            # "human error", "Human-error", "human mistake"; not when the term is being retired
            # ("we removed the human error category") or an old attribution is corrected.
            _p(
                r"\bhuman[\s-]+(?:errors?|mistakes?)\b",
                before=(
                    r"\b(?:remov(?:e|ed|es|ing)|retir(?:e|ed|es|ing)|drop(?:s|ped|ping)?|ban(?:s|ned|ning)?"
                    r"|deprecat(?:e|ed|es|ing)|replac(?:e|ed|es|ing)|stop(?:s|ped)?\s+using|no\s+longer\s+\w+)\b"
                ),
                also=(_CORRECTED,),
            ),
            # "operator error", "user error", "pilot error", "engineer error"; not as part of a technical noun
            # ("operator error log", "pilot error rate", "user error (HTTP 400)", "returns a user error").
            _p(
                r"\b(?:operator|user|pilot|engineer|developer|admin|staff|personnel)[\s-]+errors?\b"
                r"(?!\s*(?:rates?|logs?|counts?|codes?|messages?|metrics?|ratios?|spikes?|panels?|pages?"
                r"|dashboards?|handl\w+|class(?:es)?|responses?|status|budgets?)\b)(?!\s*\(\s*(?:http|\d))",
                before=r"(?:\b(?:Postgres|Kubernetes|k8s|Redis|Kafka|MySQL|Mongo\w*|Elastic\w*)\s+\Z"
                r"|\b(?:return|respond|emit|throw|rais|send)\w*\s+(?:with\s+)?(?:an?\s+|the\s+)?\Z)",
                also=(_CORRECTED,),
            ),
            # "root cause was the on-call engineer", "Root cause: the new hire", "root cause of the
            # incident was the QA team", "root cause was identified as the release manager"
            _p(
                r"\broot[\s-]+causes?(?:\s+(?:of|for|behind)\s+[\w\s-]{1,40}?)?(?:\s*\*\*)?\s*(?:\bwas\b|\bis\b|:)"
                r"(?:\s*\*\*)?\s*(?:(?:identified|determined|found|deemed)\s+(?:as|to\s+be)\s+)?",
                object=(
                    rf"{PERSON_NP}(?=\s*(?:[.,;:!?)—–-]|$)|\s+(?:who|that|which|and|not|did|was|were|had"
                    r"|because|when|for|on|in|at|during)\b)"
                ),
            ),
        ),
    ),
    Rule(
        id="counterfactual",
        message="Counterfactual or hindsight wording: it says what should have happened, not what did.",
        suggestion=(
            "Describe what happened and what information was available at the time, "
            "not what should have happened."
        ),
        sections=ALL_SECTIONS,
        patterns=(
            # "should have", "should've", "should never have", "should simply have"; not "should have a
            # dry-run mode" (possession) nor a system's configured behaviour ("configured to ... and
            # should have scaled out").
            _p(
                r"\bshould(?:\s*n't|\s+not|\s+never)?(?:\s+(?:simply|just|really|obviously|clearly"
                r"|definitely|also|at\s+least|probably|certainly))?(?:\s*'ve|\s+have|\s+of)\b",
                after=(
                    r"\s+(?:a|an|the|some|no|more|less|its|their|his|her|our|enough|any|all|both|several"
                    r"|multiple|at\s+least|one|two|three|four|five|six|seven|eight|nine|ten|\d)\b"
                ),
                also=(
                    Unless(before=_re(r"\b(?:configured|designed|programmed|set\s+up)\s+to\b")),
                    _IMPACT_HEDGE,
                ),
            ),
            # "could have", "could've", "could easily have"; not "couldn't have known" (that defends
            # the people) nor a near miss ("could have exhausted the pools too, but the breaker opened").
            _p(r"\bcould(?:\s+\w+ly)?(?:\s*'ve|\s+have)\b", after=_NEAR_MISS, also=(_IMPACT_HEDGE,)),
            # "would have caught", "would've", "we'd have", "wouldn't have"; not a near miss or a
            # hedged impact.
            _p(
                r"\b(?:would|\w+'d)(?:\s*n't|\s+not)?(?:\s+\w+ly)?(?:\s*'ve|\s+have)\b",
                after=_NEAR_MISS,
                also=(_IMPACT_HEDGE,),
            ),
            # "if only"
            _p(r"\bif\s+only\b"),
            # "if the engineer had ...", "Had the on-call escalated ..."
            _p(r"\bif\b", object=rf"\s+{PERSON_NP}\s+had\b"),
            _p(r"\bhad\b", subject=rf"{SENTENCE_START}\Z", object=rf"\s+{PERSON_NP}\s+(?:only\s+)?\w+ed\b"),
            # "the on-call failed to escalate", "who failed to follow"; not "the health check failed to".
            _p(r"\bfail(?:ed|s)?\s+to\b", subject=PERSON_BEFORE),
            # "obviously", "it was obvious"; not "it was not obvious at the time" (that defends the
            # people), nor a design goal ("make the failure mode obvious", "more obvious").
            _p(
                r"\bobvious(?:ly)?\b",
                before=r"(?:\b(?:not|never|hardly|nothing|far\s+from)\s+(?:\w+\s+)?|n't\s+(?:\w+\s+)?|\bnon-?)\Z",
                also=(Unless(before=_re(r"\b(?:more|less|now|mak(?:e|es|ing))\s+(?:[\w-]+\s+){0,3}\Z")),),
            ),
            # Minimising what responders faced: "they just needed to", "the fix was simply to",
            # "all the on-call had to do was"; not "just after 03:00", "simply forwards", "simply put".
            _p(
                r"\b(?:just|simply|merely)\s+(?:needed|need|needs|had|has|have)\s+to\b"
                r"|\b(?:was|is|were)\s+(?:just|simply|merely)\s+(?:to|a\s+matter\s+of)\b"
                r"|\ball\s+(?:[\w-]+\s+){0,3}?(?:had|needed|has|needs|have|need)\s+to\s+do\s+(?:was|is)\b"
            ),
        ),
    ),
    Rule(
        id="vague-action",
        message="Vague action: it asks people to try harder instead of changing the system.",
        suggestion="Name a specific check, test or process change with an owner and a due date.",
        sections=frozenset({"what_we_change", "action_item"}),
        patterns=(
            # "be more careful", "review PRs more carefully", "take more care"
            _p(
                r"\bbe\s+(?:more\s+|extra\s+|very\s+|really\s+)?(?:careful|mindful|attentive|diligent|thorough)\b"
                r"|\bmore\s+carefully\b|\btake\s+(?:more|extra|greater)\s+care\b"
            ),
            # "pay more attention", "pay closer attention"
            _p(r"\bpay(?:ing|s)?\s+(?:more\s+|closer\s+|better\s+|extra\s+|greater\s+)?attention\b"),
            # "double-check", "double check" by people; not "a CI step that double-checks".
            _p(r"\bdouble[\s-]?check(?:s|ed|ing)?\b", before=_MACHINE_BEFORE),
            # "be vigilant", "more vigilant", "vigilance"
            _p(r"\b(?:(?:be|remain|stay)\s+(?:more\s+|extra\s+)?)?vigilan(?:t|ce)\b"),
            # "remind everyone", "send a reminder", "will be reminded"; not "the bot reminds ...".
            _p(
                r"\b(?:send|sending|sent)\s+(?:out\s+)?(?:a\s+)?reminders?\b"
                r"|\b(?:be|been|get|are|is)\s+reminded\b|\bremember\s+to\b",
                before=_MACHINE_BEFORE,
            ),
            _p(
                r"\bremind\b",
                object=rf"\s+(?:(?:the|all|our)\s+)?(?:[\w-]+\s+)?(?:{PERSON_WORD}|all)\b",
                before=_MACHINE_BEFORE,
            ),
            # "try harder", "think twice"
            _p(r"\btry\s+(?:much\s+|a\s+lot\s+)?harder\b|\bthink\s+twice\b"),
            # "communicate better", "better communication"
            _p(
                r"\bcommunicate\s+(?:better|more(?:\s+(?:clearly|often|effectively))?|clearly|effectively)\b"
                r"|\b(?:better|clearer)\s+communication\b"
            ),
            # "make sure people read ...", "ensure everyone ...", "make sure Bob doesn't ..."
            _p(
                r"\b(?:make\s+sure|ensure)\b",
                object=rf"\s+(?:that\s+)?(?:(?:(?:the|all|our|every)\s+)?(?:[\w-]+\s+)?{PERSON_WORD}\b|{NAME}\b|all\b)",
            ),
            # "increase awareness", "raise awareness"
            _p(r"\b(?:increase|raise|improve|build|spread|more)\s+(?:\w+\s+)?awareness\b"),
            # A bare "improve X", "reduce X", "more testing", "better monitoring"; not when a number
            # (threshold, target) or "by <doing>" follows in the same sentence.
            _p(
                r"\b(?:improve|reduce|enhance|strengthen|minimi[sz]e|increase)\s+(?:the\s+|our\s+|its\s+)?[\w-]+"
                r"(?:\s+(?!(?:in|on|for|of|by|to|with|during|before|after|and|like|across|at)\b)[\w-]+)?"
                rf"|\b(?:more|better|improved|additional|extra|increased)\s+(?:[\w-]+\s+)?{_VAGUE_OBJECTS}\b",
                after=_CONCRETE_AFTER,
            ),
        ),
    ),
)

RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
