"""The files in deploy/ are well-formed and agree with the settings: the compose
file (parsed: no Docker engine here), the systemd units (systemd-analyze verify),
the nginx site (nginx -t when nginx is installed), the gunicorn config and the
environment example."""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
APP_SERVICES = ("migrate", "web", "worker", "beat")

# Every place that reads an environment variable by name.
_ENV_READ = re.compile(
    r"""(?:env_bool|env_int|env_list|_int|os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
)
# Read by kb/settings.py but meaningless for a deployment.
NOT_FOR_PRODUCTION = {"DJANGO_SETTINGS_MODULE"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def _example_names() -> set[str]:
    text = (DEPLOY / "kb.env.example").read_text()
    return set(re.findall(r"^#?([A-Z][A-Z0-9_]+)=", text, re.M))


def test_env_example_lists_every_setting_the_processes_read():
    read = set()
    for source in (ROOT / "kb" / "settings.py", ROOT / "kb" / "celery.py", DEPLOY / "gunicorn.conf.py"):
        read |= set(_ENV_READ.findall(source.read_text()))
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "HTTPS", "GUNICORN_WORKERS"} <= read
    missing = sorted(read - NOT_FOR_PRODUCTION - _example_names())
    assert missing == [], f"add these to deploy/kb.env.example (with a comment): {missing}"


def test_env_example_sets_the_required_production_values():
    text = (DEPLOY / "kb.env.example").read_text()
    active = dict(re.findall(r"^([A-Z][A-Z0-9_]+)=(.*)$", text, re.M))
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "SITE_URL"):
        assert name in active, name
    assert active["HTTPS"] == "1" and active["DEBUG"] == "0" and active["NUM_PROXIES"] == "1"
    assert active["LOG_FORMAT"] == "json"


def test_compose_runs_web_worker_one_beat_postgres_redis_and_nginx(compose):
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat", "nginx"}
    for name in APP_SERVICES:
        service = services[name]
        assert service["env_file"] == "kb.env"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["HTTPS"] == "1" and env["NUM_PROXIES"] == "1" and env["LOG_FORMAT"] == "json"
    assert (DEPLOY / "Dockerfile").is_file()
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
    assert {".venv", ".git", "deploy/kb.env", "deploy/certs", "db.sqlite3"} <= set(ignored)

    assert services["web"]["command"][:3] == ["gunicorn", "--config", "deploy/gunicorn.conf.py"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])
    assert services["worker"]["command"][:4] == ["celery", "--app", "kb", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "--app", "kb", "beat"]
    # One scheduler only, and nobody else embeds one (celery worker -B).
    assert services["beat"]["deploy"]["replicas"] == 1
    for name, service in services.items():
        command = " ".join(service.get("command") or [])
        if name != "beat":
            assert " beat" not in command and " -B" not in command and "--beat" not in command, name

    # Migrations run once, before the processes that need the new schema.
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate", "--no-input"]
    for name in ("web", "worker", "beat"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("postgres", "redis"):
        assert "healthcheck" in services[name]
    assert services["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"

    nginx = services["nginx"]
    assert "443:443" in nginx["ports"]
    mounted = [volume.split(":")[0] for volume in nginx["volumes"]]
    assert "./nginx/kb.conf" in mounted
    assert (DEPLOY / "nginx" / "kb.conf").is_file()
    assert "web" in nginx["depends_on"]
    # Only nginx is published; the app port stays on the internal network.
    for name in ("web", "worker", "beat", "postgres", "redis"):
        assert "ports" not in services[name], name


def test_compose_variables_are_in_the_env_example(compose):
    text = (DEPLOY / "compose.yaml").read_text()
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    assert variables == {"POSTGRES_PASSWORD"}
    assert variables <= _example_names()


def _units() -> dict[str, configparser.ConfigParser]:
    units = {}
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.optionxform = str
        parser.read_string(path.read_text())
        units[path.stem] = parser
    return units


def test_systemd_units_for_web_worker_and_beat():
    units = _units()
    assert set(units) == {"kb-web", "kb-worker", "kb-beat"}
    for name, unit in units.items():
        assert {"Unit", "Service", "Install"} <= set(unit.sections()), name
        service = unit["Service"]
        assert service["EnvironmentFile"] == "/etc/kb/kb.env"
        assert service["User"] == "kb" and service["NoNewPrivileges"] == "yes"
        assert service["Restart"] == "on-failure"
        assert service["ExecStart"].startswith("/srv/kb/.venv/bin/")
    assert (
        "gunicorn --config /srv/kb/deploy/gunicorn.conf.py kb.wsgi" in units["kb-web"]["Service"]["ExecStart"]
    )
    assert units["kb-web"]["Service"]["Type"] == "notify"
    assert " worker " in units["kb-worker"]["Service"]["ExecStart"]
    assert " beat " in units["kb-beat"]["Service"]["ExecStart"]
    assert "-B" not in units["kb-worker"]["Service"]["ExecStart"].split()
    # A worker finishes its task before stopping: longer than the task time limit.
    from django.conf import settings

    assert int(units["kb-worker"]["Service"]["TimeoutStopSec"]) > settings.CELERY_TASK_TIME_LIMIT


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    # The units name /srv/kb; verify them pointed at this checkout so the binaries exist.
    for path in (DEPLOY / "systemd").glob("*.service"):
        (tmp_path / path.name).write_text(path.read_text().replace("/srv/kb", str(ROOT)))
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    # verify exits 0 on some parse errors; any message is a problem.
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


def _nginx_test_config(tmp_path: Path, *, https_port: int = 443, upstream: str = "127.0.0.1:8000") -> Path:
    """deploy/nginx/kb.conf with a throw-away certificate, runnable without root.

    Port 80 becomes a unix socket, port 443 ``https_port`` on 127.0.0.1 and the
    upstream ``upstream``; everything else is the file as shipped.
    """
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=kb.example.com",
            "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "kb.conf").read_text()
    replacements = {
        "/etc/ssl/kb/fullchain.pem": str(tmp_path / "cert.pem"),
        "/etc/ssl/kb/privkey.pem": str(tmp_path / "key.pem"),
        "listen 80;": f"listen unix:{tmp_path}/http.sock;",
        "listen [::]:80;": "",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen [::]:443 ssl http2;": "",
        "server 127.0.0.1:8000": f"server {upstream}",
        "root /var/www/letsencrypt;": f"root {tmp_path};",
    }
    for old, new in replacements.items():
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "kb.conf").write_text(site)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/kb.conf;\n}}\n"
    )
    return main


@pytest.mark.skipif(
    shutil.which("nginx") is None, reason="nginx is not installed (apt-get install nginx-light)"
)
def test_nginx_accepts_the_site(tmp_path):
    main = _nginx_test_config(tmp_path)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_site_forwards_what_the_app_trusts():
    site = (DEPLOY / "nginx" / "kb.conf").read_text()
    assert site.count("{") == site.count("}")
    assert "return 301 https://$host$request_uri;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    # Overwritten, not appended: NUM_PROXIES=1 then names the real client.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site
    assert "$proxy_add_x_forwarded_for" not in site
    assert "client_max_body_size 3m;" in site
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in site


def test_gunicorn_config_reads_its_environment():
    code = (
        "import runpy, json; c = runpy.run_path('deploy/gunicorn.conf.py');"
        "print(json.dumps([c['bind'], c['workers'], c['threads'], c['timeout'], c['accesslog'],"
        " 'logconfig_dict' in c]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GUNICORN_BIND": "0.0.0.0:9000", "GUNICORN_WORKERS": "3",
             "LOG_FORMAT": "json"},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '["0.0.0.0:9000", 3, 4, 30, null, true]'
