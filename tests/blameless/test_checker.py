"""The checker's contract: offsets, Markdown, ordering, limits and odd input."""

import os
import subprocess
import sys
import time

import pytest

from blameless import DEFAULT_MAX_CHARS, Finding, check_text


def test_offsets_point_at_the_excerpt_in_the_original_text():
    text = "## Why\n\n> Note: Bob forgot the flag.\n\nIn hindsight the on-call **should have** paged us."
    findings = check_text(text)
    assert [(f.rule, f.excerpt) for f in findings] == [
        ("blame", "Bob forgot"),
        ("counterfactual", "should have"),
    ]
    for finding in findings:
        assert text[finding.start : finding.end] == finding.excerpt


def test_offsets_survive_curly_quotes_code_spans_and_non_ascii():
    text = "İstanbul team note — `x = 1` — we shouldn’t have deployed; Zoë forgot."
    findings = check_text(text)
    assert [f.excerpt for f in findings] == ["shouldn’t have", "Zoë forgot"]
    for finding in findings:
        assert text[finding.start : finding.end] == finding.excerpt


def test_code_blocks_and_inline_code_are_not_checked():
    text = (
        "Plain text.\n\n"
        "```\nthe on-call forgot the step\n```\n\n"
        "~~~python\n# root cause: human error\n~~~\n\n"
        "    Bob should have run this (indented code)\n\n"
        "The `failed_to_acquire_lock` counter and ``we forgot ` it`` rose.\n"
    )
    assert check_text(text) == []


def test_unclosed_fence_masks_to_the_end_and_unclosed_backtick_is_text():
    assert check_text("Intro.\n\n```\nBob forgot\n") == []
    assert [f.excerpt for f in check_text("An unclosed ` then we forgot.")] == ["we forgot"]


def test_list_continuations_and_block_quotes_are_checked():
    text = "- first item\n\n    Bob forgot the flag in the continuation\n\n> The on-call ignored it."
    assert [f.excerpt for f in check_text(text)] == ["Bob forgot", "on-call ignored"]


def test_findings_are_sorted_and_overlapping_matches_of_a_rule_are_merged():
    text = "If only the on-call had looked; obviously the engineer should've paged. We forgot."
    findings = check_text(text)
    assert [f.start for f in findings] == sorted(f.start for f in findings)
    for a, b in zip(findings, findings[1:], strict=False):
        assert a.rule != b.rule or a.end <= b.start
    # "root cause was human" and "human error" overlap: one finding covers both.
    (finding,) = check_text("The root cause was human error.")
    assert finding.excerpt == "human error"


def test_findings_are_frozen_and_deterministic():
    text = "The on-call forgot; it should have been caught. Improve monitoring."
    first = check_text(text, "action_item")
    assert first == check_text(text, "action_item")
    with pytest.raises(AttributeError):
        first[0].start = 0  # type: ignore[misc]
    assert isinstance(first[0], Finding)


@pytest.mark.parametrize("text", ["", " ", "\n\n\t", "```", "``"])
def test_empty_or_blank_text_has_no_findings(text):
    result = check_text(text)
    assert result == [] and result.truncated is False


@pytest.mark.parametrize(
    "text",
    [
        os.urandom(20_000).decode("latin-1"),
        os.urandom(20_000).decode("utf-8", errors="surrogateescape"),
        os.urandom(20_000).decode("utf-8", errors="replace"),
        "\x00\x01\x1b[31m\x7f\ufeff\u202e\udc80" * 500,
        "`" * 5_000 + "~" * 5_000,
        "```\n~~~\n" * 2_000,
    ],
    ids=["latin-1", "surrogateescape", "replace", "control", "backticks", "fences"],
)
def test_binary_garbage_and_control_characters_never_raise(text):
    result = check_text(text)
    assert isinstance(result, list)
    for finding in result:
        assert text[finding.start : finding.end] == finding.excerpt


def test_one_megabyte_is_checked_up_to_the_cap_and_says_so():
    paragraph = "The dashboard showed normal latency, so the on-call paused the rollout at 10:20. "
    text = paragraph * (1_000_000 // len(paragraph)) + "We forgot the flag."
    began = time.perf_counter()
    result = check_text(text)
    elapsed = time.perf_counter() - began
    assert result.truncated is True
    assert DEFAULT_MAX_CHARS - 1_000 <= result.checked_chars <= DEFAULT_MAX_CHARS
    assert result == []  # the only finding is past the cap
    assert elapsed < 5, elapsed


def test_max_chars_none_checks_everything():
    text = "Fine sentence. " * 20_000 + "We forgot the flag."
    result = check_text(text, max_chars=None)
    assert not result.truncated and result.checked_chars == len(text)
    assert [f.excerpt for f in result] == ["We forgot"]


def test_cut_never_splits_a_word():
    text = "a" * 10 + " Bob forgot it"
    result = check_text(text, max_chars=18)  # 18 characters end inside "forgot"
    assert result.truncated and text[: result.checked_chars] == "a" * 10 + " Bob"
    assert result == []


@pytest.mark.parametrize(
    "text",
    [
        "root cause" + " " * 100_000 + "x",
        "Bob made" + " \t\n" * 30_000 + "x",
        "should" + " " * 100_000,
        "improve " * 20_000,
        "if the the the " * 10_000,
    ],
    ids=["root-cause-spaces", "made-whitespace", "should-spaces", "improve-spam", "if-spam"],
)
def test_adversarial_input_stays_linear(text):
    began = time.perf_counter()
    check_text(text, max_chars=None)
    assert time.perf_counter() - began < 5


def test_unknown_section_raises_value_error_naming_the_valid_ones():
    with pytest.raises(ValueError, match="unknown section 'timeline'.*what_happened"):
        check_text("Bob forgot.", "timeline")


def test_non_string_input_and_bad_cap_raise_clear_errors():
    with pytest.raises(TypeError, match="must be a str"):
        check_text(b"Bob forgot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_chars"):
        check_text("Bob forgot", max_chars=0)


def test_package_imports_no_django():
    code = (
        "import sys, blameless\n"
        "sys.exit(any(m.split('.')[0] in {'django', 'rest_framework'} for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
