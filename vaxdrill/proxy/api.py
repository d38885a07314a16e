"""Toxiproxy's HTTP API over :class:`~vaxdrill.proxy.proxies.Proxies`, on FastAPI, plus ``/metrics``.

Status codes, bodies and defaults are Toxiproxy's (``api.go``): 201 for a created proxy and for
``/populate``, 200 for a created toxic, 204 for deletes and ``/reset``, errors as
``{"error": ..., "status": ...}``; updates accept POST or PATCH. As Toxiproxy, requests from a browser
(a ``Mozilla/`` user agent) are refused with 403, so a web page cannot drive the proxy.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vaxdrill.core.version import __version__
from vaxdrill.proxy.link import DOWNSTREAM, UPSTREAM
from vaxdrill.proxy.proxies import ApiError, Proxies, bad_body

CONTENT_TYPE_METRICS = "text/plain; version=0.0.4; charset=utf-8"


class ProxyCollector(Collector):
    """Prometheus metrics read from the live proxies at scrape time (nothing counted twice per chunk).

    The byte counters carry Toxiproxy's names and labels; connections and active toxics are ours.
    """

    def __init__(self, proxies: Proxies) -> None:
        self.proxies = proxies

    def collect(self) -> Iterator[Metric]:
        labels = ["direction", "proxy", "listener", "upstream"]
        received = CounterMetricFamily("toxiproxy_proxy_received_bytes", "Bytes read from a side.", labels=labels)
        sent = CounterMetricFamily("toxiproxy_proxy_sent_bytes", "Bytes written to the other side.", labels=labels)
        opened = CounterMetricFamily("vaxdrill_proxy_connections", "Connections accepted.", labels=["proxy"])
        open_now = GaugeMetricFamily("vaxdrill_proxy_connections_open", "Connections open now.", labels=["proxy"])
        toxics = GaugeMetricFamily("vaxdrill_proxy_toxics_active", "Toxics on the proxy.", labels=["proxy", "stream"])
        enabled = GaugeMetricFamily("vaxdrill_proxy_enabled", "1 if the proxy is enabled.", labels=["proxy"])
        for proxy in self.proxies.by_name.values():
            for direction, stream in ((UPSTREAM, "upstream"), (DOWNSTREAM, "downstream")):
                values = [stream, proxy.name, proxy.listen, proxy.upstream]
                received.add_metric(values, proxy.received[direction])
                sent.add_metric(values, proxy.sent[direction])
                toxics.add_metric([proxy.name, stream], len(proxy.chain(direction)))
            opened.add_metric([proxy.name], proxy.opened)
            open_now.add_metric([proxy.name], len(proxy.connections))
            enabled.add_metric([proxy.name], 1.0 if proxy.enabled else 0.0)
        yield from (received, sent, opened, open_now, toxics, enabled)


def _answer(data: Any, status: int = 200) -> Response:
    return JSONResponse(data, status_code=status)


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_body(str(exc)) from None


def build_app(proxies: Proxies) -> FastAPI:
    """The ASGI app of the API over ``proxies`` (one event loop: the proxies run beside it)."""
    app = FastAPI(title="vaxdrill proxy", openapi_url=None, docs_url=None, redoc_url=None)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProxyCollector(proxies))
    lock = asyncio.Lock()  # one change at a time, as Toxiproxy's collection lock

    @app.middleware("http")
    async def toxiproxy_rules(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.headers.get("user-agent", "").startswith("Mozilla/"):
            return Response("User agent not allowed\n", status_code=403, media_type="text/plain")
        async with lock:
            return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> Response:
        return _answer(exc.to_json(), exc.status)

    @app.get("/version")
    async def version() -> Response:
        return _answer({"version": __version__})

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_METRICS)

    @app.post("/reset")
    async def reset() -> Response:
        await proxies.reset()
        return Response(status_code=204)

    @app.get("/proxies")
    async def proxy_index() -> Response:
        return _answer({name: proxy.to_json() for name, proxy in proxies.by_name.items()})

    @app.post("/proxies")
    async def proxy_create(request: Request) -> Response:
        proxy = await proxies.create(await _body(request))
        return _answer(proxy.to_json(), 201)

    @app.post("/populate")
    async def populate(request: Request) -> Response:
        body = await _body(request)
        if isinstance(body, dict) and "proxies" in body:  # Toxiproxy's clients send a bare list; accept both
            body = body["proxies"]
        done, error = await proxies.populate(body)
        answer: dict[str, Any] = {"proxies": [proxy.to_json() for proxy in done]}
        if error is not None:
            return _answer({**error.to_json(), **answer}, error.status)
        return _answer(answer, 201)

    @app.get("/proxies/{name}")
    async def proxy_show(name: str) -> Response:
        return _answer(proxies.get(name).to_json())

    @app.api_route("/proxies/{name}", methods=["POST", "PATCH"])
    async def proxy_update(name: str, request: Request) -> Response:
        proxy = proxies.get(name)
        body = await _body(request)
        if not isinstance(body, dict):
            raise bad_body("expected a JSON object")
        await proxy.update(body)
        return _answer(proxy.to_json())

    @app.delete("/proxies/{name}")
    async def proxy_delete(name: str) -> Response:
        proxies.delete(name)
        return Response(status_code=204)

    @app.get("/proxies/{name}/toxics")
    async def toxic_index(name: str) -> Response:
        return _answer([toxic.to_json() for toxic in proxies.get(name).toxic_list()])

    @app.post("/proxies/{name}/toxics")
    async def toxic_create(name: str, request: Request) -> Response:
        proxy = proxies.get(name)
        return _answer(proxy.add_toxic(await _body(request)).to_json())

    @app.get("/proxies/{name}/toxics/{toxic}")
    async def toxic_show(name: str, toxic: str) -> Response:
        return _answer(proxies.get(name).get_toxic(toxic).to_json())

    @app.api_route("/proxies/{name}/toxics/{toxic}", methods=["POST", "PATCH"])
    async def toxic_update(name: str, toxic: str, request: Request) -> Response:
        proxy = proxies.get(name)
        return _answer(proxy.update_toxic(toxic, await _body(request)).to_json())

    @app.delete("/proxies/{name}/toxics/{toxic}")
    async def toxic_delete(name: str, toxic: str) -> Response:
        proxies.get(name).remove_toxic(toxic)
        return Response(status_code=204)

    return app
