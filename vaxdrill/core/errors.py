"""Exit codes, and the exceptions that reach the user as one clear message, never a traceback.

Every failure a user should see is a :class:`VaxdrillError`; the command line prints its message and
exits with its :attr:`~VaxdrillError.exit_code`, an :class:`ExitCode` (README, "Exit codes", has the
same table, and a test keeps the two equal). The code says whose move it is: 2 the user's (fix the
file or the option), 3 the machine's (the server, the database or Locust could not run), 97-99 the
system under test's (the run worked and found a failure).

Hierarchy::

    VaxdrillError                  any user-facing failure                        exit 2 (USER_ERROR)
    ├── ScenarioError              a scenario file is missing, unreadable or invalid
    ├── ResultsError               a results folder cannot be written, or is not a vaxdrill run
    │   └── DocumentError          a results document is missing, not JSON, of another version, invalid
    │       └── ProfileError       a server profile (or the run folder it comes from) is not valid
    ├── ProxyConfigError           ``vaxdrill proxy``: a bad ``--config`` file or an address it cannot bind
    ├── FaultFileError             a ``vaxdrill serve --faults`` file is not a list of faults
    ├── HostNotAllowed             ``--host`` is outside this machine and not opted in (``--allow-host``)
    ├── LoopbackError              an address that must be on this machine is not (not the target's)
    ├── FaultPlanError             the scenario plans faults the target offers no fault API for
    ├── SimulationError            the simulation cannot run as asked (no sites, unknown policy)
    ├── ParameterError             a ``--param``/``--decide`` path or value does not fit the scenario
    ├── ArrivalCurveError          the scenario cannot give an arrival curve
    ├── RunError                   vaxdrill could not carry the run out           exit 3 (COULD_NOT_RUN)
    │   ├── ProcessFailed          the server or Locust failed to start or finish
    │   ├── PreflightFailed        a pre-flight check failed, or every request failed for a while
    │   ├── DatabaseUnreachable    ``--db`` cannot be reached or prepared
    │   ├── PhaseFailed            a phase of ``vaxdrill drill`` failed
    │   └── BrowserUnavailable     no Chromium, ChromeDriver or Selenium (the drill skips the check)
    └── Verdict                    the run worked and its verdict fails the job   exit 97, 98 or 99
        ├── SlosFailed             ``loadtest``/``capacity``: an SLO, the integrity check, an abort
        └── DrillFailed            ``drill``: the integrity check, or SLOs with ``--strict``
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``vaxdrill`` command (or plain Locust with the locustfile) exits with."""

    OK = 0
    USER_ERROR = 2
    COULD_NOT_RUN = 3
    ABORTED = 97
    INTEGRITY_FAILED = 98
    SLO_FAILED = 99

    @property
    def meaning(self) -> str:
        """One line, the same as README's exit-code table."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "success",
    ExitCode.USER_ERROR: "the user's mistake",
    ExitCode.COULD_NOT_RUN: "could not run",
    ExitCode.ABORTED: "aborted after a sustained SLO breach",
    ExitCode.INTEGRITY_FAILED: "the integrity check failed",
    ExitCode.SLO_FAILED: "an SLO failed",
}


class VaxdrillError(Exception):
    """Base class. ``exit_code`` is what the command line exits with: a user's mistake unless a subclass says."""

    exit_code: ExitCode = ExitCode.USER_ERROR


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


# -- the user's mistakes (exit 2) ---------------------------------------------------
class ScenarioError(VaxdrillError):
    """A scenario file cannot be used; ``problems`` lists every issue found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class ResultsError(VaxdrillError):
    """A results folder cannot be created or written, or the folder given is not a vaxdrill run."""


class DocumentError(ResultsError):
    """A results document is missing, not JSON, of another kind or version, or invalid."""


class ProfileError(DocumentError):
    """A run folder cannot be turned into a server profile, or a profile file is not valid."""


class ProxyConfigError(VaxdrillError):
    """``vaxdrill proxy``: the ``--config`` file is not a list of proxies, or the address cannot be bound."""


class FaultFileError(VaxdrillError):
    """The ``--faults`` file of ``vaxdrill serve`` cannot be read or is not a list of faults."""


class SecretFileError(VaxdrillError):
    """A secret or staff-accounts file that cannot be read or does not say what is expected."""


class HostNotAllowed(VaxdrillError):
    """``--host`` names a host outside this machine (127.0.0.0/8, ::1) that no opt-in allows."""


class LoopbackError(VaxdrillError):
    """An address that must be on this machine whatever the opt-ins (a control API) is not."""


class FaultPlanError(VaxdrillError):
    """The scenario plans faults the target cannot take (it offers no fault API): nothing was sent."""


class SimulationError(VaxdrillError):
    """The simulation cannot run as asked (a scenario without sites, an unknown policy...)."""


class ParameterError(VaxdrillError):
    """A ``--param``, ``--decide``, ``--minimise`` or ``--subject-to`` (sweep, sensitivity, optimise) is not valid."""


class ArrivalCurveError(VaxdrillError):
    """The scenario cannot give an arrival curve (no sites, unknown policy)."""


# -- could not run (exit 3) ------------------------------------------------------------
class RunError(VaxdrillError):
    """vaxdrill could not carry the run out: a process it started, or a resource it needs, failed."""

    exit_code = ExitCode.COULD_NOT_RUN


class ProcessFailed(RunError):
    """The reference server or Locust failed to start, or did not finish in time."""


class PreflightFailed(RunError):
    """A user class's pre-flight did not get a good answer from the target, or every request failed."""


class DatabaseUnreachable(RunError):
    """The ``--db`` of ``vaxdrill serve`` cannot be reached or prepared."""


class PhaseFailed(RunError):
    """A phase of ``vaxdrill drill`` exited with a code that is not a finding."""


class BrowserUnavailable(RunError):
    """No Chromium, ChromeDriver or Selenium on this machine."""


# -- verdicts (exit 97, 98, 99) ----------------------------------------------------------
class Verdict(VaxdrillError):
    """The run worked, and what it found must fail the job; ``exit_code`` is 97, 98 or 99."""

    def __init__(self, code: ExitCode, message: str) -> None:
        if code not in (ExitCode.ABORTED, ExitCode.INTEGRITY_FAILED, ExitCode.SLO_FAILED):
            raise ValueError(f"{code!r} is not a verdict")
        super().__init__(message)
        self.exit_code = code


class SlosFailed(Verdict):
    """``loadtest`` or ``capacity`` finished, but an SLO, the integrity check or the abort rule failed it."""


class DrillFailed(Verdict):
    """The drill ran and found a failure that must fail the job (integrity, or SLOs with ``--strict``)."""
