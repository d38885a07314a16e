"""A small Toxiproxy client, and ``vaxdrill proxy`` as a child process: a load test's path to its target.

Only Toxiproxy's documented endpoints are used (``/version``, ``/proxies``, ``/proxies/{name}``,
``/proxies/{name}/toxics``, ``/proxies/{name}/toxics/{toxic}``), so a real Toxiproxy server works as
well as ``vaxdrill proxy``. :func:`route` gives a run a proxy in front of its target::

    with route("http://127.0.0.1:8000", None, folder, "vaxdrill-run") as hop:
        locust_host = hop.url  # http://127.0.0.1:<port of the proxy>

Errors (:mod:`vaxdrill.core.errors`): :class:`~vaxdrill.core.errors.ProcessFailed` (exit 3) when the
proxy cannot be started or a Toxiproxy cannot be reached or refuses the proxy.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

import httpx

from vaxdrill.core.errors import ProcessFailed
from vaxdrill.loadtest.procs import ROOT, free_port


class ToxiproxyError(Exception):
    """A Toxiproxy answer other than success (status and its message), or no answer at all."""


class Toxiproxy:
    """The HTTP API of a Toxiproxy (or ``vaxdrill proxy``) at ``url``."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        try:
            resp = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"{method} {self.url}{path}: no answer ({exc})") from None
        if resp.status_code >= 300:
            raise ToxiproxyError(f"{method} {self.url}{path}: HTTP {resp.status_code} {resp.text.strip()[:200]}")
        return (
            resp.json()
            if resp.content and resp.headers.get("content-type", "").startswith("application/json")
            else None
        )

    def version(self) -> str:
        try:
            resp = self.http.get("/version")
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"GET {self.url}/version: no answer ({exc})") from None
        if resp.status_code != 200:
            raise ToxiproxyError(f"GET {self.url}/version: HTTP {resp.status_code}")
        return resp.text.strip()

    def create_proxy(self, name: str, listen: str, upstream: str) -> dict[str, Any]:
        """Create an enabled proxy; the answer's ``listen`` holds the port chosen for ``:0``."""
        answer = self._call("POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True})
        chosen = str(answer.get("listen", "")) if isinstance(answer, dict) else ""
        if not chosen or chosen.endswith(":0"):
            raise ToxiproxyError(f"POST {self.url}/proxies: the answer names no listening port: {answer!r}")
        return dict(answer)

    def delete_proxy(self, name: str) -> None:
        self._call("DELETE", f"/proxies/{name}")

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{name}", {"enabled": enabled})

    def add_toxic(self, proxy: str, toxic: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", f"/proxies/{proxy}/toxics", toxic)
        return answer

    def remove_toxic(self, proxy: str, toxic: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")

    def close(self) -> None:
        self.http.close()


class ProxyProcess:
    """``vaxdrill proxy`` on a free loopback port, its output in ``log``; a context manager."""

    def __init__(self, log: Path, seed: int = 0, ready_timeout: float = 20.0) -> None:
        self.log, self.seed, self.ready_timeout = log, seed, ready_timeout
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ProxyProcess:
        self.port = free_port()
        cmd = [sys.executable, "-m", "vaxdrill", "proxy", "--host", "127.0.0.1", "--port", str(self.port),
               "--seed", str(self.seed)]  # fmt: skip
        self._out = self.log.open("w+b")
        self.proc = subprocess.Popen(cmd, stdout=self._out, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        client = Toxiproxy(self.url, timeout=1.0)
        deadline = time.monotonic() + self.ready_timeout
        try:
            while True:
                if self.proc.poll() is not None:
                    raise ProcessFailed(f"vaxdrill proxy exited with code {self.proc.returncode}:\n{self._tail()}")
                with contextlib.suppress(ToxiproxyError):
                    client.version()
                    return self
                if time.monotonic() > deadline:
                    raise ProcessFailed(
                        f"vaxdrill proxy did not answer within {self.ready_timeout:g} s:\n{self._tail()}"
                    )
                time.sleep(0.1)
        except BaseException:
            self.stop()
            raise
        finally:
            client.close()

    def _tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: the proxy drops its connections and ends
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._out is not None:
            self._out.close()
            self._out = None

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Hop:
    """A proxy in front of a run's target: Locust loads ``url``; faults go to ``api`` for ``proxy``."""

    url: str
    api: str
    proxy: str
    target: str

    def environ(self) -> dict[str, str]:
        """What the Locust processes need: where to send network faults, and the target for admin calls."""
        return {
            "VAXDRILL_TOXIPROXY": self.api,
            "VAXDRILL_TOXIPROXY_PROXY": self.proxy,
            "VAXDRILL_ADMIN_HOST": self.target,
        }


def upstream_of(url: str) -> str:
    """``host:port`` of a target URL (the port from the scheme when the URL has none)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@contextlib.contextmanager
def route(target: str, toxiproxy: str | None, folder: Path, name: str, seed: int = 0) -> Iterator[Hop]:
    """A proxy from a free loopback port to ``target``: on the Toxiproxy at ``toxiproxy``, or on a
    ``vaxdrill proxy`` started for the run (log ``folder/proxy.log``). The proxy is deleted afterwards."""
    with contextlib.ExitStack() as stack:
        if toxiproxy is None:
            api = stack.enter_context(ProxyProcess(folder / "proxy.log", seed=seed)).url
        else:
            api = toxiproxy.rstrip("/")
        client = Toxiproxy(api)
        stack.callback(client.close)
        try:
            client.version()
            with contextlib.suppress(ToxiproxyError):  # left over from an interrupted run of the same name
                client.delete_proxy(name)
            created = client.create_proxy(name, "127.0.0.1:0", upstream_of(target))
        except ToxiproxyError as exc:
            raise ProcessFailed(f"could not set up the network-fault proxy: {exc}") from None
        scheme = urlsplit(target).scheme or "http"
        try:
            yield Hop(url=f"{scheme}://{created['listen']}", api=api, proxy=name, target=target)
        finally:
            with contextlib.suppress(ToxiproxyError):
                client.delete_proxy(name)
