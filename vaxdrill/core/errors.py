"""Exceptions that reach the user as a clear message and a non-zero exit, never a traceback.

Hierarchy::

    VaxdrillError              any user-facing failure; exit code 2 unless set otherwise
    ├── ScenarioError          a scenario file is missing, unreadable or invalid
    ├── ResultsError           a results folder cannot be written or read
    └── RunError               an external process (server, Locust) failed to start or finish
"""

from __future__ import annotations

from dataclasses import dataclass


class VaxdrillError(Exception):
    """Base class. ``exit_code`` is what the command line exits with."""

    exit_code: int = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ScenarioError(VaxdrillError):
    """A scenario file cannot be used; ``problems`` lists every issue found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ResultsError(VaxdrillError):
    """A results folder cannot be created, written or read."""


class RunError(VaxdrillError):
    """A process vaxdrill started (the server, Locust) failed."""
