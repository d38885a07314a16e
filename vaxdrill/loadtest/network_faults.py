"""Network faults of a fault plan (``kind: network``): toxics added to, and removed from, the run's proxy.

The load goes through a Toxiproxy (or ``vaxdrill proxy``) in front of the target
(:func:`vaxdrill.loadtest.toxiproxy.route`). At ``at`` seconds after the start a fault's toxic is added
(``toxic: down`` disables the proxy instead); ``duration`` seconds after it was actually added it is
removed. Both moments are recorded as they happened, so the fault table's before, during and after
windows are the fault's real ones. :func:`run_plan` keeps time with the clock and sleep it is given (the
Locust glue passes gevent's), so it is the same code in a test and in a run.

Each fault's record (``drill-raw.json`` ``faults_applied``) carries its ``index`` in the plan,
``applied_at_s``, ``removed_at_s``, ``ok`` and ``error``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from vaxdrill.core.scenario.loadplan import Fault

WAKE_S = 0.25  # how often a wait looks whether the run is ending


class ToxiproxyApi(Protocol):
    """The part of :class:`~vaxdrill.loadtest.toxiproxy.Toxiproxy` that faults need."""

    def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> dict[str, Any]: ...

    def remove_toxic(self, proxy: str, toxic: str) -> None: ...

    def set_enabled(self, name: str, enabled: bool) -> None: ...


def network_faults(faults: Sequence[Fault]) -> list[tuple[int, Fault]]:
    """The plan's network faults with their index in the plan."""
    return [(i, f) for i, f in enumerate(faults) if f.kind == "network"]


def toxic_name(index: int, fault: Fault) -> str:
    return f"vaxdrill_{index}_{fault.toxic}"


def toxic_body(index: int, fault: Fault) -> dict[str, Any]:
    """The ``POST /proxies/{proxy}/toxics`` body of a network fault (every attribute given, unset ones 0)."""
    from vaxdrill.core.scenario.loadplan import TOXIC_ATTRIBUTES

    assert fault.toxic is not None and fault.toxic != "down"
    return {
        "name": toxic_name(index, fault),
        "type": fault.toxic,
        "stream": fault.stream,
        "toxicity": fault.toxicity,
        "attributes": {key: int(fault.attributes.get(key, 0)) for key in TOXIC_ATTRIBUTES[fault.toxic]},
    }


class NetworkFaults:
    """Adds and removes the plan's toxics on one proxy, recording when each really took effect."""

    def __init__(self, api: ToxiproxyApi | None, proxy: str, clock: Callable[[], float]) -> None:
        self.api, self.proxy, self.clock = api, proxy, clock
        self.active: dict[int, tuple[Fault, dict[str, Any]]] = {}

    def apply(self, index: int, fault: Fault) -> dict[str, Any]:
        info: dict[str, Any] = {"index": index, "kind": "network", "toxic": fault.toxic, "ok": False}
        try:
            if self.api is None:
                raise RuntimeError("no proxy in front of the target (run it with `vaxdrill loadtest`)")
            if fault.toxic == "down":
                self.api.set_enabled(self.proxy, False)
            else:
                self.api.add_toxic(self.proxy, toxic_body(index, fault))
            info["ok"] = True
            self.active[index] = (fault, info)
        except Exception as exc:  # the fault is reported as not applied; the run goes on
            info["error"] = str(exc)
        info["applied_at_s"] = round(self.clock(), 3)  # after the answer: from here on the fault is in place
        return info

    def remove(self, index: int) -> None:
        item = self.active.pop(index, None)
        if item is None:
            return
        fault, info = item
        try:
            assert self.api is not None
            if fault.toxic == "down":
                self.api.set_enabled(self.proxy, True)
            else:
                self.api.remove_toxic(self.proxy, toxic_name(index, fault))
        except Exception as exc:
            info["error"] = f"could not remove it: {exc}"
        info["removed_at_s"] = round(self.clock(), 3)

    def remove_all(self) -> None:
        """The run ends: lift every fault still in place, so the drain and the integrity check get through."""
        for index in list(self.active):
            self.remove(index)


def run_plan(
    faults: NetworkFaults,
    plan: Sequence[tuple[int, Fault]],
    record: Callable[[dict[str, Any]], None],
    sleep: Callable[[float], None],
    stopping: Callable[[], bool],
) -> None:
    """Apply each fault at its ``at`` and remove it ``duration`` after it took effect, until ``stopping()``.

    ``record`` receives each fault's record when it is applied (its removal is added to it later).
    """
    due: list[tuple[float, int, int]] = [(fault.at, 1, index) for index, fault in plan]  # (when, 0 remove/1 add, i)
    heapq.heapify(due)
    by_index = dict(plan)
    while due:
        when, action, index = heapq.heappop(due)
        while (wait := when - faults.clock()) > 0:
            if stopping():
                return
            sleep(min(wait, WAKE_S))
        if stopping():
            return
        if action == 0:
            faults.remove(index)
            continue
        fault = by_index[index]
        info = faults.apply(index, fault)
        record(info)
        if info["ok"]:
            heapq.heappush(due, (info["applied_at_s"] + fault.duration, 0, index))
