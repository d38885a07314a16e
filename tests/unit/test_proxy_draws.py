"""The proxy's random draws come from seeded streams: the same seed replays, another seed differs."""

from __future__ import annotations

from vaxdrill.proxy.link import Link
from vaxdrill.proxy.proxies import Proxy
from vaxdrill.proxy.toxics import LatencyStage, SlicerStage, Toxic, ToxicError, toxic_from_json


class NoLink:
    def close(self, reset: bool = False) -> None:
        raise AssertionError("no toxic here closes its link")


def stage(seed: int, body: dict[str, object], connection: int = 1, proxy: str = "server") -> object:
    toxic: Toxic = toxic_from_json(body)
    owner = Proxy(proxy, "127.0.0.1:0", "127.0.0.1:8000", seed)
    link: Link = NoLink()  # type: ignore[assignment]
    return owner.stage(toxic, link, connection)


JITTER = {"type": "latency", "attributes": {"latency": 100, "jitter": 50}}
SLICER = {"type": "slicer", "attributes": {"average_size": 10, "size_variation": 5}}


def jitter_sequence(seed: int, connection: int = 1, proxy: str = "server") -> list[int]:
    latency = stage(seed, JITTER, connection, proxy)
    assert isinstance(latency, LatencyStage)
    return [latency.delay() for _ in range(20)]


def test_the_same_seed_gives_the_same_jitter_sequence() -> None:
    first = jitter_sequence(7)
    assert first == jitter_sequence(7)
    assert all(50 <= d < 150 for d in first) and len(set(first)) > 5


def test_another_seed_connection_or_proxy_gives_another_sequence() -> None:
    first = jitter_sequence(7)
    assert first != jitter_sequence(8)
    assert first != jitter_sequence(7, connection=2)
    assert first != jitter_sequence(7, proxy="other")


def test_slicer_cuts_replay_and_cover_the_data() -> None:
    def cuts(seed: int) -> list[int]:
        slicer = stage(seed, SLICER)
        assert isinstance(slicer, SlicerStage)
        return slicer.cuts(0, 1000)

    first = cuts(3)
    assert first == cuts(3) and first != cuts(4)
    assert first[-1] == 1000 and first == sorted(set(first))
    sizes = [b - a for a, b in zip([0, *first], first, strict=False)]
    assert all(1 <= size <= 15 for size in sizes)


def test_toxicity_draw_is_per_connection_and_replays() -> None:
    body = {"type": "timeout", "toxicity": 0.5}
    applied = [stage(5, body, connection).active for connection in range(1, 41)]  # type: ignore[attr-defined]
    assert applied == [stage(5, body, c).active for c in range(1, 41)]  # type: ignore[attr-defined]
    assert 5 < sum(applied) < 35


def test_slicer_needs_an_average_size() -> None:
    try:
        toxic_from_json({"type": "slicer"})
    except ToxicError as exc:
        assert "average_size" in str(exc) and exc.status == 400
    else:
        raise AssertionError("a slicer without average_size was accepted")
