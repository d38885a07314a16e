"""The scenarios shipped with vaxdrill, and the paths a user gives on the command line.

``scenarios/`` at the repository root is the one copy of the shipped scenarios; a wheel carries it as
``vaxdrill/scenarios/`` (``setup.py`` maps it at build time), a checkout or an editable install reads
it where it is. :func:`shipped_dir` finds whichever exists, so both installs behave the same::

    resolve_scenario("raigad-2021-01-16")   # a shipped scenario by name
    resolve_scenario("my/co.yaml")          # a file: absolute, against the current folder

Errors (exit 2): :class:`~vaxdrill.core.errors.ScenarioError` for a scenario that is neither a file
nor a shipped name (the message lists the shipped names); :class:`~vaxdrill.core.errors.VaxdrillError`
when ``examples copy`` would overwrite a file.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from vaxdrill.core.errors import Problem, ScenarioError, VaxdrillError

_PACKAGE = Path(__file__).resolve().parent.parent  # vaxdrill/


def shipped_dir() -> Path:
    """The folder of shipped scenarios: ``vaxdrill/scenarios`` in a wheel, ``scenarios/`` in a checkout."""
    for candidate in (_PACKAGE / "scenarios", _PACKAGE.parent / "scenarios"):
        if candidate.is_dir():
            return candidate
    raise VaxdrillError(f"the shipped scenarios are missing (looked in {_PACKAGE / 'scenarios'}); reinstall vaxdrill")


def shipped_scenarios() -> dict[str, Path]:
    """Shipped scenarios by name (the file name without ``.yaml``), sorted."""
    return {path.stem: path for path in sorted(shipped_dir().glob("*.yaml"))}


def user_path(path: str | os.PathLike[str]) -> Path:
    """``path`` made absolute against the folder the command was started from (``~`` expanded).

    Every path a user gives goes through here before any subprocess starts, so a child process never
    depends on the folder it runs in.
    """
    return Path(os.path.abspath(Path(path).expanduser()))


def resolve_scenario(arg: str | os.PathLike[str]) -> Path:
    """A scenario argument as an absolute path: an existing file wins, else a shipped name (with or
    without ``.yaml``), else the usual "no such file" error, which lists the shipped names."""
    path = user_path(arg)
    if path.exists():
        return path
    text = os.fspath(arg)
    if os.sep not in text and "/" not in text:
        shipped = shipped_scenarios()
        name = text.removesuffix(".yaml")
        if name in shipped:
            return shipped[name]
    names = ", ".join(shipped_scenarios()) or "none"
    raise ScenarioError([Problem(text, "", f"no such file, nor a shipped scenario (shipped: {names})")])


def _companions(scenario: Path) -> list[Path]:
    """Files a shipped scenario refers to by a relative path (``sites_csv``, ``server.profile``)."""
    data = yaml.safe_load(scenario.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        return []
    server = data.get("server")
    refs = [data.get("sites_csv"), server.get("profile") if isinstance(server, dict) else None]
    return [scenario.parent / str(ref) for ref in refs if ref and not Path(str(ref)).is_absolute()]


def copy_shipped(name: str, folder: Path) -> list[Path]:
    """Write the shipped scenario ``name`` into ``folder`` to edit, with the files it refers to
    (a ``sites_csv`` beside it); never overwrites. Returns the files written."""
    shipped = shipped_scenarios()
    key = name.removesuffix(".yaml")
    if key not in shipped:
        raise VaxdrillError(f"{name}: not a shipped scenario (shipped: {', '.join(shipped)})")
    source = shipped[key]
    sources = [source, *_companions(source)]
    folder = user_path(folder)
    targets = [folder / p.name for p in sources]
    existing = [str(t) for t in targets if t.exists()]
    if existing:
        raise VaxdrillError(f"{', '.join(existing)}: already exists; vaxdrill never overwrites a file")
    folder.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(sources, targets, strict=True):
        shutil.copyfile(src, dst)
    return targets
