"""Waiting in tests: poll a condition until a deadline instead of sleeping a fixed time.

A fixed sleep is either too short on a busy machine (a flaky test) or too long everywhere (a slow one);
polling returns as soon as the condition holds and fails with what was awaited when it never does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05, what: str = "") -> T:
    """Call ``predicate`` every ``interval`` seconds until it returns something true, and return that.

    Fails the test once ``timeout`` seconds have passed without it (``what`` names the condition).
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what or 'the condition'}", pytrace=False)
        time.sleep(interval)
