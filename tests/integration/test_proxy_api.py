"""Conformance of ``vaxdrill proxy``'s HTTP API, driven by a Toxiproxy client written elsewhere.

``toxiproxy-python`` (a published client of Toxiproxy) drives what it covers; raw requests, shaped as in
Toxiproxy's README, drive the rest (populate, updates, single toxics, metrics, the error answers).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from toxiproxy import Toxiproxy
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from tests.integration.proxy_support import (
    ProxyProcess,
    Upstream,
    api,
    clean,
    closed_within,
    connect,
    receive,
    wait_until,
)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy_process() -> Iterator[ProxyProcess]:
    process = ProxyProcess("--seed", "7")
    yield process
    assert process.stop() == 0


@pytest.fixture
def toxiproxy(proxy_process: ProxyProcess) -> Iterator[Toxiproxy]:
    server = Toxiproxy()
    server.update_api_consumer(proxy_process.host, proxy_process.port)
    yield server
    clean(proxy_process)


@pytest.fixture
def client(proxy_process: ProxyProcess) -> Iterator[httpx.Client]:
    with api(proxy_process) as http:
        yield http


def echo(address: str, text: bytes = b"hello\n") -> bytes:
    with connect(address) as sock:
        sock.sendall(text)
        return receive(sock, len(text))


def refused(address: str) -> bool:
    try:
        connect(address, timeout=2).close()
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    return False


def test_version_and_running(toxiproxy: Toxiproxy) -> None:
    assert toxiproxy.running()
    assert json.loads(toxiproxy.version())["version"]


def test_create_list_get_destroy_proxy(toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="echo")
    host, port = proxy.listen.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0, "listen 127.0.0.1:0 answers with the port picked"
    assert proxy.enabled is True
    assert echo(proxy.listen) == b"hello\n"
    assert set(toxiproxy.proxies()) == {"echo"}
    assert toxiproxy.get_proxy("echo").upstream == upstream.address
    shown = client.get("/proxies/echo")
    assert shown.status_code == 200
    assert shown.json() == {
        "name": "echo",
        "listen": proxy.listen,
        "upstream": upstream.address,
        "enabled": True,
        "toxics": [],
    }
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=upstream.address, name="echo")
    assert toxiproxy.destroy(proxy)
    assert toxiproxy.get_proxy("echo") is None
    assert refused(proxy.listen)


def test_disabled_proxy_refuses_new_connections_and_drops_open_ones(toxiproxy: Toxiproxy, upstream: Upstream) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="echo")
    with connect(proxy.listen) as open_one:
        open_one.sendall(b"before\n")
        assert receive(open_one, 7) == b"before\n"
        with proxy.down():
            assert toxiproxy.get_proxy("echo").enabled is False
            assert closed_within(open_one, 5), "an open connection is dropped when the proxy is disabled"
            assert refused(proxy.listen)
        assert toxiproxy.get_proxy("echo").enabled is True
    assert echo(proxy.listen) == b"hello\n", "enabled again, on the same address"


def test_created_disabled_then_enabled(toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client) -> None:
    answer = client.post("/proxies", json={"name": "later", "upstream": upstream.address, "enabled": False})
    assert answer.status_code == 201
    assert answer.json()["enabled"] is False
    toxiproxy.get_proxy("later").enable()
    listen = client.get("/proxies/later").json()["listen"]
    assert echo(listen) == b"hello\n"


def test_update_proxy_with_post_and_patch(toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client) -> None:
    other = Upstream()
    try:
        proxy = toxiproxy.create(upstream=upstream.address, name="moving")
        with connect(proxy.listen) as open_one:
            answer = client.post("/proxies/moving", json={"upstream": other.address})
            assert answer.status_code == 200
            assert answer.json()["upstream"] == other.address
            assert closed_within(open_one, 5), "a new upstream restarts the proxy, dropping connections"
        listen = answer.json()["listen"]
        assert echo(listen) == b"hello\n"
        patched = client.patch("/proxies/moving", json={"enabled": False})
        assert patched.status_code == 200 and patched.json()["enabled"] is False
        assert patched.json()["upstream"] == other.address, "fields not given keep their value"
    finally:
        other.stop()


def test_toxics_with_the_client(toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="echo")
    proxy.add_toxic(type="latency", attributes={"latency": 5, "jitter": 1})
    proxy.add_toxic(type="bandwidth", name="thin", stream="upstream", toxicity=0.5, attributes={"rate": 1000})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "thin"}, "a toxic's default name is <type>_<stream>"
    assert toxics["thin"].stream == "upstream" and toxics["thin"].toxicity == 0.5
    assert toxics["latency_downstream"].attributes == {"latency": 5, "jitter": 1}
    listed = client.get("/proxies/echo/toxics").json()
    assert [t["name"] for t in listed] == ["thin", "latency_downstream"], "upstream toxics first, as Toxiproxy"
    assert client.get("/proxies/echo").json()["toxics"] == listed
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency", attributes={"latency": 1})
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    assert echo(proxy.listen) == b"hello\n"
    proxy.destroy_toxic("thin")
    assert proxy.get_toxic("thin") is None
    with pytest.raises(NotFound):
        proxy.destroy_toxic("thin")
    assert toxiproxy.reset()
    assert proxy.toxics() == {}


def test_every_toxic_type_is_accepted_with_its_attributes(toxiproxy: Toxiproxy, upstream: Upstream) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="echo")
    kinds = {
        "latency": {"latency": 1, "jitter": 0},
        "bandwidth": {"rate": 100},
        "slow_close": {"delay": 1},
        "timeout": {"timeout": 100},
        "reset_peer": {"timeout": 100},
        "slicer": {"average_size": 64, "size_variation": 8, "delay": 10},
        "limit_data": {"bytes": 1000},
    }
    for kind, attributes in kinds.items():
        proxy.add_toxic(type=kind, attributes=attributes)
    toxics = proxy.toxics()
    assert {name: (t.type, t.attributes) for name, t in toxics.items()} == {
        f"{kind}_downstream": (kind, attributes) for kind, attributes in kinds.items()
    }


def test_single_toxic_show_update_delete(toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client) -> None:
    toxiproxy.create(upstream=upstream.address, name="echo")
    created = client.post("/proxies/echo/toxics", json={"type": "latency", "attributes": {"latency": 100}})
    assert created.status_code == 200
    assert created.json() == {
        "attributes": {"latency": 100, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1.0,
    }
    assert client.get("/proxies/echo/toxics/latency_downstream").json() == created.json()
    updated = client.post("/proxies/echo/toxics/latency_downstream", json={"attributes": {"jitter": 10}})
    assert updated.status_code == 200
    assert updated.json()["attributes"] == {"latency": 100, "jitter": 10}, "attributes not given keep their value"
    patched = client.patch("/proxies/echo/toxics/latency_downstream", json={"toxicity": 0.25})
    assert patched.json()["toxicity"] == 0.25 and patched.json()["attributes"]["jitter"] == 10
    assert client.delete("/proxies/echo/toxics/latency_downstream").status_code == 204
    assert client.get("/proxies/echo/toxics/latency_downstream").status_code == 404


def test_populate_creates_keeps_and_replaces(toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client) -> None:
    first = client.post(
        "/populate",
        json=[
            {"name": "a", "listen": "127.0.0.1:0", "upstream": upstream.address},
            {"name": "b", "listen": "127.0.0.1:0", "upstream": upstream.address, "enabled": False},
        ],
    )
    assert first.status_code == 201
    made = {p["name"]: p for p in first.json()["proxies"]}
    assert set(made) == {"a", "b"} and made["a"]["enabled"] and not made["b"]["enabled"]
    client.post("/proxies/a/toxics", json={"type": "latency", "attributes": {"latency": 1}})
    same = {"name": "a", "listen": made["a"]["listen"], "upstream": upstream.address}
    again = client.post("/populate", json=[same, {"name": "c", "upstream": upstream.address}])
    assert again.status_code == 201
    kept = {p["name"]: p for p in again.json()["proxies"]}
    assert kept["a"]["toxics"], "a proxy populated unchanged keeps its toxics"
    assert set(toxiproxy.proxies()) == {"a", "b", "c"}
    bad = client.post("/populate", json=[{"name": "d", "upstream": upstream.address}, {"name": "e"}])
    assert bad.status_code == 400
    assert bad.json() == {"error": "missing required field: upstream at proxy 2", "status": 400}
    assert "d" not in toxiproxy.proxies(), "nothing is created from a list with a bad entry"
    populated = toxiproxy.populate([{"name": "f", "upstream": upstream.address, "listen": "127.0.0.1:0"}])
    assert [p.name for p in populated] == ["f"]


def test_reset_enables_every_proxy_and_removes_every_toxic(
    toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client
) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="echo")
    proxy.add_toxic(type="timeout", attributes={"timeout": 0})
    proxy.disable()
    answer = client.post("/reset")
    assert answer.status_code == 204
    shown = client.get("/proxies/echo").json()
    assert shown["enabled"] is True and shown["toxics"] == []
    assert echo(shown["listen"]) == b"hello\n"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/proxies/nope", None, 404, "proxy not found"),
        ("DELETE", "/proxies/nope", None, 404, "proxy not found"),
        ("POST", "/proxies/nope", {"enabled": False}, 404, "proxy not found"),
        ("GET", "/proxies/nope/toxics", None, 404, "proxy not found"),
        ("GET", "/proxies/echo/toxics/nope", None, 404, "toxic not found"),
        ("POST", "/proxies/echo/toxics/nope", {"toxicity": 1}, 404, "toxic not found"),
        ("DELETE", "/proxies/echo/toxics/nope", None, 404, "toxic not found"),
        ("POST", "/proxies", {"name": "echo", "upstream": "127.0.0.1:1"}, 409, "proxy already exists"),
        ("POST", "/proxies/echo/toxics", {"type": "latency"}, 409, "toxic already exists"),
        ("POST", "/proxies", {"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ("POST", "/proxies", {"name": "x"}, 400, "missing required field: upstream"),
        ("POST", "/proxies", {"name": "x", "upstream": "no-port"}, 400, "upstream must be host:port"),
        ("POST", "/proxies", {"name": "x", "upstream": "127.0.0.1:1", "listen": "x:y"}, 400, "listen must be"),
        ("POST", "/proxies/echo/toxics", {"type": "latency", "stream": "sideways"}, 400, "stream was invalid"),
        ("POST", "/proxies/echo/toxics", {"name": "t"}, 400, "invalid toxic type"),
        ("POST", "/proxies/echo/toxics", {"type": "slicer", "name": "s"}, 400, "average_size must be at least 1"),
        ("POST", "/proxies/echo/toxics", {"type": "bandwidth", "attributes": {"rate": -1}}, 400, "rate must be 0"),
        ("POST", "/proxies/echo/toxics", {"type": "timeout", "toxicity": 2}, 400, "toxicity must be a number"),
        ("POST", "/proxies/echo/toxics/latency_downstream", {"attributes": {"latency": "x"}}, 400, "an integer"),
        ("POST", "/populate", {"name": "x"}, 400, "expected a JSON list"),
    ],
)
def test_errors_as_toxiproxy_answers_them(
    toxiproxy: Toxiproxy,
    upstream: Upstream,
    client: httpx.Client,
    method: str,
    path: str,
    body: object,
    status: int,
    error: str,
) -> None:
    toxiproxy.create(upstream=upstream.address, name="echo").add_toxic(type="latency", attributes={"latency": 1})
    answer = client.request(method, path, json=body)
    assert answer.status_code == status
    assert answer.json()["status"] == status
    assert error in answer.json()["error"]


def test_bad_json_is_a_400(toxiproxy: Toxiproxy, client: httpx.Client) -> None:
    answer = client.post("/proxies", content=b"{not json", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("bad request body")


def test_browsers_are_refused(toxiproxy: Toxiproxy, client: httpx.Client) -> None:
    assert client.get("/proxies", headers={"user-agent": "Mozilla/5.0"}).status_code == 403


def test_metrics_count_bytes_connections_and_toxics(
    toxiproxy: Toxiproxy, upstream: Upstream, client: httpx.Client
) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="counted")
    proxy.add_toxic(type="latency", attributes={"latency": 1})
    assert echo(proxy.listen, b"x" * 99 + b"\n") == b"x" * 99 + b"\n"
    labels = f'listener="{proxy.listen}",proxy="counted",upstream="{upstream.address}"'

    def metric(line_start: str) -> float | None:
        for line in client.get("/metrics").text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return None

    for direction in ("upstream", "downstream"):
        for kind in ("received", "sent"):
            name = f'toxiproxy_proxy_{kind}_bytes_total{{direction="{direction}",{labels}}}'
            assert wait_until(lambda name=name: metric(name) == 100.0), name  # type: ignore[misc]
    assert metric('vaxdrill_proxy_connections_total{proxy="counted"}') == 1.0
    assert metric('vaxdrill_proxy_toxics_active{proxy="counted",stream="downstream"}') == 1.0
    assert wait_until(lambda: metric('vaxdrill_proxy_connections_open{proxy="counted"}') == 0.0)


def test_config_file_creates_proxies_at_start(tmp_path: Path, upstream: Upstream) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "from_file", "listen": "127.0.0.1:0", "upstream": upstream.address}]))
    process = ProxyProcess("--config", str(config))
    try:
        with api(process) as http:
            listen = http.get("/proxies/from_file").json()["listen"]
        assert echo(listen) == b"hello\n"
    finally:
        assert process.stop() == 0
    assert any("proxy from_file" in line for line in process.lines)


def test_bad_config_file_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    import subprocess

    from tests.integration.proxy_support import VAXDRILL

    config = tmp_path / "proxies.json"
    config.write_text(json.dumps([{"name": "no_upstream"}]))
    done = subprocess.run(
        [str(VAXDRILL), "proxy", "--port", "0", "--config", str(config)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "missing required field: upstream at proxy 1" in done.stderr
    assert str(config) in done.stderr and "Traceback" not in done.stderr


def test_unused_port_is_refused_after_delete(toxiproxy: Toxiproxy, upstream: Upstream) -> None:
    proxy = toxiproxy.create(upstream=upstream.address, name="gone")
    proxy.destroy()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", int(proxy.listen.rsplit(":", 1)[1])), 2):
        pass


def test_api_port_in_use_is_one_line_and_a_non_zero_exit() -> None:
    import subprocess

    from tests.integration.proxy_support import VAXDRILL

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([str(VAXDRILL), "proxy", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "Traceback" not in done.stderr
