"""Online or on paper: a site's working mode, and the events that announce a change.

A site starts online. Its policy's switches (:mod:`simulation.policies`) or, for
``offline_when_queue``, the queue in front of the system (:mod:`simulation.site`) move it to paper
and back. Processes that wait for a change wait on an event: a beneficiary held by an unreachable
system on :attr:`Mode.paper_event` (the operator takes out the paper forms), the back-entry clerk
on :attr:`Mode.online_event` (records can be entered again). Each event fires once, on the change,
and is then replaced by a fresh one for the next change.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from simulation.policies import Switch


class Mode:
    """Whether the site works on paper (:attr:`paper`), with one event per direction of change."""

    __slots__ = ("changes", "env", "online_event", "paper", "paper_event")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.paper = False
        self.paper_event = env.event()
        self.online_event = env.event()
        self.changes: list[tuple[float, bool]] = []  # (clock time, paper?) of every change, in order

    def set(self, paper: bool) -> None:
        """Go to paper (True) or back online (False); wake whoever waits for that change."""
        if paper == self.paper:
            return
        self.paper = paper
        self.changes.append((self.env.now, paper))
        if paper:
            ev, self.paper_event = self.paper_event, self.env.event()
        else:
            ev, self.online_event = self.online_event, self.env.event()
        ev.succeed()

    def follow(self, switches: list[Switch]) -> Generator[simpy.Event, Any, None]:
        """Process: apply ``(clock time, paper?)`` switches at their times, in order."""
        env = self.env
        for t, paper in switches:
            if t > env.now:
                yield env.timeout(t - env.now)
            self.set(paper)
