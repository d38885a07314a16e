"""Proxies and their toxics, with Toxiproxy's rules: what each API call does, its defaults and its errors.

A :class:`Proxy` listens on ``listen`` and joins each client to a new connection to ``upstream``. Disabling
it closes the listener and drops its open connections; changing ``listen`` or ``upstream`` restarts it.
:class:`Proxies` is the server's collection (names are unique), which the HTTP API and ``--config`` drive.

Random draws (toxicity, jitter, slicer sizes) come from one stream per proxy, toxic and connection number:
``SeedSequence(seed, spawn_key=(proxy, toxic, connection))``, so a drill that opens its connections in the
same order sees the same draws, whatever the timing.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from vaxdrill.proxy.link import DOWNSTREAM, UPSTREAM, Connection, Link
from vaxdrill.proxy.toxics import STREAMS, Stage, Toxic, ToxicError, toxic_from_json, update_from_json


@dataclass
class ApiError(Exception):
    """An API failure as Toxiproxy answers it: ``{"error": message, "status": status}``."""

    message: str
    status: int

    def __str__(self) -> str:
        return self.message

    def to_json(self) -> dict[str, Any]:
        return {"error": self.message, "status": self.status}


def bad_body(message: str) -> ApiError:
    return ApiError(f"bad request body: {message}", 400)


def split_address(address: str, field: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) as a host and a port number; 400 otherwise."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ApiError(f"bad request body: {field} must be host:port, got {address!r}", 400)
    return host.strip("[]"), int(port)


def join_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _key(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


class Proxy:
    """One proxy: a listener, its upstream, its toxics and its open connections."""

    def __init__(self, name: str, listen: str, upstream: str, seed: int) -> None:
        split_address(listen, "listen")
        split_address(upstream, "upstream")
        self.name = name
        self.listen = listen
        self.upstream = upstream
        self.seed = seed
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self.connections: set[Connection] = set()
        self.server: asyncio.Server | None = None
        self.opened = 0  # connections accepted since the proxy was created: numbers their random streams
        self.received = [0, 0]  # bytes read, per direction (UPSTREAM, DOWNSTREAM)
        self.sent = [0, 0]  # bytes written, per direction

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": [toxic.to_json() for toxic in self.toxic_list()],
        }

    def toxic_list(self) -> list[Toxic]:
        """Upstream toxics then downstream ones, each in the order added (Toxiproxy's listing order)."""
        return self.chain(UPSTREAM) + self.chain(DOWNSTREAM)

    def chain(self, direction: int) -> list[Toxic]:
        return [toxic for toxic in self.toxics.values() if toxic.stream == STREAMS[direction]]

    def stage(self, toxic: Toxic, link: Link, ordinal: int) -> Stage:
        seq = np.random.SeedSequence(self.seed, spawn_key=(_key(self.name), _key(toxic.name), ordinal))
        return toxic.stage(link, np.random.Generator(np.random.PCG64(seq)))

    def forget(self, connection: Connection) -> None:
        self.connections.discard(connection)

    async def start(self) -> None:
        if self.enabled:
            return
        host, port = split_address(self.listen, "listen")
        loop = asyncio.get_running_loop()
        try:
            self.server = await loop.create_server(self._accept, host, port, reuse_address=True)
        except OSError as exc:
            raise ApiError(f"listen tcp {self.listen}: {exc.strerror or exc}", 500) from None
        bound = self.server.sockets[0].getsockname()
        self.listen = join_address(bound[0], bound[1])
        self.enabled = True

    def _accept(self) -> asyncio.Protocol:
        self.opened += 1
        connection = Connection(self, self.opened, split_address(self.upstream, "upstream"))
        self.connections.add(connection)
        return connection.client

    def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self.server is not None:
            self.server.close()
            self.server = None
        for connection in list(self.connections):
            connection.close()
        self.connections.clear()
        self.enabled = False

    def differs(self, listen: str, upstream: str) -> bool:
        host, port = split_address(listen, "listen")
        if host == "localhost":
            host = "127.0.0.1"
        return join_address(host, port) != self.listen or upstream != self.upstream or port == 0

    async def update(self, body: dict[str, Any]) -> None:
        listen = _text(body, "listen", self.listen)
        upstream = _text(body, "upstream", self.upstream)
        enabled = _flag(body, "enabled", self.enabled)
        if self.differs(listen, upstream):
            split_address(upstream, "upstream")
            self.stop()
            self.listen, self.upstream = listen, upstream
        if enabled and not self.enabled:
            await self.start()
        elif not enabled and self.enabled:
            self.stop()

    def links(self, stream: str) -> list[Link]:
        direction = STREAMS.index(stream)
        return [c.links[direction] for c in self.connections if not c.connecting]

    def add_toxic(self, body: Any) -> Toxic:
        try:
            toxic = toxic_from_json(body)
        except ToxicError as exc:
            raise ApiError(str(exc), exc.status) from None
        if toxic.name in self.toxics:
            raise ApiError("toxic already exists", 409)
        self.toxics[toxic.name] = toxic
        for link in self.links(toxic.stream):
            link.add_stage(toxic)
        return toxic

    def get_toxic(self, name: str) -> Toxic:
        if name not in self.toxics:
            raise ApiError("toxic not found", 404)
        return self.toxics[name]

    def update_toxic(self, name: str, body: Any) -> Toxic:
        toxic = self.get_toxic(name)
        try:
            update_from_json(toxic, body)
        except ToxicError as exc:
            raise ApiError(str(exc), exc.status) from None
        for link in self.links(toxic.stream):
            link.restage(toxic)
        return toxic

    def remove_toxic(self, name: str) -> None:
        toxic = self.get_toxic(name)
        del self.toxics[name]
        for link in self.links(toxic.stream):
            link.remove_stage(toxic)


def _text(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_body(f"{key} must be a string, got {value!r}")
    return value


def _flag(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_body(f"{key} must be true or false, got {value!r}")
    return value


def _checked(body: Any, where: str = "") -> tuple[str, str, str, bool]:
    """Name, listen, upstream and enabled of a new proxy (Toxiproxy's missing-field errors)."""
    if not isinstance(body, dict):
        raise bad_body(f"expected a JSON object{where}")
    name = _text(body, "name", "")
    upstream = _text(body, "upstream", "")
    if not name:
        raise ApiError(f"missing required field: name{where}", 400)
    if not upstream:
        raise ApiError(f"missing required field: upstream{where}", 400)
    listen = _text(body, "listen", "") or "127.0.0.1:0"
    split_address(listen, "listen")
    split_address(upstream, "upstream")
    return name, listen, upstream, _flag(body, "enabled", True)


class Proxies:
    """The server's proxies by name."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.by_name: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        if name not in self.by_name:
            raise ApiError("proxy not found", 404)
        return self.by_name[name]

    async def create(self, body: Any) -> Proxy:
        name, listen, upstream, enabled = _checked(body)
        if name in self.by_name:
            raise ApiError("proxy already exists", 409)
        proxy = Proxy(name, listen, upstream, self.seed)
        if enabled:
            await proxy.start()
        self.by_name[name] = proxy
        return proxy

    async def populate(self, body: Any) -> tuple[list[Proxy], ApiError | None]:
        """Create or replace each proxy of a list; an unchanged one is kept as it is (and its toxics)."""
        if not isinstance(body, list):
            raise bad_body("expected a JSON list of proxies")
        wanted = [_checked(item, f" at proxy {i}") for i, item in enumerate(body, start=1)]
        done: list[Proxy] = []
        for name, listen, upstream, enabled in wanted:
            existing = self.by_name.get(name)
            if existing is not None and not existing.differs(listen, upstream):
                done.append(existing)
                continue
            if existing is not None:
                existing.stop()
            proxy = Proxy(name, listen, upstream, self.seed)
            try:
                if enabled:
                    await proxy.start()
            except ApiError as exc:
                return done, exc
            self.by_name[name] = proxy
            done.append(proxy)
        return done, None

    def delete(self, name: str) -> None:
        self.get(name).stop()
        del self.by_name[name]

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        for proxy in self.by_name.values():
            await proxy.start()
            for name in list(proxy.toxics):
                proxy.remove_toxic(name)

    def close(self) -> None:
        for proxy in self.by_name.values():
            proxy.stop()
