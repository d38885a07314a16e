"""Toxics: what a proxy does to the bytes of one direction of a connection (Toxiproxy's toxics).

A :class:`Toxic` is the configuration the API shows (``name``, ``type``, ``stream``, ``toxicity``,
``attributes``). Each connection's link builds a :class:`Stage` from it: the per-connection state (its
random stream, whether the toxicity draw applied it, counters, timers). A stage receives each chunk with
the time it was read and passes what it lets through to ``emit``; stages run in the order the toxics
were added, and a stage reads its toxic's attributes live, so an update reaches open connections.

Units follow Toxiproxy: milliseconds, KB/s with 1 KB = 1000 bytes, the slicer's delay in microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np

STREAMS = ("upstream", "downstream")


class ToxicError(ValueError):
    """Input a toxic cannot take; the API answers it with ``status``."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Chunk:
    """Bytes read from one side, stamped with the event-loop time they were read at."""

    data: bytes
    stamp: float


Emit = Callable[[Chunk], Awaitable[None]]


class LinkControl(Protocol):
    """What a stage may do to its connection besides passing data on."""

    def close(self, reset: bool = False) -> None:
        """Close the connection (``reset``: with a TCP RST, dropping unsent data)."""


@dataclass
class Toxic:
    """A toxic as the API shows it; subclasses name their integer attributes in ``fields``."""

    kind: ClassVar[str] = ""  # the JSON "type"
    fields: ClassVar[tuple[str, ...]] = ()
    stage_class: ClassVar[type[Stage]]
    name: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.attributes = {key: int(self.attributes.get(key, 0)) for key in self.fields}

    def to_json(self) -> dict[str, Any]:
        return {
            "attributes": dict(self.attributes),
            "name": self.name,
            "type": self.kind,
            "stream": self.stream,
            "toxicity": self.toxicity,
        }

    def stage(self, link: LinkControl, rng: np.random.Generator) -> Stage:
        """This toxic's state on one connection."""
        return self.stage_class(self, link, rng)

    def check(self) -> None:
        """Raise :class:`ToxicError` for attributes this toxic cannot work with."""


class Stage:
    """One toxic on one link. The base passes data through unchanged."""

    def __init__(self, toxic: Toxic, link: LinkControl, rng: np.random.Generator) -> None:
        self.toxic = toxic
        self.link = link
        self.rng = rng
        self.active = False
        self.gone = asyncio.Event()  # set when the toxic is removed or the link ends: pending waits end
        self.draw()

    def draw(self) -> None:
        """Whether this connection gets the toxic: one draw per connection (and per update), as Toxiproxy."""
        self.active = bool(self.rng.random() < self.toxic.toxicity)

    def attr(self, key: str) -> int:
        return self.toxic.attributes[key]

    def start(self) -> None:
        """The stage joined its link (at connect, or when the toxic was added)."""

    def stop(self) -> None:
        """The link ended: cancel timers, end waits."""
        self.gone.set()

    def removed(self) -> None:
        """The toxic was removed from the proxy while this link was open."""
        self.stop()

    async def sleep(self, seconds: float) -> None:
        """Wait, but no longer than until the toxic is removed (then the data flows on, as Toxiproxy)."""
        if seconds <= 0 or self.gone.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.gone.wait(), seconds)

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        await emit(chunk)

    async def eof(self) -> bool:
        """The source closed; return False to stop here (the stage closed the link itself)."""
        return True


class LatencyStage(Stage):
    def delay(self) -> int:
        """Milliseconds for the next chunk: ``latency`` plus a uniform draw in [-jitter, jitter)."""
        jitter = self.attr("jitter")
        if jitter > 0:
            return self.attr("latency") + int(self.rng.integers(-jitter, jitter))
        return self.attr("latency")

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        delay = self.delay()
        # Counted from when the chunk was read, so back-to-back chunks are delayed together, not in series.
        loop = asyncio.get_running_loop()
        wait = chunk.stamp + delay / 1000 - loop.time()
        await self.sleep(wait)
        chunk.stamp += max(wait, 0.0)
        await emit(chunk)


class BandwidthStage(Stage):
    def __init__(self, toxic: Toxic, link: LinkControl, rng: np.random.Generator) -> None:
        super().__init__(toxic, link, rng)
        self.debt = 0.0  # seconds of sending time owed; negative after oversleeping, which the next chunk uses up

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        rate = self.attr("rate") * 1000  # bytes per second
        if rate <= 0:
            self.debt = 0.0
            await emit(chunk)
            return
        self.debt += len(chunk.data) / rate
        data = chunk.data
        slice_size = rate // 10  # a tenth of a second's worth at a time, so a large read trickles out
        while len(data) > slice_size and not self.gone.is_set():
            await self.sleep(0.1)
            await emit(Chunk(data[:slice_size], chunk.stamp))
            data = data[slice_size:]
            self.debt -= 0.1
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.sleep(self.debt)
        self.debt -= loop.time() - started
        await emit(Chunk(data, chunk.stamp))


class SlowCloseStage(Stage):
    async def eof(self) -> bool:
        await self.sleep(self.attr("delay") / 1000)
        return True


