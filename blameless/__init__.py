"""Blameless-language checker for post-mortems.

Pure Python (no Django): ``check_text(text, section)`` returns ``Finding`` s for
wording that blames people, names human error as a cause, argues from hindsight,
or proposes a vague action. The rules live in one table, ``RULES``
(``blameless/rules.py``); ``python -m blameless.evaluate`` scores them against
the labelled set in ``blameless/evaluation/``.
"""

from blameless.checker import DEFAULT_MAX_CHARS, Finding, Findings, check_text
from blameless.rules import RULES, SECTIONS

__all__ = ["DEFAULT_MAX_CHARS", "RULES", "SECTIONS", "Finding", "Findings", "check_text"]
