"""Pre-flight: before any load, each user class must get one good answer from the target.

A class's check is its method marked with :func:`vaxdrill.locust.preflight` (the built-in pack's
users check the API); without one, vaxdrill runs the class's ``on_start`` and its first task once
and judges the first request that task makes. A failure is one line saying what was tried and what
came back; :func:`locustfiles.lifecycle.install` then ends the process with exit 3 before the load.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import gevent
from locust import TaskSet, User
from locust.env import Environment

from locustfiles.extensions import preflight_method

log = logging.getLogger("vaxdrill")

PREFLIGHT_TIMEOUT_S = 20.0


class _Seen:
    """The requests a check makes, as Locust reports them."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any, Any]] = []

    def __call__(self, request_type: str, name: str, response: Any = None, exception: Any = None, **_: Any) -> None:
        self.requests.append((request_type, name, response, exception))


def _describe(request_type: str, name: str, response: Any, exception: Any) -> tuple[str, str]:
    url = getattr(response, "url", None) or name
    status = getattr(response, "status_code", None)
    answer = f"HTTP {status}" if status else "no answer"
    if exception is not None:
        text = str(exception).splitlines()[0][:160] if str(exception) else type(exception).__name__
        answer = f"{answer}: {text}" if status else f"{type(exception).__name__}: {text}"
    return f"{request_type} {url}", answer


def check_class(environment: Environment, user_class: type[User]) -> str | None:
    """Run ``user_class``'s pre-flight; ``None`` when it passed, else the one-line reason."""
    if environment.host:
        user_class.host = environment.host
    seen = _Seen()
    environment.events.request.add_listener(seen)
    marked = preflight_method(user_class)
    tried = f"{user_class.__name__}'s pre-flight"
    try:
        user = user_class(environment)
        with gevent.Timeout(PREFLIGHT_TIMEOUT_S):
            if marked is not None:
                marked(user)
            else:
                task = user.tasks[0] if user.tasks else None
                if task is None or isinstance(task, TaskSet) or (isinstance(task, type) and issubclass(task, TaskSet)):
                    log.info("vaxdrill pre-flight: %s has no plain first task; not checked", user_class.__name__)
                    return None
                tried = f"{user_class.__name__}'s first task {getattr(task, '__name__', task)!s}"
                user.on_start()
                first = len(seen.requests)
                cast(Callable[[User], None], task)(user)
                seen.requests = seen.requests[first : first + 1]
    except gevent.Timeout:
        return f"pre-flight: {tried} got no answer within {PREFLIGHT_TIMEOUT_S:g} s"
    except Exception as exc:  # the user's own code: any error means the check did not pass
        failed = [r for r in seen.requests if r[3] is not None]
        if failed:
            what, answer = _describe(*failed[0])
            return f"pre-flight: {tried}: {what} -> {answer}"
        return f"pre-flight: {tried} raised {type(exc).__name__}: {str(exc)[:160]}"
    finally:
        environment.events.request.remove_listener(seen)
    failed = [r for r in seen.requests if r[3] is not None]
    if failed:
        what, answer = _describe(*failed[0])
        return f"pre-flight: {tried}: {what} -> {answer}"
    if not seen.requests:
        log.info("vaxdrill pre-flight: %s made no request; not checked", tried)
    return None


def check_all(environment: Environment) -> str | None:
    """Each user class's pre-flight in turn; the first failure's reason, or ``None``."""
    for user_class in environment.user_classes:
        reason = check_class(environment, user_class)
        if reason is not None:
            return reason
    return None
