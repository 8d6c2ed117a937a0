"""Timings and SQL query counts, in-process through Django's test client.

Latencies are wall-clock milliseconds around one call (``time.perf_counter``);
percentiles are nearest-rank. API and pages go through Django's test
``Client`` — the whole middleware, DRF and template stack, without a socket —
with a token (``Authorization: Token …``) for the API and a session for the
pages. The socket and the WSGI server are measured separately, under load
(``bench.throughput``).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of ``samples`` (``fraction`` in 0..1); 0.0 for no samples."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summary(samples: list[float]) -> dict[str, float]:
    """``{n, p50, p95, p99, mean}`` of millisecond samples, rounded to 0.01 ms."""
    return {
        "n": len(samples),
        "p50": round(percentile(samples, 0.50), 2),
        "p95": round(percentile(samples, 0.95), 2),
        "p99": round(percentile(samples, 0.99), 2),
        "mean": round(statistics.fmean(samples), 2) if samples else 0.0,
    }


def timed(call: Callable[[], object]) -> tuple[float, object]:
    """``(milliseconds, result)`` of one call."""
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


def count_queries(call: Callable[[], object]) -> tuple[int, object]:
    """``(number of SQL statements, result)`` of one call on the default connection."""
    with CaptureQueriesContext(connection) as captured:
        result = call()
    return len(captured.captured_queries), result


@contextmanager
def statement_counter():
    """Count SQL statements cheaply (no capture of their text) while the block runs.

    Yields:
        A one-item list whose element is the running count.
    """
    counter = [0]

    def wrapper(execute, sql, params, many, context):
        counter[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(wrapper):
        yield counter
