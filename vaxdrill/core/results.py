"""Results folders: ``results/<UTC timestamp>-<scenario name>/``, one per run, never overwritten.

Each folder holds ``run.json`` (the resolved scenario, vaxdrill version, seed, command line,
start and end time) and whatever the command produces. See ``results/README.md``.

A run that fails says so in its ``run.json`` (``failure``: the reason and exit code, see
:func:`fail_open_runs`); such a folder may be given again as ``--out``: the retry replaces it.
Folders are made absolute when created, so child processes never depend on the current folder.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shlex
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaxdrill.core.errors import ResultsError
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.version import __version__

DEFAULT_ROOT = Path("results")
_OPEN: list[RunFolder] = []  # created, not yet finished: marked failed if the command ends in an error


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, then rename), so a crash never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _claim(base: Path) -> Path:
    """Create ``base``, or ``base-2``, ``base-3``, ... if taken: two runs in the same second (two
    processes, e.g. parallel tests) each get a folder of their own, as creating one is atomic."""
    path, n = base, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        except OSError as exc:
            raise ResultsError(f"{path}: cannot create the results folder: {exc}") from None


@dataclass
class RunFolder:
    """A run's results folder; :meth:`finish` stamps the end time into ``run.json``."""

    path: Path
    command: str
    scenario: Scenario
    seed: int
    started: dt.datetime = field(default_factory=_utc_now)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(
        cls, scenario: Scenario, command: str, seed: int, root: Path | None = None, out: Path | None = None
    ) -> RunFolder:
        """Make a new folder under ``root`` (or exactly ``out``); refuse to reuse a non-empty one."""
        started = _utc_now()
        if out is not None:
            path = Path(os.path.abspath(out.expanduser()))
            if path.exists() and not path.is_dir():
                raise ResultsError(f"{path}: not a folder; --out needs a new or empty folder")
            if path.exists() and any(path.iterdir()):
                _check_reusable(path)
                shutil.rmtree(path)  # a failed attempt, which run.json records: the retry replaces it
        else:
            base = Path(os.path.abspath(root or DEFAULT_ROOT)) / f"{started.strftime('%Y%m%dT%H%M%SZ')}-{scenario.name}"
            path = _claim(base)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResultsError(f"{path}: cannot create the results folder: {exc}") from None
        run = cls(path=path, command=command, scenario=scenario, seed=seed, started=started)
        run.write_manifest(finished=None)
        _OPEN.append(run)
        return run

    def write_manifest(self, finished: dt.datetime | None) -> None:
        manifest = {
            "schema": "vaxdrill.run/1",
            "command": self.command,
            "argv": sys.argv,
            "vaxdrill_version": __version__,
            "python": platform.python_version(),
            "seed": self.seed,
            "started_utc": self.started.isoformat(),
            "finished_utc": finished.isoformat() if finished else None,
            "scenario": self.scenario.model_dump(mode="json"),
            **self.extra,
        }
        write_json(self.path / "run.json", manifest)

    def finish(self, **extra: Any) -> None:
        self.extra.update(extra)
        self.write_manifest(finished=_utc_now())
        _OPEN[:] = [run for run in _OPEN if run is not self]

    def fail(self, reason: str, exit_code: int) -> None:
        """Record in ``run.json`` that the run failed, and why; a later run may reuse the folder."""
        self.finish(failure={"reason": reason, "exit_code": exit_code})


def fail_open_runs(reason: str, exit_code: int) -> None:
    """Mark every run created in this process and not finished as failed (the command ends in an error)."""
    for run in list(_OPEN):
        if run.path.is_dir():
            run.fail(reason, exit_code)
        else:
            _OPEN.remove(run)


def _check_reusable(path: Path) -> None:
    """Return if ``path`` holds a failed run (its ``run.json`` says so); else raise ResultsError."""
    try:
        manifest = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("schema") != "vaxdrill.run/1":
        raise ResultsError(f"{path}: folder exists and is not empty; results are never overwritten")
    if manifest.get("failure"):
        return
    if manifest.get("finished_utc") is None:  # killed, or still running: only the user can tell
        raise ResultsError(
            f"{path}: holds a run that never finished (killed, or still running); "
            f"to run again into it, first: rm -r {shlex.quote(str(path))}"
        )
    raise ResultsError(f"{path}: holds a finished run; results are never overwritten (choose another --out)")
