"""Throughput: the app under gunicorn (2 workers), loaded by wrk from a second process.

Both listen and connect on 127.0.0.1 only. ``run_load`` starts gunicorn on the
given port against the current database, waits until it answers, runs wrk for
a fixed time with a fixed number of connections (bounded load: ``connections``
requests in flight at most), stops gunicorn (SIGTERM, then SIGKILL after a
grace period) and returns wrk's figures with the status counts.

The traffic mix (a wrk Lua script written per run) is 60 % reads — API list
pages (30 %), API one-document reads (15 %), the web one-page view (10 %) and
the web list (5 %) —, 30 % searches (``?q=`` with the 50 fixed queries) and
10 % writes: ``POST /api/v1/postmortems/`` creating a draft with a timeline and
three action items, with a token, through ``services.postmortem_save``.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
MIX = {"api_list": 30, "api_detail": 15, "web_detail": 10, "web_list": 5, "search": 30, "write": 10}

_LUA = r"""
local token = %(token)s
local cookie = %(cookie)s
local queries = %(queries)s
local ids = %(ids)s
local bodies = %(bodies)s
local auth = {["Authorization"] = "Token " .. token}
local web = {["Cookie"] = cookie}
local json_auth = {["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json"}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(%(seed)d)
  statuses = {}
end

function request()
  local r = math.random(100)
  if r <= %(api_list)d then
    return wrk.format("GET", "/api/v1/postmortems/?page=" .. math.random(1, 20), auth)
  elseif r <= %(api_detail)d then
    return wrk.format("GET", "/api/v1/postmortems/" .. ids[math.random(#ids)] .. "/", auth)
  elseif r <= %(web_detail)d then
    return wrk.format("GET", "/postmortems/PM-" .. ids[math.random(#ids)] .. "/", web)
  elseif r <= %(web_list)d then
    return wrk.format("GET", "/postmortems/?page=" .. math.random(1, 10), web)
  elseif r <= %(search)d then
    return wrk.format("GET", "/api/v1/postmortems/?q=" .. queries[math.random(#queries)], auth)
  else
    return wrk.format("POST", "/api/v1/postmortems/", json_auth, bodies[math.random(#bodies)])
  end
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      counts[tostring(code)] = (counts[tostring(code)] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(counts) do
    table.insert(parts, string.format('"%%s": %%d', code, n))
  end
  io.write(string.format(
    'WRKJSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, ' ..
    '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, ' ..
    '"latency_us": {"p50": %%d, "p90": %%d, "p95": %%d, "p99": %%d, "max": %%d, "mean": %%d}, ' ..
    '"statuses": {%%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean,
    table.concat(parts, ", ")))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal for these contents


def _lua_list(values: list) -> str:
    return "{" + ", ".join(_lua_string(v) if isinstance(v, str) else str(int(v)) for v in values) + "}"


def write_script(
    directory: Path,
    *,
    token: str,
    cookie: str,
    queries: list[str],
    ids: list[int],
    bodies: list[str],
    seed: int,
) -> Path:
    """Write the wrk Lua script for the mix in ``MIX``; returns its path."""
    bounds, running = {}, 0
    for name, share in MIX.items():
        running += share
        bounds[name] = running
    script = _LUA % {
        "token": _lua_string(token),
        "cookie": _lua_string(cookie),
        "queries": _lua_list([quote(q) for q in queries]),
        "ids": _lua_list(ids),
        "bodies": _lua_list(bodies),
        "seed": seed,
        **bounds,
    }
    path = directory / "mix.lua"
    path.write_text(script, encoding="utf-8")
    return path


def _wait_until_up(url: str, token: str, deadline: float, process: subprocess.Popen) -> None:
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"})  # noqa: S310
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {process.returncode} before answering")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL we built
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not answer {url} in time")


def _stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def run_load(
    *,
    env: dict[str, str],
    port: int,
    token: str,
    cookie: str,
    queries: list[str],
    ids: list[int],
    bodies: list[str],
    seconds: int = 30,
    connections: int = 4,
    workers: int = 2,
    seed: int = 42,
) -> dict:
    """Serve the app with gunicorn on 127.0.0.1:``port`` and load it with wrk for ``seconds``.

    Args:
        env: the environment for gunicorn (``DATABASE_URL`` and the settings).
        token, cookie: an API token and a ``sessionid=…`` cookie of one user.
        queries, ids, bodies: search strings, post-mortem ids to read, JSON bodies to POST.

    Returns:
        ``{"tool", "workers", "connections", "seconds", "requests", "requests_per_second",
        "latency_ms": {p50, p90, p95, p99, max, mean}, "errors": {...}, "error_total",
        "statuses": {code: n}, "mix"}``.

    Raises:
        RuntimeError: when wrk or gunicorn is missing, gunicorn does not start, or
            wrk's output cannot be read.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    with tempfile.TemporaryDirectory(prefix="kb-bench-load-") as scratch:
        script = write_script(
            Path(scratch), token=token, cookie=cookie, queries=queries, ids=ids, bodies=bodies, seed=seed
        )
        log = open(Path(scratch) / "gunicorn.log", "w+", encoding="utf-8")  # noqa: SIM115 - closed below
        process = subprocess.Popen(  # noqa: S603 - fixed argument list
            [
                gunicorn,
                "kb.wsgi:application",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "60",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(f"http://127.0.0.1:{port}/api/v1/factors/", token, time.monotonic() + 60, process)
            result = subprocess.run(  # noqa: S603 - fixed argument list
                [
                    wrk,
                    "-t1",
                    f"-c{connections}",
                    f"-d{seconds}s",
                    "--timeout",
                    "10s",
                    "-s",
                    str(script),
                    f"http://127.0.0.1:{port}",
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 60,
                check=False,
            )
        finally:
            _stop(process)
            log.seek(0)
            server_log = log.read()[-4000:]
            log.close()
    match = re.search(r"^WRKJSON (.*)$", result.stdout, re.MULTILINE)
    if result.returncode != 0 or match is None:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {result.stdout[-2000:]} {result.stderr[-2000:]}"
        )
    data = json.loads(match.group(1))
    duration = data["duration_us"] / 1e6
    errors = data["errors"]
    statuses = dict(sorted(data["statuses"].items()))
    return {
        "tool": "wrk",
        "server": f"gunicorn {workers} sync workers on 127.0.0.1:{port}",
        "workers": workers,
        "connections": connections,
        "seconds": round(duration, 2),
        "requests": data["requests"],
        "requests_per_second": round(data["requests"] / duration, 1) if duration else 0.0,
        "latency_ms": {k: round(v / 1000, 2) for k, v in data["latency_us"].items()},
        "errors": errors,
        # wrk's "status" error counts responses outside 2xx/3xx.
        "error_total": sum(errors.values()),
        "statuses": statuses,
        "mix": MIX,
        "server_log_tail": server_log if sum(errors.values()) else "",
    }
