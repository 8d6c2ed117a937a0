"""The timeboxed agenda of a post-mortem review.

Five steps in 30 minutes by default: frame 3, timeline 12, contributing factors
7, actions and owners 6, wrap-up 2. The order and the weight on the timeline
follow Etsy's "Debriefing Facilitation Guide" (Allspaw, Evans, Schauenberg:
set the blameless frame, walk through the timeline, then the conditions that
contributed, then what to change) and Google's SRE book, ch. 15 "Postmortem
Culture" (a review ends with owned, dated action items). Teams change the
minutes per step (``reviews.models.TeamReviewSettings``), not the steps.

Each step names the sections of the document shown beside it on the
review-mode page and the facilitator's prompts for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AgendaStep:
    """One step of the agenda.

    Attributes:
        key: stable id stored with each review ("frame", "timeline", ...).
        label: what the projected page calls it.
        default_minutes: its length when the team has not set its own (minutes).
        sections: post-mortem section fields shown beside the step.
        prompts: short questions the facilitator asks during the step.
    """

    key: str
    label: str
    default_minutes: int
    sections: tuple[str, ...]
    prompts: tuple[str, ...]


STEPS: tuple[AgendaStep, ...] = (
    AgendaStep(
        "frame",
        "Frame",
        3,
        ("what_happened",),
        (
            "We are here to learn how the system let this happen, not who to blame.",
            "Everyone acted on what they knew at the time; hindsight is not foresight.",
            "The note-taker records decisions; ideas for later go to the parking lot.",
        ),
    ),
    AgendaStep(
        "timeline",
        "Timeline",
        12,
        ("what_happened",),
        (
            "Walk through the timeline: what did you see, what did you expect, what did you do?",
            "What made sense at the time? What information was missing?",
            "Where did detection, diagnosis or mitigation lose time?",
        ),
    ),
    AgendaStep(
        "factors",
        "Contributing factors",
        7,
        ("why_it_happened",),
        (
            "Which conditions of the system made this possible, or made it worse?",
            "Tag each factor; a broad label alone (\u201ccode change\u201d) explains little.",
            "Ask \u201chow\u201d and \u201cwhat\u201d, never \u201cwho\u201d.",
        ),
    ),
    AgendaStep(
        "actions",
        "Actions and owners",
        6,
        ("what_we_change", "what_we_dont_change"),
        (
            "Three to five specific changes: a test, a check, an alert, a process step.",
            "Each action item gets one owner and a due date before we move on.",
            "Changes we decide not to make go on record with the reason.",
        ),
    ),
    AgendaStep(
        "wrapup",
        "Wrap-up",
        2,
        (),
        (
            "Read back the decisions and the action items with their owners.",
            "Check the parking lot: does anything need an owner?",
            "Record the outcome and end the review; attendees get a three-question pulse.",
        ),
    ),
)

STEP_KEYS: tuple[str, ...] = tuple(step.key for step in STEPS)
STEPS_BY_KEY: dict[str, AgendaStep] = {step.key: step for step in STEPS}
DEFAULT_TOTAL_MINUTES = sum(step.default_minutes for step in STEPS)  # 30


def agenda_from_minutes(minutes: dict[str, int]) -> list[dict]:
    """The agenda snapshot a review stores: ``[{"step", "label", "minutes"}, ...]``.

    Args:
        minutes: minutes per step key; a missing key takes the step's default.

    Returns:
        One dict per step in ``STEPS`` order, ``minutes`` an int.
    """
    return [
        {"step": step.key, "label": step.label, "minutes": int(minutes.get(step.key, step.default_minutes))}
        for step in STEPS
    ]
