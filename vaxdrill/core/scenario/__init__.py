"""Scenario files: YAML parsed into pydantic models (see :class:`Scenario`)."""

from vaxdrill.core.scenario.distributions import Distribution
from vaxdrill.core.scenario.loader import load_scenario
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.scenario.sites import Site

__all__ = ["Distribution", "Scenario", "Site", "load_scenario"]
