"""The what-if page's app in-process (no browser): the run stream, the downloads, errors as lines."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from fastapi import FastAPI

from vaxdrill.core.scenario import load_scenario
from vaxdrill.ui.app import create_app
from vaxdrill.ui.runs import scenario_of
from vaxdrill.ui.whatif import WhatIf

TINY = """
name: tiny
seed: 3
replications: 2
checkpoints: ["10:00"]
site_defaults: {booked: 20, opens: "09:00", closes: "11:00"}
sites: [{name: One}, {name: Two}]
server: {outages: [{start: "09:15", end: "09:45"}]}
policies:
  wait: {rule: wait}
  paper: {rule: offline_first}
"""


class PageClient:
    """GETs against the app in this process (httpx's ASGI transport; no server, no port)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def get(self, url: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ui") as client:
                return await client.get(url)

        return asyncio.run(go())


def _lines(client: PageClient, query: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in client.get("/run?" + query).text.splitlines()]


def test_run_streams_progress_then_results_and_keeps_the_run(write_yaml) -> None:  # type: ignore[no-untyped-def]
    path = write_yaml(TINY)
    client = PageClient(create_app(str(path)))
    page = client.get("/?outage_length=1h")
    assert page.status_code == 200 and 'value="1h"' in page.text and 'placeholder="30min"' in page.text
    lines = _lines(client, "outage_length=1h")
    # The what-if and the scenario as written, two replications each, then the results.
    assert lines[:-1] == [{"done": k, "total": 4} for k in range(5)]
    html = str(lines[-1]["html"])
    assert 'data-metric="vaccinated_by.10:00" data-policy="wait"' in html
    assert 'data-metric="change.vaccinated_by.10:00" data-policy="paper"' in html
    assert 'data-shade="server down 09:15-10:15"' in html
    as_written = _lines(client, "seed=4")  # nothing changed: one run of two replications
    assert as_written[:-1] == [{"done": k, "total": 2} for k in range(3)] and "html" in as_written[-1]
    again = _lines(client, "outage_length=1h")
    assert again[0] == {"done": 0, "total": 1} and again[-1] == lines[-1]  # kept: nothing simulated again


def test_yaml_download_reads_back_to_the_changed_scenario(write_yaml, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_yaml(TINY)
    client = PageClient(create_app(str(path)))
    query = "outage_start=09:30&staff.vaccination=2&rule=offline_after&rule_time=10min&seed=9"
    reply = client.get("/scenario.yaml?" + query)
    assert reply.status_code == 200 and "attachment" in reply.headers["content-disposition"]
    saved = tmp_path / "what-if.yaml"
    saved.write_text(reply.text, encoding="utf-8")
    _, expected = scenario_of(WhatIf.from_query(dict(q.split("=") for q in query.split("&")), str(path)))
    assert load_scenario(saved) == expected.model_copy(update={"site_defaults": {}})
    assert expected.seed == 9 and {s.stations.vaccination.staff for s in expected.sites} == {2}


def test_report_download_is_the_runs_report(write_yaml) -> None:  # type: ignore[no-untyped-def]
    path = write_yaml(TINY)
    client = PageClient(create_app(str(path)))
    html = str(_lines(client, "sms=50%25")[-1]["html"])
    report = client.get("/report.html?sms=50%25").text
    marker = 'data-metric="vaccinated" data-policy="paper" data-value="'
    assert marker in report and report.split(marker)[1].split('"')[0] == html.split(marker)[1].split('"')[0]
    assert "<img" in report and "base64" in report


def test_errors_are_one_line(write_yaml) -> None:  # type: ignore[no-untyped-def]
    client = PageClient(create_app(str(write_yaml(TINY))))
    assert _lines(client, "link.5=50%25") == [{"error": "what-if link.5: the scenario has 2 site(s), no site 5"}]
    assert _lines(client, "scenario=nowhere.yaml")[0]["error"].startswith("nowhere.yaml: no such file")  # type: ignore[union-attr]
    reply = client.get("/scenario.yaml?sms=lots")
    assert reply.status_code == 400 and "\n" not in reply.text and reply.text.startswith("what-if sms:")
    page = client.get("/?colour=red")
    assert 'id="page-error"' in page.text and "what-if colour: not a control of this page" in page.text
