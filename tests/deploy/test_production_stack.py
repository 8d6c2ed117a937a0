"""The production stack, for real, on loopback: nginx (TLS) → gunicorn with
deploy/gunicorn.conf.py → Django with production settings (DEBUG off, HTTPS=1,
JSON logs, collected static files), as docs/deployment.md describes it.

Without nginx installed the same checks run against gunicorn directly, with the
headers nginx would set. The database is a throw-away SQLite file (the stack
does not depend on the engine); Redis is the suite's when ``REDIS_URL`` is set.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest

from tests.deploy.test_deploy_files import _nginx_test_config

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HOST = "kb.example.com"
PASSWORD = "stack-test-password-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str):
        super().__init__("localhost", timeout=10)
        self._path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self._path)


class Stack:
    """Clients for the running stack: ``https`` through nginx (or gunicorn with
    proxy headers when there is no nginx) and ``direct`` to gunicorn."""

    def __init__(self, *, web_port: int, https_port: int | None, tmp: Path, log: Path):
        self.web_port = web_port
        self.https_port = https_port
        self.tmp = tmp
        self.log = log
        self.cookies: dict[str, str] = {}

    def _connection(self) -> http.client.HTTPConnection:
        if self.https_port:
            context = ssl.create_default_context(cafile=str(self.tmp / "cert.pem"))
            context.check_hostname = False  # the certificate names kb.example.com, we dial 127.0.0.1
            return http.client.HTTPSConnection("127.0.0.1", self.https_port, context=context, timeout=10)
        return http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """A request as a browser on https://kb.example.com would send it; keeps cookies."""
        headers = {"Host": HOST, **(headers or {})}
        if not self.https_port:  # what nginx would add
            headers.setdefault("X-Forwarded-Proto", "https")
            headers.setdefault("X-Forwarded-For", "127.0.0.1")
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = self._connection()
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        connection.close()
        return response, data

    def direct(self, path: str, headers: dict | None = None):
        connection = http.client.HTTPConnection("127.0.0.1", self.web_port, timeout=10)
        connection.request("GET", path, headers={"Host": HOST, **(headers or {})})
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response, data

    def log_lines(self) -> list[dict]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines


