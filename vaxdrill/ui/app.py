"""The what-if page's web app (FastAPI): the page, the run stream and the two downloads.

- ``GET /?<what-if>``: the controls, the scenario's sites and policies; its script asks ``/run``
  with the same query string, so opening a shared URL runs that what-if.
- ``GET /run?<what-if>``: newline-delimited JSON, ``{"done": k, "total": n}`` after each
  replication, then ``{"html": ...}`` (the results) or ``{"error": ...}`` (one line).
- ``GET /scenario.yaml?<what-if>``: the changed scenario, which ``vaxdrill simulate`` reads back.
- ``GET /report.html?<what-if>``: the run's ``report.html``, as ``vaxdrill simulate`` writes it.
- ``GET /static/...``: the page's script and stylesheet, shipped in the package.
"""

from __future__ import annotations

import json
import queue
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from markupsafe import Markup

from vaxdrill.core.errors import VaxdrillError
from vaxdrill.core.scenario.dump import scenario_yaml
from vaxdrill.core.scenario.model import Scenario
from vaxdrill.core.shipped import shipped_scenarios
from vaxdrill.report.html import TEMPLATES as REPORT_TEMPLATES
from vaxdrill.report.html import stylesheet
from vaxdrill.ui.page import result_view
from vaxdrill.ui.runs import Outcome, Runs, scenario_of
from vaxdrill.ui.whatif import RULES, STATIONS, WhatIf, link_text, written_values

HERE = Path(__file__).resolve().parent
DEFAULT_SCENARIO = "outage-length"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(HERE / "templates"), jinja2.FileSystemLoader(REPORT_TEMPLATES)]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["stylesheet"] = Markup(stylesheet())
    return env


def _policy_rows(scenario: Scenario) -> list[tuple[str, str]]:
    """The scenario's policies in words, for the page's "as written" table."""
    rows = []
    for name, p in scenario.policies.items():
        fields = p.model_dump(mode="json", exclude={"description", "rule"})
        detail = ", ".join(f"{k} {v}" for k, v in fields.items())
        rows.append(
            (name, f"{p.rule}" + (f" ({detail})" if detail else "") + (f": {p.description}" if p.description else ""))
        )
    return rows or [("wait", "wait (no policy listed: hold until the system returns)")]


def create_app(scenario: str | None = None, workers: int = 1) -> FastAPI:
    """The app; ``scenario`` (a file or a shipped name) is the page's default."""
    default = scenario or DEFAULT_SCENARIO
    app = FastAPI(title="vaxdrill what-if", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    env = _environment()
    runs = Runs(workers)

    def what_of(request: Request) -> WhatIf:
        return WhatIf.from_query(dict(request.query_params), default)

    @app.get("/", response_class=HTMLResponse)
    def page(request: Request) -> HTMLResponse:
        error = ""
        try:
            what = what_of(request)
            path, written = scenario_of(WhatIf(what.scenario))
        except VaxdrillError as exc:
            what, error = WhatIf(default), str(exc)
            path, written = scenario_of(what)
        shipped = list(shipped_scenarios())
        html = env.get_template("ui.html.j2").render(
            what=what,
            values=dict(what.values),
            written=written_values(written),
            scenario=written,
            path=str(path),
            shipped=shipped,
            own=what.scenario if what.scenario not in shipped else "",
            links=[link_text(s) for s in written.sites],
            policies=_policy_rows(written),
            stations=[s for s in STATIONS if any(getattr(x.stations, s) is not None for x in written.sites)],
            rules=RULES,
            error=error,
            query=what.query(),
        )
        return HTMLResponse(html)

    @app.get("/run")
    def run(request: Request) -> StreamingResponse:
        return StreamingResponse(_stream(request), media_type="application/x-ndjson")

    def _stream(request: Request) -> Iterator[str]:
        """Run in a thread; progress lines come through a queue while it runs."""
        try:
            what = what_of(request)
            _, scenario = scenario_of(what)
        except VaxdrillError as exc:
            yield json.dumps({"error": str(exc)}) + "\n"
            return
        base = what.without_changes()
        n = scenario.replications
        # The scenario as written is the what-if itself when nothing changed: one run, not two.
        total = n * sum(runs.kept(w) is None for w in {what, base}) or 1
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        done = 0

        def tick(_r: int) -> None:
            events.put(("tick", None))

        def work() -> None:
            try:
                outcome = runs.run(what, tick)
                written = runs.run(base, tick)
                events.put(("html", env.get_template("_result.html.j2").render(
                    view=result_view(outcome, written), query=what.query())))  # fmt: skip
            except VaxdrillError as exc:
                events.put(("error", str(exc)))
            except Exception as exc:  # shown on the page, not lost in a thread
                events.put(("error", f"the run failed: {type(exc).__name__}: {exc}"))

        threading.Thread(target=work, daemon=True).start()
        yield json.dumps({"done": 0, "total": total}) + "\n"
        while True:
            kind, payload = events.get()
            if kind == "tick":
                done += 1
                yield json.dumps({"done": min(done, total), "total": total}) + "\n"
                continue
            yield json.dumps({kind: payload}) + "\n"
            return

    @app.get("/scenario.yaml")
    def scenario_file(request: Request) -> Response:
        try:
            what = what_of(request)
            _, scenario = scenario_of(what)
        except VaxdrillError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        comment = f"{scenario.name}, changed on the vaxdrill what-if page: ?{what.query()}"
        return Response(
            scenario_yaml(scenario, comment),
            media_type="application/yaml",
            headers={"Content-Disposition": f'attachment; filename="{scenario.name}-what-if.yaml"'},
        )

    @app.get("/report.html")
    def report(request: Request) -> Response:
        try:
            outcome = runs.run(what_of(request))
        except VaxdrillError as exc:
            return PlainTextResponse(str(exc), status_code=400)
        return HTMLResponse(_report(outcome))

    return app


def _report(outcome: Outcome) -> str:
    """The run's ``report.html``, made the way ``vaxdrill simulate`` makes it (plots, full summary)."""
    from simulation.experiment import summary
    from simulation.outputs import write_plots
    from vaxdrill.report.simulation import write_report

    doc = summary(outcome.scenario, outcome.results, outcome.seed).to_json()
    with tempfile.TemporaryDirectory(prefix="vaxdrill-ui-") as folder:
        write_plots(Path(folder), outcome.scenario, outcome.results)
        return write_report(Path(folder), outcome.scenario, doc).read_text(encoding="utf-8")
