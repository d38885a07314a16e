"""A TCP proxy with Toxiproxy's HTTP API and semantics: network faults in front of any server.

Any Toxiproxy client can drive ``vaxdrill proxy``, and a real Toxiproxy server can stand in for it.
Modules: :mod:`~vaxdrill.proxy.toxics` (what a toxic does to a link), :mod:`~vaxdrill.proxy.link` (one
proxied connection), :mod:`~vaxdrill.proxy.proxies` (proxies, toxics and the API's rules),
:mod:`~vaxdrill.proxy.api` (the HTTP API and metrics), :mod:`~vaxdrill.proxy.server` (running it all).
"""

from vaxdrill.proxy.proxies import ApiError, Proxies, Proxy
from vaxdrill.proxy.toxics import TOXICS, Toxic

__all__ = ["TOXICS", "ApiError", "Proxies", "Proxy", "Toxic"]
