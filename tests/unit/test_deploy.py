"""deploy/: the compose file and the Kubernetes manifests parse, and agree with the command line.

They cannot run here (no image registry); what can go wrong without running them is checked: YAML
syntax, options the commands do not have, a worker pointed at another port or name than the
master's, replicas that do not match ``--expect-workers``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from vaxdrill.cli.app import app
from vaxdrill.cli.commands import register
from vaxdrill.core.scenario import load_scenario
from vaxdrill.loadtest.procs import MASTER_PORT, parse_address

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def commands() -> dict[str, Any]:
    """The real commands, as click sees them (a fresh app, so the shared one is left as it is)."""
    fresh = typer.Typer()
    fresh.registered_commands = list(app.registered_commands)
    register(fresh)
    group = typer.main.get_command(fresh)
    return dict(getattr(group, "commands", {}))


def check_args(args: list[str]) -> dict[str, str | bool]:
    """Parse a vaxdrill command line as the real command would (without running it): its options."""
    command = commands()[args[0]]
    ctx = command.make_context(f"vaxdrill {args[0]}", list(args[1:]), resilient_parsing=True)
    return {k: v for k, v in ctx.params.items() if v not in (None, [], False)}


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def test_compose_runs_a_master_and_workers_that_find_it() -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    master, worker = compose["services"]["master"], compose["services"]["worker"]
    args = [str(a) for a in master["command"]]
    assert args[:3] == ["loadtest", "/scenario/scenario.yaml", "--master"]
    params = check_args(args)
    assert params["master"] and params["allow_host"] and params["host"]
    host, port = parse_address(option(args, "--bind"), "--bind")
    assert (host, port) == ("0.0.0.0", MASTER_PORT) and str(port) in master["expose"]
    assert worker["command"][0] == "worker" and check_args(worker["command"])["master"] == f"master:{port}"
    assert parse_address(worker["command"][1], "worker") == ("master", port)
    assert "WORKERS" in option(args, "--expect-workers") and "WORKERS" in str(worker["deploy"]["replicas"])
    assert any(v.endswith(":/scenario/scenario.yaml:ro") for v in master["volumes"])


def test_kubernetes_master_service_and_workers_agree() -> None:
    docs = [
        doc
        for name in ("master.yaml", "workers.yaml")
        for doc in yaml.safe_load_all((DEPLOY / "k8s" / name).read_text())
        if doc
    ]
    by_kind = {doc["kind"]: doc for doc in docs}
    assert set(by_kind) == {"Job", "Service", "Deployment"}
    job, service, workers = by_kind["Job"], by_kind["Service"], by_kind["Deployment"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = [str(a) for a in container["args"]]
    params = check_args(args)
    assert params["master"] and params["host"] and list(params["allow_host"]) == [option(args, "--allow-host")]
    _, bind_port = parse_address(option(args, "--bind"), "--bind")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    svc_port = service["spec"]["ports"][0]
    assert ports[svc_port["targetPort"]] == bind_port
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    worker_args = workers["spec"]["template"]["spec"]["containers"][0]["args"]
    assert check_args(worker_args)["master"] == worker_args[1]
    assert parse_address(worker_args[1], "worker") == (service["metadata"]["name"], svc_port["port"])
    assert workers["spec"]["replicas"] == int(option(args, "--expect-workers"))
    pod_labels = workers["spec"]["template"]["metadata"]["labels"]
    assert workers["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert job["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == "vaxdrill-scenario"


def test_the_example_scenario_and_the_image() -> None:
    scenario = load_scenario(DEPLOY / "scenario.yaml")
    assert scenario.target.allow_hosts and scenario.load is not None and scenario.load.max_rps
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f"EXPOSE {MASTER_PORT}" in dockerfile and 'ENTRYPOINT ["vaxdrill"]' in dockerfile
