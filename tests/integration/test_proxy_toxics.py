"""What each toxic does to real connections through ``vaxdrill proxy``, set up with toxiproxy-python.

Bounds are one-sided where timing is involved (a toxic adds at least its delay) with generous ceilings,
so a loaded machine makes a test slower, not red.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from toxiproxy import Toxiproxy
from toxiproxy.proxy import Proxy

from tests.integration.proxy_support import ProxyProcess, Upstream, api, clean, closed_within, connect, receive


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def proxy_process() -> Iterator[ProxyProcess]:
    process = ProxyProcess("--seed", "11")
    yield process
    assert process.stop() == 0


@pytest.fixture
def proxy(proxy_process: ProxyProcess, upstream: Upstream) -> Iterator[Proxy]:
    server = Toxiproxy()
    server.update_api_consumer(proxy_process.host, proxy_process.port)
    yield server.create(upstream=upstream.address, name="faulty")
    clean(proxy_process)


@pytest.fixture
def client(proxy_process: ProxyProcess) -> Iterator[httpx.Client]:
    with api(proxy_process) as http:
        yield http


def round_trip(sock: socket.socket, text: bytes = b"ping\n") -> float:
    started = time.perf_counter()
    sock.sendall(text)
    assert receive(sock, len(text)) == text
    return time.perf_counter() - started


def test_latency_adds_at_least_its_delay_each_way(proxy: Proxy) -> None:
    with connect(proxy.listen) as sock:
        plain = min(round_trip(sock) for _ in range(3))
        proxy.add_toxic(type="latency", attributes={"latency": 150})
        delayed = [round_trip(sock) for _ in range(3)]  # the toxic reaches a connection already open
        assert min(delayed) >= 0.14 and max(delayed) < 5
        proxy.add_toxic(type="latency", stream="upstream", attributes={"latency": 100})
        assert round_trip(sock) >= 0.24, "an upstream toxic delays the request too"
    assert plain < 0.14


def test_latency_delays_back_to_back_chunks_together(proxy: Proxy) -> None:
    proxy.add_toxic(type="latency", attributes={"latency": 200})
    with connect(proxy.listen) as sock:
        started = time.perf_counter()
        for i in range(10):  # ten separate answers, each read as it comes
            sock.sendall(b"%d\n" % i)
            time.sleep(0.01)
        assert receive(sock, 20) == b"".join(b"%d\n" % i for i in range(10))
        elapsed = time.perf_counter() - started
    assert 0.2 <= elapsed < 1.5, "chunks are delayed from when each was read, not one after another"


def test_bandwidth_limits_the_rate(proxy: Proxy) -> None:
    proxy.add_toxic(type="bandwidth", attributes={"rate": 20})  # 20 KB/s
    with connect(proxy.listen) as sock:
        started = time.perf_counter()
        sock.sendall(b"SEND 40000\n")
        assert receive(sock, 40_000, deadline=30) == b"x" * 40_000
        elapsed = time.perf_counter() - started
    assert elapsed >= 1.7, f"40 KB at 20 KB/s took {elapsed:.2f} s"
    assert elapsed < 10


def test_timeout_zero_holds_data_until_removed_then_closes(proxy: Proxy) -> None:
    with connect(proxy.listen) as sock:
        assert round_trip(sock) < 5
        proxy.add_toxic(type="timeout", attributes={"timeout": 0})
        sock.sendall(b"held\n")
        assert not closed_within(sock, 0.5), "nothing comes back and the connection stays open"
        proxy.destroy_toxic("timeout_downstream")
        assert closed_within(sock, 5), "removing the toxic closes the connection (Toxiproxy)"


def test_timeout_closes_after_its_delay(proxy: Proxy) -> None:
    proxy.add_toxic(type="timeout", attributes={"timeout": 300})
    with connect(proxy.listen) as sock:
        started = time.perf_counter()
        sock.sendall(b"lost\n")
        assert closed_within(sock, 5)
        assert time.perf_counter() - started >= 0.25


def test_reset_peer_resets_the_connection(proxy: Proxy) -> None:
    proxy.add_toxic(type="reset_peer", attributes={"timeout": 0})
    with connect(proxy.listen) as sock:
        sock.sendall(b"ping\n")
        sock.settimeout(5)
        with pytest.raises(ConnectionResetError):
            while sock.recv(100):
                pass


def test_limit_data_closes_after_n_bytes(proxy: Proxy) -> None:
    proxy.add_toxic(type="limit_data", attributes={"bytes": 10})
    with connect(proxy.listen) as sock:
        sock.sendall(b"SEND 100\n")
        assert receive(sock, 100) == b"x" * 10
        assert closed_within(sock, 5)


def test_slicer_splits_data_into_pieces(proxy: Proxy) -> None:
    proxy.add_toxic(type="slicer", attributes={"average_size": 10, "size_variation": 4, "delay": 30_000})
    with connect(proxy.listen) as sock:
        started = time.perf_counter()
        sock.sendall(b"SEND 100\n")
        pieces: list[bytes] = []
        while sum(map(len, pieces)) < 100 and time.perf_counter() - started < 10:
            sock.settimeout(5)
            pieces.append(sock.recv(100))
        elapsed = time.perf_counter() - started
    assert b"".join(pieces) == b"x" * 100
    assert len(pieces) >= 2, "the answer arrives in several pieces"
    assert elapsed >= 0.15, "with a delay between pieces (at least 6 pieces of at most 14 bytes)"


def test_slow_close_delays_the_close(proxy: Proxy) -> None:
    proxy.add_toxic(type="slow_close", attributes={"delay": 500})
    with connect(proxy.listen) as sock:
        sock.sendall(b"BYE\n")
        assert receive(sock, 4) == b"bye\n"
        answered = time.perf_counter()
        assert closed_within(sock, 5)
        assert time.perf_counter() - answered >= 0.4


def test_toxicity_zero_never_applies(proxy: Proxy) -> None:
    proxy.add_toxic(type="latency", toxicity=0.0, attributes={"latency": 2000})
    for _ in range(5):
        with connect(proxy.listen) as sock:
            assert round_trip(sock) < 1.5


def test_toxicity_half_applies_to_some_connections(proxy: Proxy) -> None:
    proxy.add_toxic(type="latency", toxicity=0.5, attributes={"latency": 300})
    delays = []
    for _ in range(16):
        with connect(proxy.listen) as sock:
            delays.append(round_trip(sock))
    slow = sum(d >= 0.29 for d in delays)
    assert 0 < slow < 16, f"{slow} of 16 connections got the toxic"


def test_disabling_drops_connections_held_by_a_toxic(proxy: Proxy) -> None:
    proxy.add_toxic(type="latency", attributes={"latency": 10_000})
    with connect(proxy.listen) as sock:
        sock.sendall(b"ping\n")
        proxy.disable()
        assert closed_within(sock, 5)


def test_updating_a_toxic_reaches_open_connections(proxy: Proxy, client: httpx.Client) -> None:
    proxy.add_toxic(type="latency", attributes={"latency": 0})
    with connect(proxy.listen) as sock:
        assert round_trip(sock) < 0.25
        answer = client.post("/proxies/faulty/toxics/latency_downstream", json={"attributes": {"latency": 300}})
        assert answer.status_code == 200
        assert round_trip(sock) >= 0.29


def test_a_server_that_speaks_first_meets_the_toxics(proxy_process: ProxyProcess, client: httpx.Client) -> None:
    greeter = Upstream(greeting=b"220 ready\n")
    try:
        made = client.post("/proxies", json={"name": "greeter", "upstream": greeter.address})
        client.post("/proxies/greeter/toxics", json={"type": "latency", "attributes": {"latency": 300}})
        started = time.perf_counter()
        with connect(made.json()["listen"]) as sock:
            assert receive(sock, 10) == b"220 ready\n"
        assert time.perf_counter() - started >= 0.29, "the greeting is delayed too"
    finally:
        client.delete("/proxies/greeter")
        greeter.stop()


def test_no_upstream_closes_the_client(proxy_process: ProxyProcess, client: httpx.Client) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{unused.getsockname()[1]}"  # bound, never listening: connections are refused
        made = client.post("/proxies", json={"name": "nowhere", "upstream": dead})
        try:
            with connect(made.json()["listen"]) as sock:
                assert closed_within(sock, 5)
        finally:
            client.delete("/proxies/nowhere")
