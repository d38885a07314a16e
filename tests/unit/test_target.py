"""The run's target: which hosts may be loaded, the peak announced, the request-rate cap, master addresses."""

from __future__ import annotations

import pytest

from vaxdrill.core.errors import ExitCode, HostNotAllowed, LoopbackError, VaxdrillError
from vaxdrill.core.scenario.loadplan import LoadProfile
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.loadtest.procs import parse_address, require_loopback
from vaxdrill.loadtest.summary import exit_code
from vaxdrill.loadtest.target import RatePacer, check_target, planned_load


def test_hosts_on_this_machine_need_no_opt_in() -> None:
    assert check_target("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert check_target("http://127.0.0.2:8000") == "http://127.0.0.2:8000"  # all of 127.0.0.0/8
    assert check_target("http://127.255.0.9") == "http://127.255.0.9"
    assert check_target("http://LOCALHOST:9") == "http://LOCALHOST:9"
    assert check_target("https://[::1]:9/api/") == "https://[::1]:9/api"


@pytest.mark.parametrize(
    "url", ["http://192.0.2.1:80", "https://staging.example.org", "http://0.0.0.0:80", "http://localhost.example.org"]
)
def test_other_hosts_are_refused_with_the_opt_in_in_the_message(url: str) -> None:
    with pytest.raises(HostNotAllowed) as caught:
        check_target(url)
    host = url.split("//")[1].split(":")[0]
    message = str(caught.value)
    assert f"--allow-host {host}" in message and f"target: {{allow_hosts: [{host}]}}" in message
    assert "\n" not in message and caught.value.exit_code == ExitCode.USER_ERROR


def test_an_opt_in_allows_exactly_the_host_it_names() -> None:
    assert check_target("http://192.0.2.1:80", ["192.0.2.1"]) == "http://192.0.2.1:80"
    assert check_target("https://Staging.Example.org/", ["staging.example.org:443"]) == "https://Staging.Example.org"
    assert check_target("https://staging.example.org", ["https://staging.example.org/x"])
    assert check_target("http://[2001:db8::1]:80", ["[2001:db8::1]"])
    for url, allowed in (
        ("http://192.0.2.2:80", ["192.0.2.1"]),
        ("https://prod.example.org", ["staging.example.org"]),
        ("https://staging.example.org.evil.test", ["staging.example.org"]),
    ):
        with pytest.raises(HostNotAllowed, match="--allow-host"):
            check_target(url, allowed)


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://127.0.0.1", "http://", "http://127.0.0.1:99999"])
def test_a_malformed_host_is_a_one_line_error(url: str) -> None:
    with pytest.raises(HostNotAllowed, match="expected a URL such as"):
        check_target(url)


def test_the_scenario_can_opt_in_hosts() -> None:
    scenario = Scenario.model_validate({"name": "s", "target": {"allow_hosts": ["staging.example.org"]}})
    assert scenario.target.allow_hosts == ["staging.example.org"]
    assert Scenario.model_validate({"name": "s"}).target.allow_hosts == []
    with pytest.raises(ValueError, match="allow_host"):
        Scenario.model_validate({"name": "s", "target": {"allow_host": ["x"]}})  # a typo is not ignored


def test_planned_peak_per_shape() -> None:
    assert str(planned_load(LoadProfile(shape="open", arrival_rate=12))) == "planned peak 12 journeys/s"
    curve = LoadProfile(shape="open", curve=[(0, 2), (10, 30), (20, 5)])
    assert planned_load(curve).peak == 30
    steps = LoadProfile.model_validate({"shape": "steps", "steps": {"max_rate": 80}})
    assert planned_load(steps).peak == 80 and planned_load(LoadProfile(), "capacity").unit == "journeys/s"
    capped = LoadProfile(users=40, max_rps=25)
    assert str(planned_load(capped)) == "planned peak 40 users, capped at 25 requests/s across all workers"


def test_the_pacer_lets_at_most_rate_times_time_plus_one_requests_through() -> None:
    pacer = RatePacer(rate=20.0)
    now, sent, waits = 100.0, 0, []
    # 200 requests all wanting to go at once, then more every 10 ms: the pacer spaces them 50 ms apart.
    for k in range(400):
        wanted = now + (0.0 if k < 200 else (k - 200) * 0.01)
        wait = pacer.reserve(wanted)
        waits.append(wait)
        if wanted + wait < now + 6.0:
            sent += 1
    assert sent <= 20 * 6 + 1 and sent >= 20 * 6 - 1
    assert waits[0] == 0.0 and waits[1] == pytest.approx(0.05)
    idle = RatePacer(rate=5.0)
    assert idle.reserve(0.0) == 0.0 and idle.reserve(10.0) == 0.0  # a free line costs nothing


def test_a_control_address_stays_on_this_machine_whatever_the_opt_ins() -> None:
    assert require_loopback("http://127.0.0.2:8474/", "--toxiproxy") == "http://127.0.0.2:8474"
    assert require_loopback("http://[::1]:9") == "http://[::1]:9"
    for url in ("http://10.0.0.5:8000", "https://cowin.gov.in", "127.0.0.1:8000", "http://0.0.0.0:80"):
        with pytest.raises(LoopbackError, match=r"loopback|expected a URL"):
            require_loopback(url)


def test_master_addresses() -> None:
    assert parse_address("127.0.0.1:6000", "--bind") == ("127.0.0.1", 6000)
    assert parse_address("master.internal", "--bind") == ("master.internal", 5557)
    assert parse_address("[::1]:7000", "--bind") == ("::1", 7000)
    for bad in ("", ":5557", "host:port", "host:0", "a/b:1"):
        with pytest.raises(VaxdrillError, match="expected HOST:PORT"):
            parse_address(bad, "--bind")


def test_a_lost_worker_outranks_every_verdict() -> None:
    assert exit_code(False, {"passed": False}, True, incomplete=True) == ExitCode.COULD_NOT_RUN
    assert exit_code(True, None, False, incomplete=False) == ExitCode.OK


def test_a_lost_worker_makes_the_summary_incomplete_unless_accepted() -> None:
    from vaxdrill.loadtest.recorder import Recorder
    from vaxdrill.loadtest.summary import build_summary

    rec = Recorder(t0=0.0)
    rec.request("states", 12.0, False, now=0.5)
    lost = [{"node": "w2", "at_s": 9.0, "reason": "no heartbeat"}]
    raw = {"recorder": rec.to_json(), "duration_s": 10.0, "workers_expected": 2, "workers_seen": ["w1", "w2"],
           "workers_lost": lost}  # fmt: skip
    scenario = Scenario.model_validate({"name": "s"})
    summary, _ = build_summary(raw, scenario)
    assert summary.incomplete and summary.exit_code == ExitCode.COULD_NOT_RUN
    assert summary.workers is not None and summary.workers.lost[0].node == "w2" and summary.workers.expected == 2
    accepted, _ = build_summary(raw, scenario, allow_worker_loss=True)
    assert accepted.incomplete and accepted.exit_code == ExitCode.OK
    whole, _ = build_summary({**raw, "workers_lost": []}, scenario)
    assert not whole.incomplete and whole.exit_code == ExitCode.OK and whole.to_json()["workers"]["lost"] == []
    alone, _ = build_summary({"recorder": rec.to_json(), "duration_s": 10.0}, scenario)
    assert alone.workers is None and "workers" not in alone.to_json()
