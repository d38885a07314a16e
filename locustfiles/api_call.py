"""One call to the registration server, the way a careful client makes it.

:func:`call` wraps a Locust ``FastHttpUser`` client: it names the request for Locust's statistics,
marks expected business answers (409 full, 404 not vaccinated) as successes, and retries what is
worth retrying: 429 after ``Retry-After``, 503/502/504 and timeouts after capped exponential
backoff with full jitter, within the user's retry budget (:mod:`vaxdrill.loadtest.retry`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import gevent
import numpy as np

from vaxdrill.core.scenario.loadplan import RetryPolicy
from vaxdrill.loadtest.retry import RetryBudget, full_jitter, parse_retry_after, retryable

PREFIX = "/api/v2"


class Answer:
    """What the server finally said (after retries). ``status`` 0 means no answer (timeout, reset).

    The body is decoded on first use: a slot-watching poll never reads it.
    """

    __slots__ = ("_body", "_content", "attempts", "headers", "status")

    def __init__(self, status: int, content: bytes | None, headers: Any, attempts: int) -> None:
        self.status, self._content, self.headers, self.attempts = status, content, headers, attempts
        self._body: Any = _UNSET

    @property
    def body(self) -> Any:
        if self._body is _UNSET:
            try:
                self._body = json.loads(self._content) if self._content else None
            except (ValueError, TypeError):
                self._body = None
        return self._body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        return self.body.get("errorCode") if isinstance(self.body, dict) else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name) if self.headers is not None else None


_UNSET = object()


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
        if attempt == 1:
            budget.on_request()
        answer = _once(client, method, path, name, body, params, headers, expected, attempt)
        why = retryable(answer.status)
        if not retry or why is None or attempt >= policy.max_attempts:
            return answer
        wait = parse_retry_after(answer.header("retry-after")) if why == "retry_after" else None
        if wait is None:
            wait = full_jitter(policy, attempt, rng)
        if not budget.try_spend():
            return answer
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
    attempt: int,
) -> Answer:
    kwargs: dict[str, Any] = {"name": name}
    if body is not None:
        kwargs["json"] = body
    if params:
        kwargs["params"] = params
    if headers:
        kwargs["headers"] = headers
    if not expected:
        # Locust's own rule (>= 400 or no answer is a failure) is ours too: no catch_response needed.
        resp = client.request(method, PREFIX + path, **kwargs)
        return Answer(int(resp.status_code or 0), resp.content, resp.headers, attempt)
    with client.request(method, PREFIX + path, catch_response=True, **kwargs) as resp:
        status = int(resp.status_code or 0)
        if 200 <= status < 300 or status in expected:
            resp.success()
        else:
            resp.failure(f"HTTP {status}" if status else f"no answer: {getattr(resp, 'error', '')}")
        return Answer(status, resp.content, resp.headers, attempt)
