from __future__ import annotations

import numpy as np
import pytest

from vaxdrill.core.scenario.distributions import Distribution
from vaxdrill.core.scenario.units import format_clock, format_duration, parse_clock, parse_duration, parse_share


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30min", 1800), ("4h", 14400), ("1h30min", 5400), ("250ms", 0.25), ("2.5min", 150), (0, 0)],
)
def test_durations_are_read_as_people_write_them(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", [30, "30", "30 parsecs", "", "min", True, None, "-5min"])
def test_durations_without_a_unit_are_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)


def test_clock_times_and_yaml_sexagesimal() -> None:
    assert parse_clock("09:30") == 9 * 3600 + 30 * 60
    assert parse_clock("13:30:15") == 13 * 3600 + 30 * 60 + 15
    assert parse_clock(570) == parse_clock("09:30")  # YAML 1.1 reads bare 09:30 as 570
    assert format_clock(parse_clock("13:30")) == "13:30"
    with pytest.raises(ValueError, match="clock time"):
        parse_clock("25:00")


def test_shares() -> None:
    assert parse_share("2%") == pytest.approx(0.02)
    assert parse_share(0.5) == 0.5
    with pytest.raises(ValueError):
        parse_share("150%")


def test_round_trip_of_durations() -> None:
    for text in ["90s", "30min", "4h", "250ms"]:
        assert format_duration(parse_duration(text)) == text


@pytest.mark.parametrize(
    ("text", "mean"),
    [
        ("4min", 240),
        ("exp(1min)", 60),
        ("2min + exp(1min)", 180),
        ("normal(4min, 30s)", 240),
        ("lognormal(3s, 2s)", 3),
        ("triangular(1min, 2min, 6min)", 180),
        ("uniform(1min, 3min)", 120),
        ("empirical(1min, 2min, 3min)", 120),
    ],
)
def test_distribution_notation_and_sample_means(text: str, mean: float) -> None:
    dist = Distribution.model_validate(text)
    assert dist.expected() == pytest.approx(mean)
    draws = dist.sample(np.random.default_rng(7), 200_000)
    assert (draws >= 0).all()
    assert draws.mean() == pytest.approx(mean, rel=0.02)
    # The resolved form is written back in the same notation and reads back the same.
    again = Distribution.model_validate(dist.model_dump())
    assert again == dist


def test_distribution_errors_are_specific() -> None:
    with pytest.raises(ValueError, match="unknown distribution 'gamma'"):
        Distribution.model_validate("gamma(1min)")
    with pytest.raises(ValueError, match="uniform takes 2"):
        Distribution.model_validate("uniform(1min)")
    with pytest.raises(ValueError, match="low < high"):
        Distribution.model_validate("uniform(3min, 1min)")


def test_scaled_distribution_multiplies_every_duration() -> None:
    dist = Distribution.model_validate("1min + exp(2min)").scaled(3)
    assert dist.expected() == pytest.approx(540)


@pytest.mark.parametrize("seconds", [1000001.0, 1234567.0, 0.1234567, 86400.0 * 30 + 0.5, 1e-7])
def test_every_formatted_duration_parses_back(seconds: float) -> None:
    text = format_duration(seconds)
    assert "e" not in text.replace("sec", "")
    assert parse_duration(text) == seconds


def test_a_duration_too_long_for_a_float_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        parse_duration("9" * 400 + "s")
