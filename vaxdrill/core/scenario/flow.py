"""A site's station flow: the named stations a beneficiary passes, in order, with routing.

Without ``flow`` a site runs the MoHFW five-person team (``stations``: entry, verification,
vaccination, observation, recording). With ``flow`` it runs any list of stations, for example a
CDC-style US clinic (check-in, screening, vaccination, 15-minute observation)::

    flow:
      - {name: check_in, staff: 2, service: exp(1min)}
      - {name: screening, staff: 2, service: 1min + exp(1min), needs_system: true}
      - {name: vaccination, staff: 4, service: 2min + exp(1min)}
      - {name: observation, staff: 0, service: 15min}      # self-service: no queue, no staff

A station may be visited with a ``probability`` (otherwise skipped), may route onwards with
``next: {station: share, ...}`` (the rest of the share leaves the site; stations named in ``next``
must come later in the list, so a flow is a small acyclic graph), may serve a ``batch`` of up to N
waiting beneficiaries together (a group session, one service time for the group), and with
``staff: 0`` is self-service (every beneficiary served at once, nobody queues). Exactly one station
vaccinates: the one marked ``vaccinates: true``, else the one named ``vaccination``.
"""

from __future__ import annotations

import re

from pydantic import Field, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.distributions import Dist
from vaxdrill.core.scenario.units import Share

MAX_FLOW = 20
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class FlowStation(Strict):
    """One station of a flow: ``staff`` in parallel (0 = self-service), each taking ``service``."""

    name: str = Field(description="Lower-case letters, digits and _ (used in metric names).")
    staff: int = Field(1, ge=0, le=1_000, description="Staff in parallel; 0 = self-service (no queue).")
    service: Dist
    needs_system: bool = Field(False, description="Each visit performs a registration-system transaction.")
    paper_service: Dist | None = Field(None, description="Service time on paper (defaults to `service`).")
    probability: Share = Field(1.0, description="Chance a beneficiary reaching this station visits it.")
    next: dict[str, Share] | None = Field(
        None, description="Where to go after this station, by share; the rest leaves. Default: the next station."
    )
    batch: int = Field(1, ge=1, le=1_000, description="Serve up to this many waiting beneficiaries together.")
    vaccinates: bool = Field(False, description="The station where the dose is given (default: `vaccination`).")

    @model_validator(mode="after")
    def _check(self) -> FlowStation:
        if not _NAME.match(self.name):
            raise ValueError(f"a station name is lower-case letters, digits and _, found {self.name!r}")
        if self.staff == 0 and (self.needs_system or self.batch > 1):
            raise ValueError(f"station {self.name}: a self-service station (staff 0) cannot need the system or batch")
        if self.batch > 1 and self.needs_system:
            raise ValueError(f"station {self.name}: a batch (group) station cannot need the system")
        if self.next is not None and sum(self.next.values()) > 1.0 + 1e-9:
            raise ValueError(f"station {self.name}: the shares in `next` add up to more than 100%")
        return self


def vaccinating(flow: list[FlowStation]) -> int:
    """Index of the station that gives the dose."""
    marked = [i for i, s in enumerate(flow) if s.vaccinates]
    if marked:
        return marked[0]
    return next(i for i, s in enumerate(flow) if s.name == "vaccination")


def check_flow(flow: list[FlowStation]) -> None:
    """Raise ValueError unless the flow is usable: unique names, one vaccination, forward routing."""
    if not flow:
        raise ValueError("a flow needs at least one station")
    if len(flow) > MAX_FLOW:
        raise ValueError(f"a flow has at most {MAX_FLOW} stations")
    names = [s.name for s in flow]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"two flow stations are named {name!r}")
    marked = [s.name for s in flow if s.vaccinates]
    if len(marked) > 1:
        raise ValueError(f"only one station vaccinates; marked: {', '.join(marked)}")
    if not marked and "vaccination" not in names:
        raise ValueError("no station vaccinates: name one `vaccination` or mark it `vaccinates: true`")
    vac = flow[vaccinating(flow)]
    if vac.probability < 1.0:
        raise ValueError(f"station {vac.name} vaccinates, so every beneficiary visits it (probability 100%)")
    if vac.batch > 1 or vac.staff == 0:
        raise ValueError(f"station {vac.name} vaccinates: it needs staff and serves one at a time")
    for i, s in enumerate(flow):
        for target in s.next or {}:
            if target not in names[i + 1 :]:
                raise ValueError(
                    f"station {s.name}: `next` names {target!r}, which is not a later station "
                    f"(later: {', '.join(names[i + 1 :]) or 'none'})"
                )


def expected_visits(flow: list[FlowStation]) -> list[float]:
    """Expected visits per arriving beneficiary to each station (routing and visit probabilities)."""
    reach = [0.0] * len(flow)
    reach[0] = 1.0
    visits = [0.0] * len(flow)
    for i, s in enumerate(flow):
        visits[i] = reach[i] * s.probability
        if s.next is None:
            if i + 1 < len(flow):
                reach[i + 1] += reach[i]  # visited or skipped, they go on to the next station
        else:
            skipped = reach[i] * (1.0 - s.probability)
            if i + 1 < len(flow):
                reach[i + 1] += skipped
            for target, share in s.next.items():
                reach[[f.name for f in flow].index(target)] += visits[i] * share
    return visits
