"""Shipped scenarios by name, user paths made absolute, and results folders of failed runs (issue 17)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from tests.conftest import SCENARIOS
from vaxdrill.cli.paths import absolute_db_url
from vaxdrill.core import results
from vaxdrill.core.errors import ResultsError, ScenarioError, VaxdrillError
from vaxdrill.core.results import RunFolder, fail_open_runs
from vaxdrill.core.scenario import load_scenario
from vaxdrill.core.shipped import copy_shipped, resolve_scenario, shipped_dir, shipped_scenarios, user_path


def test_a_checkout_finds_the_shipped_scenarios_in_scenarios() -> None:
    assert shipped_dir() == SCENARIOS
    assert set(shipped_scenarios()) == {p.stem for p in SCENARIOS.glob("*.yaml")}


def test_an_existing_file_wins_then_a_shipped_name_then_an_error_listing_the_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    raigad = SCENARIOS / "raigad-2021-01-16.yaml"
    assert resolve_scenario("raigad-2021-01-16") == raigad
    assert resolve_scenario("raigad-2021-01-16.yaml") == raigad
    (tmp_path / "raigad-2021-01-16.yaml").write_text("name: mine\n")
    assert resolve_scenario("raigad-2021-01-16.yaml") == tmp_path / "raigad-2021-01-16.yaml"  # the user's file
    assert resolve_scenario(Path("raigad-2021-01-16.yaml")).is_absolute()
    with pytest.raises(ScenarioError) as caught:
        resolve_scenario("sub/co.yaml")
    message = str(caught.value)
    assert message.startswith("sub/co.yaml: no such file") and "raigad-2021-01-16" in message


def test_user_paths_are_absolute_against_the_current_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert user_path("a/b.yaml") == tmp_path / "a" / "b.yaml"
    assert absolute_db_url("sqlite:///drill.db") == f"sqlite:///{tmp_path / 'drill.db'}"
    assert absolute_db_url("sqlite+aiosqlite:///x/d.db?mode=rw") == f"sqlite+aiosqlite:///{tmp_path / 'x/d.db'}?mode=rw"
    for unchanged in ("sqlite:////abs/d.db", "sqlite:///:memory:", "postgresql://u@127.0.0.1:5432/db"):
        assert absolute_db_url(unchanged) == unchanged


def test_copying_a_shipped_scenario_brings_its_sites_csv_and_never_overwrites(tmp_path: Path) -> None:
    written = copy_shipped("district-typical-day.yaml", tmp_path / "mine")
    assert [p.name for p in written] == ["district-typical-day.yaml", "district-typical-day-sites.csv"]
    assert len(load_scenario(written[0]).sites) == 16  # the copy loads on its own
    with pytest.raises(VaxdrillError, match="already exists"):
        copy_shipped("district-typical-day", tmp_path / "mine")
    with pytest.raises(VaxdrillError, match="not a shipped scenario"):
        copy_shipped("atlantis", tmp_path)


@pytest.fixture
def scenario():  # type: ignore[no-untyped-def]
    return load_scenario(SCENARIOS / "mmc-validation.yaml")


def test_a_failed_run_says_so_and_the_same_out_can_be_used_again(tmp_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "run"
    first = RunFolder.create(scenario, "loadtest", 1, out=out)
    (out / "server.log").write_text("boom\n")
    fail_open_runs("the reference server exited with code 2", 3)
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["failure"] == {"reason": "the reference server exited with code 2", "exit_code": 3}
    assert manifest["finished_utc"] is not None and first.path == out
    again = RunFolder.create(scenario, "loadtest", 1, out=out)
    assert again.path == out and not (out / "server.log").exists()  # the failed attempt is replaced
    assert "failure" not in json.loads((out / "run.json").read_text())
    again.finish()
    fail_open_runs("later", 3)  # a finished run is not touched
    assert "failure" not in json.loads((out / "run.json").read_text())


def test_finished_and_unfinished_runs_and_foreign_folders_are_never_reused(tmp_path: Path, scenario) -> None:  # type: ignore[no-untyped-def]
    done = RunFolder.create(scenario, "simulate", 1, out=tmp_path / "done")
    done.finish()
    with pytest.raises(ResultsError, match="finished run; results are never overwritten"):
        RunFolder.create(scenario, "simulate", 1, out=tmp_path / "done")
    RunFolder.create(scenario, "simulate", 1, out=tmp_path / "open")  # killed: never finished
    with pytest.raises(ResultsError, match=r"never finished .* rm -r .*open"):
        RunFolder.create(scenario, "simulate", 1, out=tmp_path / "open")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="folder exists and is not empty"):
        RunFolder.create(scenario, "simulate", 1, out=tmp_path / "mine")
    results._OPEN.clear()  # the runs this test left open are not this process's command's


def test_a_relative_out_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    run = RunFolder.create(scenario, "simulate", 1, out=Path("rel"))
    assert run.path == tmp_path / "rel"
    auto = RunFolder.create(scenario, "simulate", 1)
    assert auto.path.parent == tmp_path / "results"
    run.finish()
    auto.finish()


def test_two_runs_in_the_same_second_never_share_a_folder(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scenario,  # type: ignore[no-untyped-def]
) -> None:
    """Two processes (parallel tests, two terminals) that both look before either creates the folder
    must still get one each: the folder is claimed by creating it, not by looking first."""
    monkeypatch.setattr(results, "_utc_now", lambda: dt.datetime(2021, 1, 16, 9, 0, tzinfo=dt.UTC))
    monkeypatch.setattr(Path, "exists", lambda self: False)  # the other run has not created it yet when we look
    runs = [RunFolder.create(scenario, "simulate", 1, root=tmp_path) for _ in range(3)]
    names = [run.path.name for run in runs]
    stem = f"20210116T090000Z-{scenario.name}"
    assert names == [stem, f"{stem}-2", f"{stem}-3"]
    monkeypatch.undo()
    for run in runs:
        run.finish()
