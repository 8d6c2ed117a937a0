"""Signature verification, against GitHub's published example and forgeries."""

from __future__ import annotations

import pytest

from integrations.github.signature import signature_for, signature_is_valid

# docs.github.com, "Validating webhook deliveries": the documented test values.
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_published_example_verifies():
    assert signature_for(secret=GITHUB_SECRET, body=GITHUB_BODY) == GITHUB_SIGNATURE
    assert signature_is_valid(secrets=[GITHUB_SECRET], body=GITHUB_BODY, header=GITHUB_SIGNATURE) is True


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "missing header"),
        ("", "empty header"),
        (GITHUB_SIGNATURE.removeprefix("sha256="), "no sha256= prefix"),
        (GITHUB_SIGNATURE[:-1], "truncated"),
        (GITHUB_SIGNATURE[:-1] + "f", "one digit wrong"),
        (GITHUB_SIGNATURE.upper().replace("SHA256=", "sha256="), "upper-case hex is not what GitHub sends"),
        ("sha1=" + "0" * 40, "legacy SHA-1 header value"),
        ("sha256=" + "é" * 64, "non-ASCII"),
    ],
)
def test_forged_or_damaged_signatures_are_refused(header, why):
    assert signature_is_valid(secrets=[GITHUB_SECRET], body=GITHUB_BODY, header=header) is False, why


def test_the_signature_covers_the_exact_body():
    assert not signature_is_valid(secrets=[GITHUB_SECRET], body=b"Hello, World! ", header=GITHUB_SIGNATURE)


def test_an_empty_secret_verifies_nothing():
    empty = signature_for(secret="", body=GITHUB_BODY)
    assert signature_is_valid(secrets=["", ""], body=GITHUB_BODY, header=empty) is False
    assert signature_is_valid(secrets=[], body=GITHUB_BODY, header=empty) is False


def test_either_secret_verifies_during_a_rotation():
    old = signature_for(secret="old-secret", body=GITHUB_BODY)
    new = signature_for(secret="new-secret", body=GITHUB_BODY)
    both = ["new-secret", "old-secret"]
    assert signature_is_valid(secrets=both, body=GITHUB_BODY, header=old)
    assert signature_is_valid(secrets=both, body=GITHUB_BODY, header=new)
    assert not signature_is_valid(secrets=["new-secret"], body=GITHUB_BODY, header=old)


def test_the_view_compares_in_constant_time():
    """Static check: the signature module uses hmac.compare_digest and no == on digests."""
    import ast
    import inspect

    from integrations.github import signature

    tree = ast.parse(inspect.getsource(signature))
    calls = {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert "compare_digest" in calls
    compares = [node for node in ast.walk(tree) if isinstance(node, ast.Compare)]
    assert not any(isinstance(op, ast.Eq | ast.NotEq) for node in compares for op in node.ops)
