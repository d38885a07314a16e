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
- ``district_order``: paper once ``sites_failed`` sites of the district have failed, the order
  reaching each site after its own random delay.
- ``offline_when_slow``: switch on performance, not only on outages: the time per transaction or
  the share of failed attempts over a sliding ``window`` (issue 19: on launch day the server was
  slow or failed per beneficiary more often than it was down), with hysteresis (back online only
  once the signal falls to ``back_at`` of the threshold), a minimum ``min_dwell`` in each mode, and
  optionally ``stay_on_paper``.

Every rule also takes two options (issue 19, :class:`Options`): ``hybrid`` (verify on paper, record
online later the same day) and ``postpone_share`` (send a share of those who arrive during a
fallback or outage home with a new appointment).

Per beneficiary, ``paper_after_tries`` (any rule but ``offline_first`` / ``offline_at``) puts one
person on paper after that many failed attempts, while the site stays online for everyone else.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.distributions import Dist
from vaxdrill.core.scenario.units import ClockTime, Duration, Share


class Options(Strict):
    """Options every rule takes: what happens to paper records, and postponement (issue 19)."""

    hybrid: bool = Field(
        False,
        description=(
            "Verify on paper, record online later the same day: the recording staff enter each paper "
            "record online once the site is online and the system answers, until `record_by`; "
            "records still waiting then are left for back-entry."
        ),
    )
    record_by: ClockTime | None = Field(
        None, description="Hybrid: last time for same-day online entry (none: the end of the simulated day)."
    )
    postpone_share: Share = Field(
        0.0,
        description=(
            "Share of those arriving while the site is on paper or the system is down who are sent "
            "home with a new appointment (rebooked), drawn per beneficiary."
        ),
    )


class Wait(Options):
    rule: Literal["wait"]
    description: str = ""
    paper_after_tries: int | None = Field(
        None, ge=1, le=100, description="Paper for a beneficiary after this many failed attempts (none: never)."
    )


class OfflineAfter(Options):
    rule: Literal["offline_after"]
    after: Duration = Field(gt=0, description="Outage length that triggers the switch.")
    escalation: Duration = Field(0.0, ge=0, description="Delay for the order to reach the site.")
    back_after: Duration = Field(900.0, gt=0, description="Stable time before returning online.")
    description: str = ""
    paper_after_tries: int | None = Field(
        None, ge=1, le=100, description="Paper for a beneficiary after this many failed attempts (none: never)."
    )


class OfflineAt(Options):
    rule: Literal["offline_at"]
    at: ClockTime
    description: str = ""


class OfflineFirst(Options):
    rule: Literal["offline_first"]
    description: str = ""


class OfflineWhenQueue(Options):
    rule: Literal["offline_when_queue"]
    queue_length: int = Field(ge=1)
    back_after: Duration = Field(900.0, gt=0)
    min_dwell: Duration = Field(
        0.0, ge=0, description="Least time on paper once switched (0: back as soon as the system is stable)."
    )
    description: str = ""
    paper_after_tries: int | None = Field(
        None, ge=1, le=100, description="Paper for a beneficiary after this many failed attempts (none: never)."
    )


class OfflineWhenSlow(Options):
    """Paper when the system is too slow or fails too often over a window, with hysteresis.

    The signal is what a transaction started at each minute would meet, from the site's
    availability timeline and the server's latency (see :mod:`simulation.triggers`): the mean time
    per attempt (latency, capped at the timeout) or the share of attempts that fail. The site goes
    to paper when the window's signal reaches the threshold and returns once it has fallen to
    ``back_at`` x the threshold; each mode lasts at least ``min_dwell``.
    """

    rule: Literal["offline_when_slow"]
    slower_than: Duration | None = Field(
        None, gt=0, description="Paper when the mean time per attempt over the window reaches this."
    )
    failing_share: float | None = Field(
        None, gt=0, le=1, description="Paper when this share of attempts over the window fails (0-1]."
    )
    window: Duration = Field(600.0, gt=0, le=6 * 3600, description="Sliding window the signal is averaged over.")
    back_at: float = Field(
        0.5, ge=0, lt=1, description="Hysteresis: back online when the signal is at most this share of the threshold."
    )
    min_dwell: Duration = Field(1800.0, gt=0, description="Least time in a mode before switching again.")
    escalation: Duration = Field(0.0, ge=0, description="Delay for a decision to take effect at the site.")
    stay_on_paper: bool = Field(False, description="Once on paper, stay on paper for the rest of the day.")
    description: str = ""
    paper_after_tries: int | None = Field(
        None, ge=1, le=100, description="Paper for a beneficiary after this many failed attempts (none: never)."
    )

    @model_validator(mode="after")
    def _threshold(self) -> OfflineWhenSlow:
        if self.slower_than is None and self.failing_share is None:
            raise ValueError("offline_when_slow needs `slower_than` or `failing_share` (or both)")
        return self


class DistrictOrder(Options):
    """A district-wide order to go to paper once ``sites_failed`` sites have failed.

    A site has failed once its system has been down for ``after`` (noticed from opening). The order
    is given when the ``sites_failed``-th site fails and reaches each site after its own random
    ``delay`` (issue 19: the order reached sites at different times); the site then stays on paper.
    """

    rule: Literal["district_order"]
    sites_failed: int = Field(ge=1, le=10_000, description="The order is given when this many sites have failed.")
    after: Duration = Field(1800.0, gt=0, description="A site has failed once it has been down this long.")
    delay: Dist = Field(description="Delay for the order to reach each site, drawn per site.")
    description: str = ""
    paper_after_tries: int | None = Field(
        None, ge=1, le=100, description="Paper for a beneficiary after this many failed attempts (none: never)."
    )


Policy = Annotated[
    Wait | OfflineAfter | OfflineAt | OfflineFirst | OfflineWhenQueue | OfflineWhenSlow | DistrictOrder,
    Field(discriminator="rule"),
]
"""A fallback policy; ``rule`` selects the kind."""
