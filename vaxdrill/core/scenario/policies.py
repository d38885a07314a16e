"""Fallback policies: when a session site stops waiting for the system and goes to paper.

This is the planners' question. Each policy is a rule (the ``rule`` key picks it):

- ``wait``: hold every step that needs the system until it answers again.
- ``offline_after``: once an outage has lasted ``after``, plus ``escalation`` for the order to
  arrive (the "instruction from seniors"), switch to paper; switch back once the system has been
  stable for ``back_after``.
- ``offline_at``: switch to paper at a clock time (to replay what happened).
- ``offline_first``: paper all day; every record is entered later.
- ``offline_when_queue``: switch when the queue waiting for the system reaches ``queue_length``
  while the system is failing (a site-level trigger a supervisor can see).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.units import ClockTime, Duration


class Wait(Strict):
    rule: Literal["wait"]
    description: str = ""


class OfflineAfter(Strict):
    rule: Literal["offline_after"]
    after: Duration = Field(gt=0, description="Outage length that triggers the switch.")
    escalation: Duration = Field(0.0, ge=0, description="Delay for the order to reach the site.")
    back_after: Duration = Field(900.0, gt=0, description="Stable time before returning online.")
    description: str = ""


class OfflineAt(Strict):
    rule: Literal["offline_at"]
    at: ClockTime
    description: str = ""


class OfflineFirst(Strict):
    rule: Literal["offline_first"]
    description: str = ""


class OfflineWhenQueue(Strict):
    rule: Literal["offline_when_queue"]
    queue_length: int = Field(ge=1)
    back_after: Duration = Field(900.0, gt=0)
    description: str = ""


Policy = Annotated[
    Wait | OfflineAfter | OfflineAt | OfflineFirst | OfflineWhenQueue,
    Field(discriminator="rule"),
]
"""A fallback policy; ``rule`` selects the kind."""
