"""The ``data_quality`` and ``reporting`` blocks refuse bad input in one line naming the field."""

from __future__ import annotations

import pytest

from vaxdrill.core.errors import ScenarioError
from vaxdrill.core.scenario import load_scenario

HEAD = "name: x\nsites: [{name: A, booked: 10}]\n"


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("data_quality: {duplicate_per_switch: 150%}", "data_quality.duplicate_per_switch: expected a share"),
        ("data_quality: {wrong_base: -1}", "data_quality.wrong_base"),
        ("data_quality: {typo: 1}", "data_quality.typo"),
        ("reporting: {time: '25:00'}", "reporting.time"),
        ("reporting: {next_day_records_per_hour: 0}", "reporting.next_day_records_per_hour"),
        ("reporting: {next_day_start: '11:00', next_day_deadline: '10:00'}", "next_day_deadline must not be before"),
    ],
)
def test_bad_blocks_are_one_line_errors(write_yaml, block: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ScenarioError) as info:
        load_scenario(write_yaml(HEAD + block + "\n"))
    text = str(info.value)
    assert message in text and "\n" not in text, text


def test_the_blocks_default_to_the_stated_assumptions(write_yaml) -> None:  # type: ignore[no-untyped-def]
    s = load_scenario(write_yaml(HEAD + "data_quality: {}\nreporting: {}\n"))
    assert s.data_quality is not None and s.reporting is not None
    assert (s.data_quality.duplicate_base, s.data_quality.duplicate_per_switch) == (0.005, 0.01)
    assert (s.reporting.time, s.reporting.next_day_start, s.reporting.next_day_deadline) == (68400, 32400, 43200)
    assert load_scenario(write_yaml(HEAD)).data_quality is None  # absent: nothing reported, outputs unchanged
