"""The polling helper: returns the first true answer, fails at the deadline."""

from __future__ import annotations

import itertools

import pytest

from tests.polling import wait_until


def test_returns_the_first_true_answer_without_waiting_longer() -> None:
    calls = itertools.count(1)
    assert wait_until(lambda: next(calls) >= 3 and "ready", timeout=5, interval=0) == "ready"
    assert next(calls) == 4  # called exactly three times


def test_fails_at_the_deadline_naming_what_it_waited_for() -> None:
    with pytest.raises(pytest.fail.Exception, match=r"gave up after 0\.1 s waiting for the server"):
        wait_until(lambda: False, timeout=0.1, interval=0.01, what="the server")
