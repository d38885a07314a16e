"""Helpers of the ``vaxdrill proxy`` tests: the proxy as a process, an upstream server, sockets with deadlines."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VAXDRILL = Path(sys.executable).with_name("vaxdrill")


class Upstream:
    """A tiny asyncio server on 127.0.0.1, in a thread of its own.

    Each line it reads is an order: ``SEND n`` answers n bytes of ``x``; ``BYE`` answers ``bye`` and
    closes; any other line comes back as it is (an echo). With ``greeting``, it speaks first.
    """

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the upstream server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self.greeting:
                writer.write(self.greeting)
            while line := await reader.readline():
                if line.startswith(b"SEND "):
                    writer.write(b"x" * int(line.split()[1]))
                elif line.strip() == b"BYE":
                    writer.write(b"bye\n")
                    await writer.drain()
                    break
                else:
                    writer.write(line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


class ProxyProcess:
    """``vaxdrill proxy --port 0`` as a child process; ``url`` is its API once it says it listens."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [str(VAXDRILL), "proxy", "--port", "0", *args],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env={**os.environ, "COLUMNS": "200"},
        )
        self.lines: list[str] = []
        assert self.process.stderr is not None
        for line in self.process.stderr:  # the first line says where the API listens
            self.lines.append(line)
            if "API on http://" in line:
                self.url = line.split("API on ", 1)[1].split()[0]
                self.host, port = self.url.removeprefix("http://").rsplit(":", 1)
                self.port = int(port)
                return
        raise RuntimeError(f"vaxdrill proxy did not start: {''.join(self.lines)}")

    def stop(self) -> int:
        self.process.send_signal(2)  # SIGINT, as Ctrl-C
        try:
            return self.process.wait(15)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            assert self.process.stderr is not None
            self.lines.extend(self.process.stderr.readlines())
            self.process.stderr.close()


def connect(address: str, timeout: float = 5.0) -> socket.socket:
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def receive(sock: socket.socket, size: int, deadline: float = 10.0) -> bytes:
    """Read exactly ``size`` bytes, or fewer if the peer closes first (within ``deadline`` seconds)."""
    data = b""
    end = time.monotonic() + deadline
    while len(data) < size and time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        piece = sock.recv(size - len(data))
        if not piece:
            break
        data += piece
    return data


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the peer closes (EOF or reset) within ``seconds``; data read meanwhile is dropped."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sock.settimeout(max(end - time.monotonic(), 0.01))
        try:
            if not sock.recv(65536):
                return True
        except TimeoutError:
            return False
        except ConnectionError:
            return True
    return False


def wait_until(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()


def api(proxy: ProxyProcess) -> httpx.Client:
    return httpx.Client(base_url=proxy.url, timeout=10.0)


def clean(proxy: ProxyProcess) -> None:
    """Between tests: no proxy left over."""
    with api(proxy) as client:
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{name}")