def _run(args: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # On tmpfs when there is one: migrate and collectstatic are fsync-bound on disk.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        tmp = Path(tempfile.mkdtemp(prefix="kb-stack-", dir=shm))
    else:
        tmp = tmp_path_factory.mktemp("stack")
    web_port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL")},
        "DJANGO_SETTINGS_MODULE": "kb.settings",
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "HTTPS": "1",
        "NUM_PROXIES": "1",
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "SITE_URL": f"https://{HOST}",
        "DATABASE_URL": f"sqlite:///{tmp}/kb.sqlite3",
        "STATIC_ROOT": str(tmp / "static"),
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "GUNICORN_BIND": f"127.0.0.1:{web_port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
    }
    env.setdefault("REDIS_URL", "")
    python = str(BIN / "python")
    _run([python, "manage.py", "migrate", "--no-input", "-v0"], env)
    _run([python, "manage.py", "collectstatic", "--no-input", "-v0"], env)
    _run(
        [python, "manage.py", "shell", "-c",
         "from django.contrib.auth import get_user_model as g; "
         f"g().objects.create_user('operator', 'op@example.com', '{PASSWORD}')"],
        env,
    )  # fmt: skip

    log = tmp / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(  # noqa: S603 - fixed arguments
            [str(BIN / "gunicorn"), "--config", "deploy/gunicorn.conf.py", "kb.wsgi"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    processes = [web]
    https_port = None
    try:
        _wait_for_port(web_port, web)
        if shutil.which("nginx"):
            https_port = _free_port()
            main = _nginx_test_config(tmp, https_port=https_port, upstream=f"127.0.0.1:{web_port}")
            nginx = subprocess.Popen(  # noqa: S603
                ["nginx", "-p", str(tmp), "-c", str(main), "-e", str(tmp / "error.log"), "-g", "daemon off;"],
                cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            processes.append(nginx)
            _wait_for_port(https_port, nginx)
        yield Stack(web_port=web_port, https_port=https_port, tmp=tmp, log=log)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if tmp.is_relative_to(shm):
            shutil.rmtree(tmp, ignore_errors=True)


def test_healthz_through_the_proxy_checks_the_database(stack):
    response, body = stack.request("GET", "/healthz")
    assert response.status == 200
    data = json.loads(body)
    assert data["status"] == "ok"
    assert data["checks"]["database"] == "ok"
    assert data["checks"]["redis"] == ("ok" if os.environ.get("REDIS_URL") else "skipped")


def test_probes_answer_plain_http_on_the_private_port_but_pages_redirect(stack):
    assert stack.direct("/livez")[0].status == 200
    assert stack.direct("/healthz")[0].status == 200
    response, _ = stack.direct("/accounts/login/")
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/accounts/login/"


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_sends_plain_http_to_https(stack):
    connection = _UnixHTTPConnection(str(stack.tmp / "http.sock"))
    connection.request("GET", "/postmortems/?q=x", headers={"Host": HOST})
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{HOST}/postmortems/?q=x"


def test_pages_carry_hsts_csp_and_host_only_secure_cookies(stack):
    response, body = stack.request("GET", "/accounts/login/")
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    csp = response.getheader("Content-Security-Policy")
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "upgrade-insecure-requests" in csp
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    cookie = next(c for c in response.headers.get_all("Set-Cookie") if c.startswith("__Host-csrftoken="))
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie

    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    form = urlencode({"csrfmiddlewaretoken": token, "username": "operator", "password": PASSWORD})
    response, _ = stack.request(
        "POST",
        "/accounts/login/",
        body=form.encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"https://{HOST}/accounts/login/",
            "Origin": f"https://{HOST}",
        },
    )
    assert response.status == 302
    session = next(c for c in response.headers.get_all("Set-Cookie") if c.startswith("__Host-sessionid="))
    assert "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session
    response, body = stack.request("GET", "/postmortems/")
    assert response.status == 200
    assert b"operator" in body


def test_static_files_are_hashed_compressed_and_cached_for_a_year(stack):
    _, body = stack.request("GET", "/accounts/login/")
    css = re.search(rb'href="(/static/css/app\.[0-9a-f]{12}\.css)"', body)
    assert css, "the stylesheet link should carry a content hash"
    response, data = stack.request("GET", css.group(1).decode(), headers={"Accept-Encoding": "gzip"})
    assert response.status == 200
    assert response.getheader("Content-Encoding") == "gzip"
    assert "max-age=315360000" in response.getheader("Cache-Control")
    assert "immutable" in response.getheader("Cache-Control")


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_refuses_a_body_over_the_limit_with_413(stack):
    response, _ = stack.request(
        "POST",
        "/api/v1/postmortems/",
        body=b"x" * (4 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert response.status == 413


def test_json_request_log_lines_name_request_user_status_and_real_client(stack):
    response, _ = stack.request("GET", "/postmortems/", headers={"X-Forwarded-For": "6.6.6.6"})
    request_id = response.getheader("X-Request-ID")
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    deadline = time.monotonic() + 10
    line = None
    while line is None and time.monotonic() < deadline:
        line = next((entry for entry in stack.log_lines() if entry.get("request_id") == request_id
                     and entry.get("logger") == "kb.request"), None)  # fmt: skip
        time.sleep(0.1)
    assert line is not None, stack.log.read_text()[-2000:]
    assert line["level"] == "INFO" and line["method"] == "GET" and line["path"] == "/postmortems/"
    assert line["status"] == response.status
    assert isinstance(line["duration_ms"], float) and "time" in line
    if stack.https_port:
        # nginx overwrote the forged X-Forwarded-For with the real address.
        assert line["client_ip"] == "127.0.0.1"
    assert line["user_id"] is None or isinstance(line["user_id"], int)
    # Every line gunicorn and Django wrote is JSON.
    text_lines = [ln for ln in stack.log.read_text().splitlines() if ln.strip() and not ln.startswith("{")]
    assert text_lines == []
