"""Hardened settings (RELIABILITY.md T1, T5, T12): the deploy check, the
Content-Security-Policy, cookies and HSTS behind TLS, login lockout, API
throttling and request size limits."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.settings import api_settings
from rest_framework.test import APIClient
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from postmortems.models import PostMortem
from tests.factories import PostMortemFactory, UserFactory

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "pw-for-tests-123"  # tests.factories.UserFactory

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(64),
    "HTTPS": "1",
    "ALLOWED_HOSTS": "kb.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://kb.example.com",
    "SITE_URL": "https://kb.example.com",
    "NUM_PROXIES": "1",
}


def _env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without the project's own variables, plus ``extra``."""
    ours = set(PRODUCTION_ENV) | {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "STATIC_MANIFEST"}
    return {**{k: v for k, v in os.environ.items() if k not in ours}, **extra}


def _production_settings(expr: str, **extra: str):
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json; from django.conf import settings as s; print(json.dumps({expr}, default=str))",
        ],
        cwd=ROOT,
        env=_env({**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "kb.settings", **extra}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# --- the deploy check and the production values ------------------------------------


def test_check_deploy_reports_nothing_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_env({**PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "kb.settings"}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_settings_secure_cookies_hsts_and_static_files():
    values = _production_settings(
        "dict(session=[s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SESSION_COOKIE_SAMESITE], csrf=[s.CSRF_COOKIE_NAME, s.CSRF_COOKIE_SECURE],"
        " hsts=[s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD],"
        " redirect=s.SECURE_SSL_REDIRECT, proxy=s.SECURE_PROXY_SSL_HEADER,"
        " static=s.STORAGES['staticfiles']['BACKEND'], finders=s.WHITENOISE_USE_FINDERS,"
        " silenced=getattr(s, 'SILENCED_SYSTEM_CHECKS', []),"
        " csp=s.CONTENT_SECURITY_POLICY['DIRECTIVES'].get('upgrade-insecure-requests'))"
    )
    assert values["session"] == ["__Host-sessionid", True, True, "Lax"]
    assert values["csrf"] == ["__Host-csrftoken", True]
    assert values["hsts"] == [31_536_000, True, True]
    assert values["redirect"] is True
    assert values["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["static"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    assert values["finders"] is False
    assert values["silenced"] == []
    assert values["csp"] is True


def test_without_https_cookies_keep_plain_names_for_local_http():
    values = _production_settings(
        "[s.SESSION_COOKIE_NAME, s.SESSION_COOKIE_SECURE, s.SECURE_HSTS_SECONDS, s.SECURE_SSL_REDIRECT,"
        " s.STORAGES['staticfiles']['BACKEND']]",
        HTTPS="0",
    )
    assert values == ["sessionid", False, 0, False, "django.contrib.staticfiles.storage.StaticFilesStorage"]


def test_rates_and_limits_come_from_the_environment():
    values = _production_settings(
        "[s.REST_FRAMEWORK['DEFAULT_THROTTLE_CLASSES'], s.REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'],"
        " s.AXES_FAILURE_LIMIT, str(s.AXES_COOLOFF_TIME), s.AXES_LOCKOUT_PARAMETERS]",
        API_USER_RATE="100/minute",
        API_ANON_RATE="5/minute",
        AXES_FAILURE_LIMIT="7",
        AXES_COOLOFF_MINUTES="30",
    )
    assert values == [
        ["rest_framework.throttling.AnonRateThrottle", "rest_framework.throttling.UserRateThrottle"],
        {"anon": "5/minute", "user": "100/minute"},
        7,
        "0:30:00",
        [["username", "ip_address"]],
    ]


# --- Content-Security-Policy ---------------------------------------------------------


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    policy = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            policy[words[0]] = words[1:]
    return policy


STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/postmortems/", "PM", "/postmortems/new/", "/api/v1/teams/"]
)
def test_pages_carry_the_strict_policy(web, author, path):
    if path == "PM":
        path = PostMortemFactory(team=author.teams.get()).get_absolute_url()
    response = web.get(path)
    assert response.status_code == 200
    policy = _policy(response)
    for directive, sources in STRICT.items():
        assert policy[directive] == sources, directive
    assert sorted(policy["img-src"]) == sorted(["'self'", "https:"])
    assert "unsafe" not in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.django_db
def test_api_docs_loosen_the_policy_for_themselves_only_and_never_for_scripts(web):
    swagger = web.get("/api/v1/docs/")
    redoc = web.get("/api/v1/redoc/")
    script = web.get("/api/v1/docs/?script=")
    assert swagger.status_code == redoc.status_code == script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "<script>" not in swagger.content.decode()  # start-up script is a file
    for response in (swagger, redoc):
        policy = _policy(response)
        assert policy["script-src"] == ["'self'"]
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert "data:" in _policy(swagger)["img-src"]
    assert _policy(swagger)["style-src"] == ["'self'"]
    assert "'unsafe-inline'" in _policy(redoc)["style-src"]
    assert sorted(_policy(redoc)["img-src"]) == sorted(["'self'", "data:"])  # no CDN logo
    assert "fonts.googleapis.com" not in redoc.content.decode()


# Markup that a policy without 'unsafe-inline' blocks, or that runs script.
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
_HANDLER = re.compile(r"""\son[a-z]+\s*=""", re.I)
_STYLE_ATTR = re.compile(r"""\sstyle\s*=""", re.I)
_STYLE_TAG = re.compile(r"<style[\s>]", re.I)
_JS_URL = re.compile(r"javascript:", re.I)
_COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.S)


def _project_templates() -> list[Path]:
    folders = [ROOT / "templates", *ROOT.glob("*/templates"), *ROOT.glob("*/*/templates")]
    return sorted(p for folder in folders if ".venv" not in folder.parts for p in folder.rglob("*.html"))


def test_no_template_has_inline_script_handlers_or_styles():
    templates = _project_templates()
    assert len(templates) > 10
    problems = []
    for path in templates:
        text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text())
        for name, pattern in (
            ("inline <script>", _INLINE_SCRIPT),
            ("on* handler", _HANDLER),
            ("style= attribute", _STYLE_ATTR),
            ("<style> element", _STYLE_TAG),
            ("javascript: URL", _JS_URL),
        ):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert problems == [], "CSP (style-src/script-src 'self') would block:\n" + "\n".join(problems)


