"""The scenario: one YAML file for the planner's simulation and the engineer's load test.

Every section is optional except ``name``; a command complains only about the sections it needs
(see :meth:`Scenario.require`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from pydantic import Field, model_validator

from vaxdrill.core.scenario.base import Strict
from vaxdrill.core.scenario.loadplan import Fault, LoadProfile, Slo, Target
from vaxdrill.core.scenario.policies import DistrictOrder, Policy
from vaxdrill.core.scenario.quality import DataQuality, Reporting
from vaxdrill.core.scenario.sites import Site
from vaxdrill.core.scenario.system import Server, Sms
from vaxdrill.core.scenario.units import ClockTime

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class Scenario(Strict):
    """A launch day: sites and their failures, fallback policies, load profile, SLOs, faults."""

    name: str = Field(description="Short name, used in results folder names (letters, digits, . _ -).")
    description: str = ""
    date: dt.date | None = None
    seed: int = Field(1, ge=0, description="Root seed of every random stream.")
    replications: int = Field(20, ge=1, le=10_000, description="Replications per policy (at most 10,000).")
    checkpoints: list[ClockTime] = Field(default_factory=list, description="Report vaccinated-by at these times.")
    site_defaults: dict[str, Any] = Field(
        default_factory=dict, description="Fields every site takes unless it sets its own (deep-merged)."
    )
    sites_csv: str | None = Field(None, description="CSV of further sites, relative to the scenario file.")
    sites: list[Site] = Field(default_factory=list, max_length=5_000, description="At most 5,000 sites.")
    server: Server = Field(default_factory=Server)
    sms: Sms = Field(default_factory=Sms)
    policies: dict[str, Policy] = Field(default_factory=dict, max_length=50)
    load: LoadProfile | None = None
    slos: list[Slo] = Field(default_factory=list, max_length=200)
    faults: list[Fault] = Field(default_factory=list, max_length=200)
    target: Target = Field(default_factory=Target, description="Hosts a load test may reach beyond this machine.")
    data_quality: DataQuality | None = Field(
        None, description="Duplicates, wrong marks and reconciliation growing with mode switches (none: not reported)."
    )
    reporting: Reporting | None = Field(
        None, description="The day's reporting time and the next day's deadline (none: not reported)."
    )

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        if not _NAME.match(self.name):
            raise ValueError(f"name must be letters, digits, '.', '_' or '-', found {self.name!r}")
        seen: set[str] = set()
        for site in self.sites:
            if site.name in seen:
                raise ValueError(f"two sites are named {site.name!r}; site names must be unique")
            seen.add(site.name)
        for name, policy in self.policies.items():
            if isinstance(policy, DistrictOrder) and policy.sites_failed > len(self.sites):
                raise ValueError(
                    f"policies.{name}.sites_failed: expected at most the {len(self.sites)} site(s), "
                    f"found {policy.sites_failed}"
                )
            flow = next((s.name for s in self.sites if s.flow), None)
            if flow is not None and policy.hybrid:  # which flow station would enter the records?
                raise ValueError(
                    f"policies.{name}.hybrid: expected no hybrid with `flow:` sites "
                    f"(site {flow!r} has a flow; hybrid needs the MoHFW team's recording station)"
                )
        return self

    def require(self, *sections: str) -> None:
        """Raise ValueError naming the first section a command needs and the scenario lacks."""
        for section in sections:
            value = getattr(self, section)
            if value in (None, [], {}):
                raise ValueError(f"this command needs the `{section}` section, which the scenario lacks")
