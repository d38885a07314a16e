"""One call to the registration server, the way a careful client makes it.

:func:`call` wraps a Locust ``FastHttpUser`` client: it names the request for Locust's statistics,
marks expected business answers (409 full, 404 not vaccinated) as successes, and retries what is
worth retrying: 429 after ``Retry-After``, 503/502/504 and timeouts after capped exponential
backoff with full jitter, within the user's retry budget (:mod:`vaxdrill.loadtest.retry`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import gevent
import numpy as np

from vaxdrill.loadtest.retry import RetryBudget, full_jitter, parse_retry_after, retryable
from vaxdrill.scenario.load import RetryPolicy

PREFIX = "/api/v2"


@dataclass
class Answer:
    """What the server finally said (after retries). ``status`` 0 means no answer (timeout, reset)."""

    status: int
    body: Any
    headers: dict[str, str]
    attempts: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        return self.body.get("errorCode") if isinstance(self.body, dict) else None


def call(
    client: Any,
    method: str,
    path: str,
    name: str,
    *,
    policy: RetryPolicy,
    budget: RetryBudget,
    rng: np.random.Generator,
    body: Any = None,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    expected: Collection[int] = (),
    retry: bool = True,
) -> Answer:
    """Make the request, retrying within budget; statuses in ``expected`` count as successes."""
    attempt = 0
    while True:
        attempt += 1
        budget.on_request() if attempt == 1 else None
        status, data, hdrs = _once(client, method, path, name, body, params, headers, expected)
        why = retryable(status)
        if not retry or why is None or attempt >= policy.max_attempts:
            return Answer(status, data, hdrs, attempt)
        if why == "retry_after":
            wait = parse_retry_after(hdrs.get("retry-after"))
            if wait is None:
                wait = full_jitter(policy, attempt, rng)
        else:
            wait = full_jitter(policy, attempt, rng)
        if not budget.try_spend():
            return Answer(status, data, hdrs, attempt)
        gevent.sleep(wait)


def _once(
    client: Any,
    method: str,
    path: str,
    name: str,
    body: Any,
    params: dict[str, Any] | None,
    headers: dict[str, str] | None,
    expected: Collection[int],
) -> tuple[int, Any, dict[str, str]]:
    kwargs: dict[str, Any] = {"name": name, "catch_response": True}
    if body is not None:
        kwargs["json"] = body
    if params:
        kwargs["params"] = params
    if headers:
        kwargs["headers"] = headers
    with client.request(method, PREFIX + path, **kwargs) as resp:
        status = int(resp.status_code or 0)
        try:
            data = json.loads(resp.content) if resp.content and _is_json(resp) else None
        except (ValueError, TypeError):
            data = None
        hdrs = {k.lower(): v for k, v in (resp.headers or {}).items()}
        if 200 <= status < 300 or status in expected:
            resp.success()
        else:
            code = data.get("errorCode") if isinstance(data, dict) else None
            resp.failure(f"HTTP {status}{' ' + code if code else ''}" if status else f"no answer: {resp.error}")
    return status, data, hdrs


def _is_json(resp: Any) -> bool:
    ctype = (resp.headers or {}).get("content-type", "") if resp.headers else ""
    return "json" in ctype
