"""Base model for scenario sections: unknown keys are errors, not silently ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A scenario section. A misspelt key is reported (with a suggestion) rather than dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