def test_our_javascript_builds_no_inline_code_or_styles():
    scripts = [p for p in (ROOT / "static").rglob("*.js") if "vendor" not in p.parts]
    assert scripts
    forbidden = re.compile(
        r"""eval\(|new Function\(|setAttribute\(\s*["'](style|on\w+)["']|javascript:"""
        r"""|innerHTML\s*=|insertAdjacentHTML"""
    )
    problems = [
        f"{p.relative_to(ROOT)}:{i}: {line.strip()}"
        for p in scripts
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if forbidden.search(line)
    ]
    assert problems == []


def test_htmx_is_told_not_to_inject_styles_or_evaluate_code():
    base = (ROOT / "templates" / "base.html").read_text()
    match = re.search(r"""<meta name="htmx-config" content='([^']*)'>""", base)
    assert match, "base.html needs the htmx-config meta tag (htmx injects an inline <style> otherwise)"
    config = json.loads(match.group(1))
    assert config["includeIndicatorStyles"] is False
    assert config.get("allowEval") is False


# --- login throttling (django-axes) --------------------------------------------------


@pytest.fixture
def victim(db):
    return UserFactory(username="victim")


def _login(client: Client, username: str, password: str, **extra):
    return client.post("/accounts/login/", {"username": username, "password": password}, **extra)


