"""Network faults of a fault plan: the model, the toxics sent to the proxy, their timing and their report."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from vaxdrill.core.scenario.loadplan import TOXIC_ATTRIBUTES, Fault
from vaxdrill.loadtest.faults import fault_report
from vaxdrill.loadtest.network_faults import NetworkFaults, network_faults, run_plan, toxic_body
from vaxdrill.loadtest.procs import require_loopback
from vaxdrill.loadtest.recorder import Recorder
from vaxdrill.loadtest.toxiproxy import upstream_of
from vaxdrill.proxy.toxics import TOXICS
from vaxdrill.report.loadtest import fault_label


def fault(**spec: Any) -> Fault:
    return Fault.model_validate({"kind": "network", "duration": "4s", **spec})


def test_the_model_knows_the_toxics_the_proxy_implements() -> None:
    assert {kind: cls.fields for kind, cls in TOXICS.items()} == {
        kind: fields for kind, fields in TOXIC_ATTRIBUTES.items() if kind != "down"
    }


def test_a_network_fault_validates_its_toxic_and_attributes() -> None:
    reset = fault(toxic="reset_peer", attributes={"timeout": 0}, at="10s")
    assert (reset.stream, reset.toxicity, reset.label) == ("downstream", 1.0, "network reset_peer")
    assert fault(toxic="latency", attributes={"latency": 300}, stream="upstream", toxicity="50%").toxicity == 0.5
    bad = {
        "needs `toxic`": {},
        "takes attributes latency, jitter; got rate": {"toxic": "latency", "attributes": {"rate": 5}},
        "takes no attributes": {"toxic": "down", "attributes": {"timeout": 1}},
        "0 or more": {"toxic": "timeout", "attributes": {"timeout": -1}},
        "average_size": {"toxic": "slicer", "attributes": {"delay": 10}},
        "routes, latency and rate do not apply": {"toxic": "timeout", "routes": ["/api/v2/staff/*"]},
        "stream and toxicity do not apply": {"toxic": "down", "toxicity": 0.5},
    }
    for message, spec in bad.items():
        with pytest.raises(ValidationError, match=message):
            fault(**spec)
    with pytest.raises(ValidationError, match="apply only to a fault of kind: network"):
        Fault.model_validate({"kind": "outage", "duration": "4s", "toxic": "timeout"})


def test_faults_survive_the_round_trip_to_the_servers_admin_api() -> None:
    # The Locust glue posts `model_dump` of a server fault; every field is then set explicitly.
    for spec in ({"kind": "outage", "duration": "5s", "mode": "hang"}, {"kind": "network", "duration": "5s",
                                                                         "toxic": "timeout"}):  # fmt: skip
        original = Fault.model_validate(spec)
        assert Fault.model_validate(original.model_dump(mode="json")) == original


def test_toxic_body_gives_every_attribute_in_toxiproxys_form() -> None:
    body = toxic_body(3, fault(toxic="latency", attributes={"latency": 200}, stream="upstream"))
    assert body == {"name": "vaxdrill_3_latency", "type": "latency", "stream": "upstream", "toxicity": 1.0,
                    "attributes": {"latency": 200, "jitter": 0}}  # fmt: skip
    assert upstream_of("http://127.0.0.1:8000") == "127.0.0.1:8000"
    assert upstream_of("https://localhost") == "localhost:443"
    assert upstream_of("http://[::1]:9000") == "[::1]:9000"


class FakeProxy:
    """A Toxiproxy API that logs calls, on a fake clock each call advances by ``lag`` seconds."""

    def __init__(self, lag: float = 0.05, refuse: str = "") -> None:
        self.now, self.lag, self.refuse = 0.0, lag, refuse
        self.calls: list[tuple[float, str, str]] = []

    def _log(self, what: str, name: str) -> None:
        self.now += self.lag
        if name == self.refuse:
            raise RuntimeError(f"HTTP 409 {name}")
        self.calls.append((round(self.now, 3), what, name))

    def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> dict[str, Any]:
        self._log("add", toxic["name"])
        return toxic

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self._log("remove", toxic)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._log("enable" if enabled else "disable", name)

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_each_fault_is_applied_at_its_moment_and_lifted_after_its_duration() -> None:
    plan = [
        {"kind": "outage", "at": "1s", "duration": "2s"},  # a server fault: not the proxy's
        {"kind": "network", "toxic": "timeout", "at": "6s", "duration": "3s"},
        {"kind": "network", "toxic": "reset_peer", "at": "2s", "duration": "2s"},
        {"kind": "network", "toxic": "down", "at": "12s", "duration": "1s"},
    ]
    api = FakeProxy()
    faults = NetworkFaults(api, "run", clock=lambda: api.now)
    records: list[dict[str, Any]] = []
    run_plan(faults, network_faults([Fault.model_validate(f) for f in plan]), records.append, api.sleep, lambda: False)
    assert [(what, name) for _, what, name in api.calls] == [
        ("add", "vaxdrill_2_reset_peer"), ("remove", "vaxdrill_2_reset_peer"),
        ("add", "vaxdrill_1_timeout"), ("remove", "vaxdrill_1_timeout"), ("disable", "run"), ("enable", "run"),
    ]  # fmt: skip
    by_index = {r["index"]: r for r in records}
    # Recorded once the proxy answered; lifted `duration` after that, not after the planned moment.
    assert by_index[2]["applied_at_s"] == pytest.approx(2.05, abs=1e-6)
    assert by_index[2]["removed_at_s"] == pytest.approx(4.1, abs=1e-6)
    assert by_index[1]["removed_at_s"] - by_index[1]["applied_at_s"] == pytest.approx(3.05, abs=1e-6)
    assert all(r["ok"] for r in records) and not faults.active


def test_a_refused_fault_is_reported_and_the_end_of_the_run_lifts_the_rest() -> None:
    api = FakeProxy(refuse="vaxdrill_0_latency")
    faults = NetworkFaults(api, "run", clock=lambda: api.now)
    plan = network_faults([fault(toxic="latency", at="1s"), fault(toxic="timeout", at="2s", duration="60s")])
    records: list[dict[str, Any]] = []
    run_plan(faults, plan, records.append, api.sleep, stopping=lambda: api.now > 10)
    refused, held = records
    assert not refused["ok"] and "409" in refused["error"] and "removed_at_s" not in refused
    assert held["ok"] and "removed_at_s" not in held and list(faults.active) == [1]
    faults.remove_all()  # test_stopping: before the outboxes drain
    assert held["removed_at_s"] > 10 and api.calls[-1][1:] == ("remove", "vaxdrill_1_timeout")
    no_proxy = NetworkFaults(None, "run", clock=lambda: 0.0).apply(0, fault(toxic="timeout"))
    assert not no_proxy["ok"] and "no proxy" in no_proxy["error"]


def test_the_fault_table_uses_the_moments_the_toxic_was_really_in_place() -> None:
    rec = Recorder(t0=0.0)
    for t in range(30):
        for _ in range(10):
            rec.request("verify", 20.0, failed=10 <= t < 16, now=t + 0.5)  # toxic in place 10.2 s .. 16.1 s
    plan = [Fault.model_validate({"kind": "outage", "at": "2s", "duration": "1s"}),
            fault(toxic="reset_peer", at="10s", duration="5s")]  # fmt: skip
    applied = [{"index": 1, "kind": "network", "ok": True, "applied_at_s": 10.2, "removed_at_s": 16.1},
               {"index": 0, "kind": "outage", "ok": True, "applied_at_s": 2.01}]  # fmt: skip
    server, network = fault_report(rec, plan, applied)
    assert server["applied_at_s"] == 2.01 and server["toxic"] is None and server["mode"] == "503"
    assert network["applied_at_s"] == 10.2 and network["duration_s"] == pytest.approx(5.9)
    assert (network["toxic"], network["stream"], network["mode"]) == ("reset_peer", "downstream", None)
    assert network["before"]["error_rate"] == 0.0 and network["during"]["error_rate"] > 0.8
    assert network["time_to_recover_s"] == pytest.approx(0.9, abs=0.01)  # window 17 s, 0.9 s after removal
    assert fault_label(network) == "network reset_peer (downstream)" and fault_label(server) == "outage"


def test_toxiproxy_must_be_on_loopback_too() -> None:
    from vaxdrill.core.errors import LoopbackError

    with pytest.raises(LoopbackError, match=re.escape("--toxiproxy 'http://192.0.2.1:8474'")):
        require_loopback("http://192.0.2.1:8474", "--toxiproxy")


def test_vaxdrill_serve_leaves_network_faults_to_the_proxy(tmp_path: Path) -> None:
    from vaxdrill.cli.commands.serve import load_fault_plan

    path = tmp_path / "faults.yaml"
    path.write_text("- {kind: outage, at: 1s, duration: 2s}\n- {kind: network, toxic: timeout, duration: 2s}\n")
    assert [f.kind for f in load_fault_plan(path)] == ["outage"]
