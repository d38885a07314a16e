"""Exit codes: README's table is the ``ExitCode`` enum, and every error carries the right code."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import typer

import vaxdrill.cli.app as cli_app
from vaxdrill.cli.drill import FINDINGS, Phase, check
from vaxdrill.core import errors
from vaxdrill.core.errors import ExitCode, RunError, VaxdrillError

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_exit_codes() -> list[tuple[int, str, str]]:
    """(code, name, meaning) of each row of the table under README's "### Exit codes"."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n### Exit codes\n", 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows.append((int(cells[0]), cells[1].strip("`"), cells[2]))
    return rows


def test_readme_table_is_the_exit_code_enum() -> None:
    assert readme_exit_codes() == [(int(c), c.name, c.meaning) for c in ExitCode]


def test_readme_has_one_exit_code_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert text.count("| code | name | meaning | examples |") == 1
    assert not re.search(r"^\| exit code \|", text, re.MULTILINE)


def test_every_error_carries_the_exit_code_of_its_kind() -> None:
    user = [errors.ScenarioError, errors.ResultsError, errors.DocumentError, errors.ProfileError,
            errors.FaultFileError, errors.SecretFileError, errors.ProxyConfigError, errors.HostNotAllowed,
            errors.LoopbackError,
            errors.SimulationError, errors.ArrivalCurveError, errors.FaultPlanError, errors.ParameterError]  # fmt: skip
    could_not_run = [errors.RunError, errors.ProcessFailed, errors.DatabaseUnreachable, errors.PhaseFailed,
                     errors.BrowserUnavailable, errors.PreflightFailed]  # fmt: skip
    assert VaxdrillError.exit_code is ExitCode.USER_ERROR
    for cls in user:
        assert cls.exit_code is ExitCode.USER_ERROR, cls
    for cls in could_not_run:
        assert issubclass(cls, RunError) and cls.exit_code is ExitCode.COULD_NOT_RUN, cls
    every = {c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, VaxdrillError)}
    assert every == {VaxdrillError, errors.Verdict, errors.SlosFailed, errors.DrillFailed, *user, *could_not_run}


def test_a_verdict_carries_97_98_or_99_only() -> None:
    for code in (ExitCode.ABORTED, ExitCode.INTEGRITY_FAILED, ExitCode.SLO_FAILED):
        assert errors.SlosFailed(code, "x").exit_code is code
        assert errors.DrillFailed(code, "x").exit_code is code
    for code in (ExitCode.OK, ExitCode.USER_ERROR, ExitCode.COULD_NOT_RUN):
        with pytest.raises(ValueError, match="not a verdict"):
            errors.SlosFailed(code, "x")


def _main_exit(monkeypatch: pytest.MonkeyPatch, raised: Exception) -> int:
    """Run ``vaxdrill``'s ``main`` with one command that raises ``raised``; return its exit code."""
    app = typer.Typer()

    @app.command()
    def fail() -> None:
        raise raised

    monkeypatch.setattr(cli_app, "app", app)
    monkeypatch.setattr(cli_app, "_register_commands", lambda: None)
    monkeypatch.setattr(sys, "argv", ["vaxdrill"])
    with pytest.raises(SystemExit) as exited:
        cli_app.main()
    return int(exited.value.code or 0)


def test_a_run_error_exits_3_with_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert _main_exit(monkeypatch, RunError("the reference server exited with 1")) == 3
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error the reference server exited with 1"]


def test_a_user_mistake_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _main_exit(monkeypatch, VaxdrillError("--duration: must be above zero")) == 2


def test_a_failed_drill_phase_exits_3(tmp_path: Path) -> None:
    log = tmp_path / "simulation.log"
    log.write_text("Traceback ...\nboom\n", encoding="utf-8")
    phase = Phase("simulation", tmp_path, ["vaxdrill", "simulate"])
    check(phase, ExitCode.SLO_FAILED, log, FINDINGS)  # a finding, not a failure
    with pytest.raises(errors.PhaseFailed) as failed:
        check(phase, 1, log, {0})
    assert failed.value.exit_code == 3 and "drill phase `simulation` failed with exit code 1" in str(failed.value)
