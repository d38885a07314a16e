"""The OpenAPI schema says what the server does: formats it refuses are outside the schema, and every
error answer (status and errorCode) the code can give is declared on its route."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from regserver.app import create_app
from regserver.config import ServerConfig

SPEC: dict[str, Any] = create_app(ServerConfig(db="sqlite:///unused.db")).openapi()
REGSERVER = Path(__file__).resolve().parents[2] / "regserver"


def _param(path: str, name: str) -> dict[str, Any]:
    for param in SPEC["paths"][path]["get"]["parameters"]:
        if param["name"] == name:
            return dict(param["schema"])
    raise KeyError(name)


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SPEC["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _valid(schema: dict[str, Any], value: str) -> bool:
    """A string against a string schema (pattern, lengths), as JSON Schema reads them."""
    if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
        return False
    return "pattern" not in schema or re.search(schema["pattern"], value) is not None


@pytest.mark.parametrize("day", ["00-00-0000", "31-02-2021", "29-02-2021", "31-04-2021", "15-13-2021", "01-01-0000"])
def test_dates_the_server_refuses_are_outside_the_schema(day: str) -> None:
    schema = _param("/api/v2/appointment/sessions/public/findByDistrict", "date")
    assert not _valid(schema, day)


@pytest.mark.parametrize("day", ["16-01-2021", "29-02-2024", "29-02-2000", "31-12-2099"])
def test_real_dates_are_inside_the_schema(day: str) -> None:
    assert _valid(_param("/api/v2/appointment/sessions/public/findByDistrict", "date"), day)


def test_slots_the_server_refuses_are_outside_the_schema() -> None:
    body = _resolve(
        SPEC["paths"]["/api/v2/appointment/schedule"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    slot = body["properties"]["slot"]
    assert _valid(slot, "09:00AM-11:00AM")
    for bad in ["", "9:00AM-11:00AM", "13:00PM-14:00PM", "09:00AM11:00AM"]:
        assert not _valid(slot, bad), bad


def test_fault_routes_need_at_least_one_glob() -> None:
    fault = _resolve(
        SPEC["paths"]["/api/v2/admin/faults"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    )
    routes = fault["properties"]["routes"]
    assert routes.get("minItems") == 1


def declared(path: str, method: str) -> dict[str, set[str]]:
    """Declared errorCodes by status of one operation."""
    out: dict[str, set[str]] = {}
    for status, answer in SPEC["paths"][path][method]["responses"].items():
        schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
        codes = schema.get("properties", {}).get("errorCode", {}).get("enum")
        if codes:
            out[status] = set(codes)
    return out


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/api/v2/registration/beneficiary/new", "post", "400", "BENEFICIARY_LIMIT"),
        ("/api/v2/staff/vaccinations", "post", "400", "IDEMPOTENCY_KEY_MISSING"),
        ("/api/v2/staff/vaccinations", "post", "422", "IDEMPOTENCY_KEY_REUSED"),
        ("/api/v2/auth/public/confirmOTP", "post", "410", "OTP_TXN_ENDED"),
        ("/api/v2/auth/public/generateOTP", "post", "429", "OTP_RATE_LIMIT"),
        ("/api/v2/staff/login", "post", "429", "AUTH_RATE_LIMIT"),
        ("/api/v2/appointment/schedule", "post", "409", "APPOIN0040"),
    ],
)
def test_business_refusals_are_declared_on_their_route(path: str, method: str, status: str, code: str) -> None:
    assert code in declared(path, method).get(status, set())


def _raised_in_code() -> set[tuple[int, str]]:
    """(status, errorCode) pairs the server's code can answer, read from its source."""
    found: set[tuple[int, str]] = set()
    for source in REGSERVER.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "ApiProblem",
                "_answer",
                "error_response",
            ):
                args = node.args[1:] if getattr(node.func, "id", "") == "_answer" else node.args
                if len(args) >= 2 and isinstance(args[0], ast.Constant) and isinstance(args[1], ast.Constant):
                    found.add((int(args[0].value), str(args[1].value)))
            if isinstance(node, ast.Tuple) and len(node.elts) == 2:  # (status, {"errorCode": ...}) answers
                status, body = node.elts
                if isinstance(status, ast.Constant) and isinstance(status.value, int) and isinstance(body, ast.Dict):
                    for key, value in zip(body.keys, body.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "errorCode"
                            and isinstance(value, ast.Constant)
                        ):
                            found.add((status.value, str(value.value)))
    return found


def test_every_error_code_in_the_code_is_declared_somewhere() -> None:
    everywhere: dict[str, set[str]] = {}
    for path, methods in SPEC["paths"].items():
        for method in methods:
            for status, codes in declared(path, method).items():
                everywhere.setdefault(status, set()).update(codes)
    raised = _raised_in_code()
    assert len(raised) > 30  # the scan finds the server's answers
    missing = sorted((s, c) for s, c in raised if c not in everywhere.get(str(s), set()))
    assert not missing, f"answered but not declared in OpenAPI: {missing}"
    assert "INJECTED_ERROR" in everywhere.get("5XX", set())  # an error_rate fault may answer any 5xx
