"""``vaxdrill ui`` as a planner uses it, in headless Chromium with no network beyond this machine.

A control changed changes the figures, and they equal those of ``vaxdrill simulate`` on the
downloaded YAML; the shared URL opened on a fresh server shows the same figures; every request
the page makes goes to the local server.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT
from tests.polling import wait_until
from vaxdrill.cli.app import _register_commands, app
from vaxdrill.cli.browser import CHROMIUM_FLAGS, BrowserUnavailable, find_browser
from vaxdrill.report.html import lookup

SMALL = """
name: small-district
description: Two sites and one server outage, for the what-if page's test.
seed: 5
replications: 3
checkpoints: ["11:00", "13:00"]
site_defaults: {booked: 40, opens: "09:00", closes: "13:00", district: Test}
sites:
  - {name: Town}
  - {name: Village, kind: rural, connectivity: {failures: {time_between_failures: exp(4h), time_to_repair: exp(20min)}}}
server:
  outages: [{start: "10:00", end: "10:30"}]
policies:
  wait: {rule: wait}
  paper_after_20: {rule: offline_after, after: 20min, escalation: 5min, back_after: 10min}
"""
DEADLINE = 90.0  # seconds for a run on a busy two-core machine; a run here takes about 1 s alone


class UiServer:
    """``vaxdrill ui`` in its own process on a free port (it prints the address it bound)."""

    def __init__(self, scenario: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vaxdrill", "ui", str(scenario), "--port", "0"],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stderr is not None
        line = self.proc.stderr.readline()  # the address, printed before serving
        match = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert match, f"no address in {line!r}"
        self.url = match.group(0)
        wait_until(self._up, 30, what="the what-if page to answer")

    def _up(self) -> bool:
        try:
            return httpx.get(self.url + "static/ui.js", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture
def browser() -> Iterator[Any]:
    try:
        chromium, driver_path = find_browser()
    except BrowserUnavailable as exc:
        pytest.skip(f"no headless browser here: {exc}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    # No network: any host but this machine goes to a closed port (loopback bypasses the proxy).
    options.add_argument("--proxy-server=http://127.0.0.1:9")
    options.add_argument("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1")
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def _finished(driver: Any) -> str:
    state = driver.execute_script("return document.body.dataset.state")
    return str(state) if state in ("done", "error") else ""


def figures(driver: Any) -> dict[tuple[str, str], float]:
    """Every policy figure on the page: (policy, metric) -> mean, read from data-* attributes."""
    assert wait_until(lambda: _finished(driver), DEADLINE, 0.2, "the what-if's results") == "done", driver.find_element(
        "id", "run-error"
    ).text
    cells = driver.execute_script(
        "return Array.from(document.querySelectorAll('#result td[data-metric][data-policy]'))"
        ".map(td => [td.dataset.policy, td.dataset.metric, td.dataset.value])"
    )
    return {(p, m): float(v) for p, m, v in cells if not m.startswith("change.")}


def test_what_if_page_in_chromium(scenario: Path, browser: Any, tmp_path: Path) -> None:
    server = UiServer(scenario)
    try:
        browser.get(server.url)
        before = figures(browser)
        assert ("wait", "vaccinated_by.11:00") in before and ("paper_after_20", "vaccinated") in before
        assert "scenario as written" in browser.find_element("tag name", "body").text

        field = browser.find_element("name", "outage_length")
        field.clear()
        field.send_keys("2h")
        browser.find_element("name", "link.0").send_keys("95%")  # in the sites table, outside the <form>
        browser.find_element("id", "run").click()
        wait_until(lambda: "outage_length=2h" in browser.current_url, 30, what="the what-if in the address")
        assert "link.0=95%25" in browser.current_url and "sms=" not in browser.current_url  # empty: as written
        after = figures(browser)
        assert after.keys() == before.keys()
        # A two-hour outage from 10:00 holds the waiting policy back by 11:00.
        assert after[("wait", "vaccinated_by.11:00")] < before[("wait", "vaccinated_by.11:00")]
        changes = browser.execute_script(
            'return document.querySelector(\'td[data-metric="change.vaccinated_by.11:00"][data-policy="wait"]\')'
            ".dataset.value"
        )
        assert float(changes) < 0
        answer = browser.find_element("css selector", "[data-metric=answer]").text
        shaded = browser.execute_script("return document.querySelector('rect[data-shade]').dataset.shade")
        assert shaded == "server down 10:00-12:00"

        # Every request went to the local server: the page needs no network.
        hosts = browser.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).concat([location.href])"
        )
        assert hosts and all(h.startswith(server.url) for h in hosts), hosts
        errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
        assert not errors, errors

        # The downloaded YAML, run by `vaxdrill simulate`, gives the same figures and the same answer.
        yaml_url = browser.find_element("id", "download-yaml").get_attribute("href")
        downloaded = tmp_path / "what-if.yaml"
        downloaded.write_text(httpx.get(yaml_url, timeout=30).text, encoding="utf-8")
        _register_commands()
        run = CliRunner().invoke(app, ["simulate", str(downloaded), "--out", str(tmp_path / "run")])
        assert run.exit_code == 0, run.output
        doc = json.loads((tmp_path / "run" / "summary.json").read_text())
        assert (doc["seed"], doc["replications"]) == (5, 3)
        assert doc["answer"] == answer
        for (policy, metric), value in after.items():
            assert lookup(doc["policies"][policy], metric)["mean"] == value, (policy, metric)

        # The report link is the same what-if (its figures: tests/unit/test_ui_app.py, without the browser).
        report_url = browser.find_element("id", "download-report").get_attribute("href")
        assert report_url == yaml_url.replace("/scenario.yaml?", "/report.html?")
        shared = browser.current_url
    finally:
        server.stop()

    # The shared URL on a fresh server (nothing kept from the first) shows the same figures.
    fresh = UiServer(scenario)
    try:
        browser.get(shared.replace(server.url, fresh.url))
        assert figures(browser) == after

        # A planner's typo is one line on the page.
        browser.get(fresh.url + "?staff.vaccination=none")
        assert wait_until(lambda: _finished(browser), DEADLINE, 0.2, "the run's answer") == "error"
        message = browser.find_element("id", "run-error").text
        assert message == "what-if staff.vaccination: expected a whole number, found 'none'"
    finally:
        fresh.stop()


def test_the_command_refuses_a_taken_port_and_a_missing_scenario_in_one_line(scenario: Path) -> None:
    from vaxdrill.core.errors import ExitCode, RunError, ScenarioError

    _register_commands()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        res = CliRunner().invoke(app, ["ui", str(scenario), "--port", str(port)])
    assert isinstance(res.exception, RunError) and res.exception.exit_code == ExitCode.COULD_NOT_RUN
    assert str(res.exception).startswith(f"--port {port}: cannot listen on 127.0.0.1:{port} (")
    res = CliRunner().invoke(app, ["ui", "no-such-scenario"])
    assert isinstance(res.exception, ScenarioError) and "no such file, nor a shipped scenario" in str(res.exception)
