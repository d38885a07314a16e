"""What a locustfile can tell vaxdrill beyond plain Locust: metrics, a ledger and its verifier, a pre-flight.

The public face is :mod:`vaxdrill.locust` (documented there and in README); this module holds the
parts the run's machinery reads (:mod:`locustfiles.lifecycle`, :mod:`locustfiles.preflight`,
:mod:`locustfiles.run_end`). Every call is a no-op when the locustfile runs under plain Locust
(no run context on the environment), so a locustfile that uses them still runs without vaxdrill.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from locust.env import Environment

from locustfiles.run_context import RunContext

PREFLIGHT_MARK = "__vaxdrill_preflight__"

# Ledger entries -> verdict. A verifier is declared at the locustfile's import (module level), before
# any environment exists, so the declared verifiers live here; each run reads them at install.
Verifier = Callable[[list[dict[str, Any]], str], dict[str, Any]]
_VERIFIERS: list[Verifier] = []

F = TypeVar("F", bound=Callable[..., Any])


def context_of(owner: Any) -> RunContext | None:
    """The run context of a user, a task set or an environment; ``None`` under plain Locust."""
    environment = owner if isinstance(owner, Environment) else getattr(owner, "environment", None)
    ctx = getattr(environment, "vaxdrill_context", None)
    return ctx if isinstance(ctx, RunContext) else None


def observe(owner: Any, name: str, ms: float) -> None:
    """Record one value of a custom latency-like metric ``name`` (milliseconds, full precision)."""
    ctx = context_of(owner)
    if ctx is not None:
        ctx.observe(name, ms)


def count(owner: Any, name: str, amount: float = 1.0) -> None:
    """Add ``amount`` to the custom counter ``name``."""
    ctx = context_of(owner)
    if ctx is not None:
        ctx.count(name, amount)


def record(owner: Any, entry: dict[str, Any]) -> None:
    """Append ``entry`` (JSON-serialisable) to the run's ledger, gathered from every worker at the end."""
    ctx = context_of(owner)
    if ctx is not None:
        ctx.ledger.append(dict(entry))


def verifier(func: Verifier) -> Verifier:
    """Declare the integrity check: ``func(ledger, host)`` returns ``{"passed": bool, ...details}``."""
    _VERIFIERS.append(func)
    return func


def verifiers() -> list[Verifier]:
    return list(_VERIFIERS)


def preflight(func: F) -> F:
    """Mark a user method as the class's pre-flight check (instead of one request of its first task)."""
    setattr(func, PREFLIGHT_MARK, True)
    return func


def preflight_method(user_class: type) -> Callable[[Any], Any] | None:
    """The method marked with :func:`preflight` on ``user_class`` (or a base), if any."""
    for klass in user_class.__mro__:
        for value in vars(klass).values():
            if callable(value) and getattr(value, PREFLIGHT_MARK, False):
                return value
    return None
