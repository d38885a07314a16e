"""Scenario files: YAML parsed into pydantic models (see :class:`Scenario`)."""

from vaxdrill.scenario.distributions import Distribution
from vaxdrill.scenario.loader import load_scenario
from vaxdrill.scenario.model import Scenario
from vaxdrill.scenario.sites import Site

__all__ = ["Distribution", "Scenario", "Site", "load_scenario"]
