"""JSON answers and the API's ``DD-MM-YYYY`` dates, shared by every router."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from fastapi.responses import Response

from regserver.errors import ApiProblem

_DAY_MONTH = r"(?:(?:0[1-9]|1[0-9]|2[0-8])-(?:0[1-9]|1[0-2])|(?:29|30)-(?:0[13-9]|1[0-2])|31-(?:0[13578]|1[02]))"
_LEAP_YEAR = r"(?:(?:19|20|21)(?:0[48]|[2468][048]|[13579][26])|2000)"
DATE_PATTERN = rf"^(?:{_DAY_MONTH}-(?:19|20|21)[0-9]{{2}}|29-02-{_LEAP_YEAR})$"
"""Real calendar dates ``DD-MM-YYYY`` from 1900 to 2199 (leap days included): the schema allows no date
that :func:`parse_date` would refuse."""


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%d-%m-%Y").date()


def parse_date(text: str) -> dt.date:
    try:
        return _parse(text)  # remembered: a day of traffic asks about a handful of dates
    except ValueError:
        raise ApiProblem(422, "VALIDATION", f"date: expected a real date as DD-MM-YYYY, found {text!r}") from None


def fmt_date(day: dt.date) -> str:
    return day.strftime("%d-%m-%Y")


def json_response(data: Any, status: int = 200, max_age: int | None = None) -> Response:
    headers = {"Cache-Control": f"max-age={max_age}"} if max_age is not None else None
    return Response(json.dumps(data).encode(), status, headers=headers, media_type="application/json")


def cached_json(body: bytes, max_age: int) -> Response:
    return Response(body, 200, headers={"Cache-Control": f"max-age={max_age}"}, media_type="application/json")