@pytest.mark.django_db
def test_login_locks_after_n_failures_and_refuses_even_the_right_password(victim, settings, caplog):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        response = _login(client, "victim", "wrong")
        assert response.status_code == 200  # the form again, with an error
        assert "_auth_user_id" not in client.session
    third = _login(client, "victim", "wrong")
    assert third.status_code == 429
    refused = _login(client, "victim", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/postmortems/").status_code == 302  # still anonymous
    lockouts = [r for r in caplog.records if r.name.startswith("axes") and "Locking out" in r.getMessage()]
    assert lockouts and "victim" in lockouts[0].getMessage() and "203.0.113.7" in lockouts[0].getMessage()


@pytest.mark.django_db
def test_lockout_is_per_username_and_address(victim, settings):
    settings.AXES_FAILURE_LIMIT = 2
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        _login(attacker, "victim", "wrong")
    assert _login(attacker, "victim", PASSWORD).status_code == 429
    # The real user, from their own address, is not locked out by the attacker.
    owner = Client(REMOTE_ADDR="198.51.100.20")
    assert _login(owner, "victim", PASSWORD).status_code == 302
    assert owner.session["_auth_user_id"] == str(victim.pk)


@pytest.mark.django_db
def test_a_forged_x_forwarded_for_does_not_reset_the_counter_without_a_proxy(victim, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}
    client = Client(REMOTE_ADDR="203.0.113.7")
    for n in range(3):
        _login(client, "victim", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    assert _login(client, "victim", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9").status_code == 429


@pytest.mark.django_db
def test_behind_one_proxy_the_forwarded_address_is_the_client(victim, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = Client(REMOTE_ADDR="127.0.0.1")
    for _ in range(2):
        _login(proxy, "victim", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert _login(proxy, "victim", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    # Another client behind the same proxy still logs in.
    assert _login(proxy, "victim", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.20").status_code == 302


@pytest.mark.django_db
def test_a_success_resets_the_count(victim, settings):
    settings.AXES_FAILURE_LIMIT = 3
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        _login(client, "victim", "wrong")
    assert _login(client, "victim", PASSWORD).status_code == 302
    client.logout()
    for _ in range(2):
        _login(client, "victim", "wrong")
    assert _login(client, "victim", PASSWORD).status_code == 302


@pytest.mark.django_db
def test_admin_login_is_locked_out_too(settings):
    settings.AXES_FAILURE_LIMIT = 2
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        client.post("/admin/login/", {"username": "boss", "password": "wrong"})
    response = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert response.status_code == 429


@pytest.mark.django_db
def test_force_login_and_login_with_a_request_still_work(victim):
    from django.http import HttpRequest

    client = Client()
    assert client.login(request=HttpRequest(), username="victim", password=PASSWORD)
    assert client.get("/postmortems/").status_code == 200
    other = Client()
    other.force_login(victim)
    assert other.get("/postmortems/").status_code == 200


# --- API throttling ---------------------------------------------------------------------


@pytest.fixture
def throttled(monkeypatch):
    """Turn DRF throttling on (tests/settings.py turns it off) with tiny rates.

    DRF reads the classes and rates once, at import, so patch where they are used.
    """
    monkeypatch.setattr(APIView, "throttle_classes", [AnonRateThrottle, UserRateThrottle])
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/minute", "user": "3/minute"})
    cache.clear()
    yield
    cache.clear()


@pytest.mark.django_db
def test_api_answers_429_with_retry_after_past_the_user_rate(throttled, author):
    assert api_settings.DEFAULT_THROTTLE_CLASSES == []  # the rest of the suite runs unthrottled
    api = APIClient()
    api.force_authenticate(author)
    statuses = [api.get("/api/v1/teams/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api.get("/api/v1/teams/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    # Another user has their own budget.
    other = APIClient()
    other.force_authenticate(UserFactory(username="other"))
    assert other.get("/api/v1/teams/").status_code == 200


@pytest.mark.django_db
def test_anonymous_api_calls_are_throttled_by_address(throttled):
    # DRF checks permissions before throttles, so anonymous callers of protected
    # endpoints get 401 first; the anonymous rate guards the public schema.
    anon = APIClient(REMOTE_ADDR="203.0.113.7")
    statuses = [anon.get("/api/v1/schema/").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert APIClient(REMOTE_ADDR="198.51.100.20").get("/api/v1/schema/").status_code == 200


# --- size limits --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_oversized_body_is_refused_with_400_not_500(api, web, author, settings, caplog):
    caplog.set_level(logging.ERROR)
    big = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1024
    before = PostMortem.objects.count()
    body = json.dumps({"title": "x" * big, "team": "payments"})
    response = api.post("/api/v1/postmortems/", body, content_type="application/json")
    assert response.status_code in (400, 413)
    form = web.post("/postmortems/new/", {"title": "x" * big, "team": "payments"})
    assert form.status_code in (400, 413)
    assert PostMortem.objects.count() == before
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in errors if "Internal Server Error" in r.getMessage()]
