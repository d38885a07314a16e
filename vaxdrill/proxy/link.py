"""One proxied connection: the client's socket, the upstream socket and a link for each direction.

A link with no toxic writes each read straight to the other socket from the protocol callback (no
task, no queue: the proxy must cost little next to the server behind it). With toxics, reads are
stamped and queued, and a pump task passes them through the stages in order; a stage's waits then
hold later chunks back, which is also what pauses reading when the queue grows (back-pressure).

As in Toxiproxy, the end of one direction closes the whole connection: the end of data passes through
that direction's stages (``slow_close`` delays it), then the far socket closes, so the other direction
reads its end and closes the near one once its own pending data is out.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections import deque
from typing import TYPE_CHECKING, Protocol

from vaxdrill.proxy.toxics import Chunk, Stage

if TYPE_CHECKING:
    from vaxdrill.proxy.toxics import Toxic

log = logging.getLogger(__name__)
UPSTREAM, DOWNSTREAM = 0, 1  # client -> server, server -> client (the index into byte counters)
QUEUE_HIGH, QUEUE_LOW = 1024, 256  # queued chunks at which reading pauses and resumes


class Side(asyncio.Protocol):
    """One socket of a connection; hands what it reads to the link that reads from it."""

    def __init__(self, connection: Connection, reads: int) -> None:
        self.connection = connection
        self.reads = reads  # the direction this socket is the source of
        self.transport: asyncio.Transport | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.reads == UPSTREAM:  # the client's socket: now open the upstream one
            self.connection.accepted()
        else:  # the upstream socket: toxics in place before its first byte (a server may speak first)
            self.connection.upstream_made()

    def data_received(self, data: bytes) -> None:
        self.connection.links[self.reads].feed(data)

    def eof_received(self) -> bool:
        self.connection.links[self.reads].feed_eof()
        return True  # keep the socket open for the other direction's pending data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.writable.set()
        self.connection.links[self.reads].feed_eof()
        self.connection.side_lost()

    def pause_writing(self) -> None:
        self.writable.clear()
        self.connection.links[1 - self.reads].source_pause(True)

    def resume_writing(self) -> None:
        self.writable.set()
        self.connection.links[1 - self.reads].source_pause(False)

    def close(self, reset: bool = False) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:  # linger 0: close() sends RST and drops unsent data
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()
        else:
            self.transport.close()


class Link:
    """One direction of a connection: reads from ``source``, writes to ``dest`` through the stages."""

    def __init__(self, connection: Connection, direction: int, source: Side, dest: Side) -> None:
        self.connection = connection
        self.direction = direction
        self.source = source
        self.dest = dest
        self.stages: list[Stage] = []
        self.queue: deque[Chunk | None] = deque()
        self.pump: asyncio.Task[None] | None = None
        self.ended = False  # end of data seen (or the link closed): nothing more is read
        self.done = False  # the link finished: stages stopped, dest closed
        self.paused_by_queue = False
        self.paused_by_dest = False

    def feed(self, data: bytes) -> None:
        if self.ended:
            return
        self.connection.proxy.received[self.direction] += len(data)
        if not self.stages and self.pump is None:
            self._write(data)
            return
        self.queue.append(Chunk(data, asyncio.get_running_loop().time()))
        if len(self.queue) >= QUEUE_HIGH and not self.paused_by_queue:
            self.paused_by_queue = True
            self.update_reading()
        self._start_pump()

    def feed_eof(self) -> None:
        if self.ended:
            return
        self.ended = True
        if not self.stages and self.pump is None:
            self.finish()
            return
        self.queue.append(None)
        self._start_pump()

    def _write(self, data: bytes) -> None:
        transport = self.dest.transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        self.connection.proxy.sent[self.direction] += len(data)

    def _start_pump(self) -> None:
        if self.pump is None:
            self.pump = asyncio.get_running_loop().create_task(self._run_pump())

    async def _run_pump(self) -> None:
        try:
            while self.queue and not self.done:
                item = self.queue.popleft()
                if self.paused_by_queue and len(self.queue) <= QUEUE_LOW:
                    self.paused_by_queue = False
                    self.update_reading()
                stages = list(self.stages)
                if item is None:
                    if await self._eof_through(stages):
                        self.finish()
                    return
                await self._through(stages, 0, item)
        except Exception:  # a fault in a toxic must cost its connection, never the proxy
            log.exception("proxy %s: toxic failed; closing the connection", self.connection.proxy.name)
            self.close(reset=True)
        finally:
            self.pump = None

    async def _through(self, stages: list[Stage], index: int, chunk: Chunk) -> None:
        while index < len(stages) and not stages[index].active:
            index += 1
        if index == len(stages):
            if not chunk.data:
                return
            await self.dest.writable.wait()
            self._write(chunk.data)
            return

        async def emit(next_chunk: Chunk) -> None:
            await self._through(stages, index + 1, next_chunk)

        await stages[index].pipe(chunk, emit)

    async def _eof_through(self, stages: list[Stage]) -> bool:
        for stage in stages:
            if stage.active and not await stage.eof():
                return False
        return True

    def source_pause(self, paused: bool) -> None:
        self.paused_by_dest = paused
        self.update_reading()

    def update_reading(self) -> None:
        transport = self.source.transport
        if transport is None or transport.is_closing() or self.connection.connecting:
            return
        if self.paused_by_queue or self.paused_by_dest:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def add_stage(self, toxic: Toxic) -> None:
        if self.done:
            return
        stage = self.connection.proxy.stage(toxic, self, self.connection.ordinal)
        self.stages.append(stage)
        stage.start()

    def remove_stage(self, toxic: Toxic) -> None:
        for stage in self.stages:
            if stage.toxic is toxic:
                self.stages.remove(stage)
                stage.removed()
                return

    def restage(self, toxic: Toxic) -> None:
        """The toxic was updated: a new toxicity draw, as Toxiproxy restarts the toxic on each link."""
        for stage in self.stages:
            if stage.toxic is toxic:
                stage.draw()

    def close(self, reset: bool = False) -> None:
        """A stage closes the connection (Toxiproxy's ``stub.Close``): nothing more passes this way."""
        if reset:
            self.connection.reset = True
        self.ended = True
        self.queue.clear()
        self.finish()

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        for stage in self.stages:
            stage.stop()
        self.dest.close(reset=self.connection.reset)
        if self.connection.reset:
            self.source.close(reset=True)


class Connection:
    """A client's connection and its upstream connection, joined by two links."""

    def __init__(self, proxy: ConnectionOwner, ordinal: int, upstream: tuple[str, int]) -> None:
        self.proxy = proxy
        self.upstream = upstream
        self.ordinal = ordinal  # the connection's number on its proxy: keys its random streams
        self.reset = False
        self.connecting = True
        self.dropped = False
        self.client = Side(self, UPSTREAM)
        self.server = Side(self, DOWNSTREAM)
        self.links = (
            Link(self, UPSTREAM, self.client, self.server),
            Link(self, DOWNSTREAM, self.server, self.client),
        )
        self.task: asyncio.Task[None] | None = None

    def accepted(self) -> None:
        """The client is connected: open the upstream connection; meanwhile the client's data waits."""
        assert self.client.transport is not None
        self.client.transport.pause_reading()
        self.task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.server, *self.upstream)
        except OSError:
            self.client.close()  # as Toxiproxy: no upstream, so the client's connection closes
            return
        if self.dropped or self.client.closed:
            self.close()
        else:
            self.links[UPSTREAM].update_reading()

    def upstream_made(self) -> None:
        self.connecting = False
        for link in self.links:
            for toxic in self.proxy.chain(link.direction):
                link.add_stage(toxic)

    def close(self) -> None:
        """Drop the connection now (the proxy was disabled, moved or deleted)."""
        self.dropped = True
        for link in self.links:
            link.ended = True
            link.queue.clear()
            link.done = True
            for stage in link.stages:
                stage.stop()
        self.client.close(reset=self.reset)
        self.server.close(reset=self.reset)

    def side_lost(self) -> None:
        if self.client.closed and (self.server.closed or self.server.transport is None):
            self.proxy.forget(self)
            for link in self.links:
                for stage in link.stages:
                    stage.stop()


class ConnectionOwner(Protocol):
    """What a connection needs from its proxy (:class:`vaxdrill.proxy.proxies.Proxy`)."""

    name: str
    received: list[int]
    sent: list[int]

    def chain(self, direction: int) -> list[Toxic]:
        """The toxics of one direction, in the order they were added."""

    def stage(self, toxic: Toxic, link: Link, ordinal: int) -> Stage:
        """A toxic's state on one link, with its own seeded random stream."""

    def forget(self, connection: Connection) -> None:
        """The connection is closed on both sides."""
