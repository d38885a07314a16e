"""Prometheus metrics: requests, latency histograms, requests in flight, shed requests, faults.

With ``--workers N`` the server runs prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
is set by ``vaxdrill serve`` before the workers start), so ``/metrics`` from any worker sums all of
them. Active faults are read from the shared fault plan at scrape time.
"""

from __future__ import annotations

import os
from collections import Counter as Tally
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

if TYPE_CHECKING:
    from regserver.faults import ActiveFault

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter("vaxdrill_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "vaxdrill_request_seconds",
    "Time to answer, by route",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
IN_FLIGHT = Gauge("vaxdrill_requests_in_flight", "Requests being answered now", multiprocess_mode="livesum")
SHED = Counter("vaxdrill_requests_shed_total", "Requests refused at once with 503 (in-flight limits)")
CONCURRENCY_LIMIT = Gauge(
    "vaxdrill_concurrency_limit", "Adaptive in-flight limit now (summed over workers)", multiprocess_mode="livesum"
)
RATE_LIMITED = Counter("vaxdrill_requests_rate_limited_total", "Requests refused with 429 (per-IP limit)")
FAULTED = Counter("vaxdrill_requests_faulted_total", "Requests an injected fault acted on", ["kind"])


def render(live: list[ActiveFault]) -> tuple[bytes, str]:
    if MULTIPROCESS:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest()
    kinds = Tally(f.fault.kind for f in live)
    lines = ["# HELP vaxdrill_faults_active Injected faults active now, by kind", "# TYPE vaxdrill_faults_active gauge"]
    for kind in ("outage", "latency", "error_rate", "slow_db", "sms_drop", "sms_delay"):
        lines.append(f'vaxdrill_faults_active{{kind="{kind}"}} {kinds.get(kind, 0)}')
    return body + ("\n".join(lines) + "\n").encode(), CONTENT_TYPE_LATEST