class TimeoutStage(Stage):
    """Swallows data; closes the link after ``timeout`` ms, or (0) when the toxic is removed."""

    timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self.active and self.attr("timeout") > 0:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(self.attr("timeout") / 1000, self.link.close)

    def stop(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        super().stop()

    def removed(self) -> None:
        self.stop()
        if self.active:
            self.link.close()  # as Toxiproxy: a connection that timed out does not come back

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        return


class ResetPeerStage(Stage):
    """On the first data (or end of data), waits ``timeout`` ms, then resets the connection."""

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        await self.sleep(self.attr("timeout") / 1000)
        self.link.close(reset=True)

    async def eof(self) -> bool:
        await self.sleep(self.attr("timeout") / 1000)
        self.link.close(reset=True)
        return False


class SlicerStage(Stage):
    def cuts(self, start: int, end: int) -> list[int]:
        """Boundaries after ``start``: halve around the middle ± variation until pieces are near average."""
        average, variation = self.attr("average_size"), self.attr("size_variation")
        if (end - start) - average <= variation:
            return [end]
        middle = start + (end - start) // 2
        if variation > 0:
            middle += int(self.rng.integers(-variation, variation))
        middle = min(max(middle, start + 1), end - 1)
        return self.cuts(start, middle) + self.cuts(middle, end)

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        start = 0
        for end in self.cuts(0, len(chunk.data)):
            await emit(Chunk(chunk.data[start:end], chunk.stamp))
            start = end
            await self.sleep(self.attr("delay") / 1_000_000)


class LimitDataStage(Stage):
    def __init__(self, toxic: Toxic, link: LinkControl, rng: np.random.Generator) -> None:
        super().__init__(toxic, link, rng)
        self.sent = 0

    async def pipe(self, chunk: Chunk, emit: Emit) -> None:
        room = max(self.attr("bytes") - self.sent, 0)
        data = chunk.data[:room]
        if data:
            self.sent += len(data)
            await emit(Chunk(data, chunk.stamp))
        if self.attr("bytes") - self.sent <= 0:
            self.link.close()


class Latency(Toxic):
    kind = "latency"
    fields = ("latency", "jitter")
    stage_class = LatencyStage


class Bandwidth(Toxic):
    kind = "bandwidth"
    fields = ("rate",)
    stage_class = BandwidthStage


class SlowClose(Toxic):
    kind = "slow_close"
    fields = ("delay",)
    stage_class = SlowCloseStage


class Timeout(Toxic):
    kind = "timeout"
    fields = ("timeout",)
    stage_class = TimeoutStage


class ResetPeer(Toxic):
    kind = "reset_peer"
    fields = ("timeout",)
    stage_class = ResetPeerStage


class Slicer(Toxic):
    kind = "slicer"
    fields = ("average_size", "size_variation", "delay")
    stage_class = SlicerStage

    def check(self) -> None:
        if self.attributes["average_size"] < 1:
            raise ToxicError("slicer: attributes.average_size must be at least 1 byte")


class LimitData(Toxic):
    kind = "limit_data"
    fields = ("bytes",)
    stage_class = LimitDataStage


TOXICS: dict[str, type[Toxic]] = {
    cls.kind: cls for cls in (Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData)
}


def _attributes(cls: type[Toxic], raw: Any, current: dict[str, int]) -> dict[str, int]:
    if raw is None:
        return dict(current)
    if not isinstance(raw, dict):
        raise ToxicError("bad request body: attributes must be an object")
    merged = dict(current)
    for key in cls.fields:
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
                raise ToxicError(f"bad request body: attributes.{key} must be an integer, got {value!r}")
            if value < 0:
                raise ToxicError(f"bad request body: attributes.{key} must be 0 or more, got {value}")
            merged[key] = int(value)
    return merged


def _toxicity(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
        raise ToxicError(f"bad request body: toxicity must be a number from 0 to 1, got {raw!r}")
    return float(raw)


def toxic_from_json(body: Any) -> Toxic:
    """A new toxic from a ``POST /proxies/{proxy}/toxics`` body (Toxiproxy's defaults and errors)."""
    if not isinstance(body, dict):
        raise ToxicError("bad request body: expected a JSON object")
    stream = body.get("stream", "downstream")
    if not isinstance(stream, str) or stream.lower() not in STREAMS:
        raise ToxicError("stream was invalid, can be either upstream or downstream")
    stream = stream.lower()
    kind = body.get("type")
    if not isinstance(kind, str) or kind not in TOXICS:
        raise ToxicError(f"invalid toxic type: {kind!r} (one of {', '.join(TOXICS)})")
    name = body.get("name") or f"{kind}_{stream}"
    if not isinstance(name, str):
        raise ToxicError("bad request body: name must be a string")
    cls = TOXICS[kind]
    toxic = cls(
        name=name,
        stream=stream,
        toxicity=_toxicity(body.get("toxicity", 1.0)),
        attributes=_attributes(cls, body.get("attributes"), dict.fromkeys(cls.fields, 0)),
    )
    toxic.check()
    return toxic


def update_from_json(toxic: Toxic, body: Any) -> None:
    """Apply a ``POST /proxies/{proxy}/toxics/{toxic}`` body: attributes and toxicity only, unset ones kept."""
    if not isinstance(body, dict):
        raise ToxicError("bad request body: expected a JSON object")
    attributes = _attributes(type(toxic), body.get("attributes"), toxic.attributes)
    toxicity = _toxicity(body.get("toxicity", toxic.toxicity))
    previous = toxic.attributes
    toxic.attributes = attributes
    try:
        toxic.check()
    except ToxicError:
        toxic.attributes = previous
        raise
    toxic.toxicity = toxicity
