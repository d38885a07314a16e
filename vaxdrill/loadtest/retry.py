"""How simulated clients retry, so that retries do not become a storm.

- 429 with ``Retry-After``: wait what the server asked (capped), then retry.
- 503 and timeouts: capped exponential backoff with *full jitter* (AWS Architecture Blog,
  "Exponential Backoff and Jitter"): sleep ``uniform(0, min(cap, base * 2**attempt))``.
- A **retry budget** (token bucket, as in gRPC and Finagle): each first attempt adds ``budget``
  tokens, each retry spends one. When the server fails everything, retries fall to ``budget`` of
  the traffic instead of multiplying it.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, field

import numpy as np

from vaxdrill.core.scenario.loadplan import RetryPolicy

RETRY_AFTER_CAP_S = 60.0


def full_jitter(policy: RetryPolicy, attempt: int, rng: np.random.Generator) -> float:
    """Seconds to sleep before retry number ``attempt`` (1 = first retry)."""
    ceiling = min(policy.cap, policy.base * (2.0 ** max(attempt - 1, 0)))
    return float(rng.uniform(0.0, ceiling))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); ``None`` if absent/bad."""
    if not value:
        return None
    text = value.strip()
    try:
        return min(max(float(text), 0.0), RETRY_AFTER_CAP_S)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None
    return min(max(when - (time.time() if now is None else now), 0.0), RETRY_AFTER_CAP_S)


@dataclass
class RetryBudget:
    """Token bucket shared by one user's requests: first attempts earn, retries spend."""

    ratio: float
    max_tokens: float = 10.0
    tokens: float = field(default=10.0)
    retries: int = 0
    refused: int = 0

    def on_request(self) -> None:
        self.tokens = min(self.max_tokens, self.tokens + self.ratio)

    def try_spend(self) -> bool:
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            self.retries += 1
            return True
        self.refused += 1
        return False


def retryable(status: int) -> str | None:
    """``"retry_after"`` for 429, ``"backoff"`` for 502/503/504 and timeouts (status 0), else ``None``."""
    if status == 429:
        return "retry_after"
    if status in (0, 502, 503, 504):
        return "backoff"
    return None


# How long a vaccinator keeps asking about its own dose while the server says the key is in flight:
# past the reference server's 30 s lease (a key whose request died in a crash is free after it).
IN_FLIGHT_PATIENCE_S = 45.0


def in_flight_wait(retry_after: str | None, waited_s: float, patience_s: float = IN_FLIGHT_PATIENCE_S) -> float | None:
    """Seconds to wait before asking again after 409 ``IDEMPOTENCY_IN_FLIGHT``; ``None``: stop, use paper.

    The server's ``Retry-After`` (the seconds left on the key's lease) is honoured; without one, 1 s.
    Waiting stops once ``waited_s`` plus the next wait would pass ``patience_s``.
    """
    wait = parse_retry_after(retry_after)
    wait = 1.0 if wait is None else max(wait, 0.1)
    return wait if waited_s + wait <= patience_s else None
