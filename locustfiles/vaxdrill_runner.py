"""vaxdrill's runner locustfile: the machinery for a plain locustfile, and no user classes of its own.

``vaxdrill loadtest SCENARIO -f shop.py`` runs Locust with ``-f locustfiles/vaxdrill_runner.py,shop.py``:
Locust loads both files into one run (user classes from ``shop.py``, listeners from here). This file
registers vaxdrill's options and, at ``init``, installs the run (:func:`locustfiles.lifecycle.install`):
the scenario's shape, the open model's gates, full-precision recording, SLOs, pre-flight, the end
of the run. The same works by hand::

    locust -f locustfiles/vaxdrill_runner.py,shop.py --headless --scenario shop.yaml --host http://127.0.0.1:8080
"""

from __future__ import annotations

from typing import Any

from locust import events
from locust.env import Environment

from locustfiles.lifecycle import install
from locustfiles.run_context import add_options

__all__: list[str] = []  # no user classes here: they come from the user's locustfile


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    add_options(parser)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    install(environment)
