"""gunicorn settings for the web process (``gunicorn -c deploy/gunicorn.conf.py kb.wsgi``).

Every value can be changed from the environment (deploy/kb.env.example), so
the same file serves systemd, the compose file and a laptop. Sizing follows
gunicorn's "Design" notes: about (2 × cores) + 1 workers for a CPU-and-DB-bound
Django app, a few threads each so a slow database call does not idle a worker.
"""

import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


# Where the reverse proxy reaches us. 127.0.0.1 behind a local nginx; 0.0.0.0 in a
# container (the proxy is another container) — never expose this port publicly.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = _int("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1)
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# A request that takes longer is a bug or an attack; the proxy times out at 60 s.
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5
# Recycle workers now and then, so a slow leak never takes a process down.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)
# Heartbeat files in memory, not on a possibly slow disk (containers).
_SHM = "/dev/shm"  # noqa: S108 - gunicorn's documented choice for heartbeat files, not user data
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR", _SHM if os.path.isdir(_SHM) else None)
# Only the proxy may set X-Forwarded-Proto / X-Forwarded-For (comma-separated addresses).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# Large headers are refused, bodies are limited by nginx and Django.
limit_request_line = 8190
limit_request_fields = 100

# Django's RequestLogMiddleware writes one line per request (with user and
# request id), so gunicorn's own access log stays off; errors go to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # gunicorn's own lines (start, worker boot, timeouts) as JSON too.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": "pythonjsonlogger.json.JsonFormatter",
                "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
                "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            }
        },
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        },
    }
proc_name = "kb-web"
