"""What every results document shares: a ``schema`` tag, frozen fields, and one reader.

A document is a JSON object whose ``schema`` names its kind and version (``vaxdrill.loadtest/1``).
:func:`read_document` reads one through its model and turns whatever is wrong (missing file, bad
JSON, another kind or version, an invalid field) into one line naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from vaxdrill.core.errors import DocumentError, ResultsError


class Document(BaseModel):
    """A results document; subclasses set :attr:`SCHEMA` and a ``schema`` field of that literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    SCHEMA: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """The document as written: fields in model order, absent optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Part(BaseModel):
    """A fully known part of a document."""

    model_config = ConfigDict(frozen=True, extra="forbid")


D = TypeVar("D", bound=Document)


def error_path(loc: tuple[int | str, ...]) -> str:
    """Pydantic's location as written in a message: ``points[0].p50_ms``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def first_error(exc: ValidationError) -> str:
    """The first problem, with its dotted path (and how many more there are)."""
    errors = exc.errors()
    err = errors[0]
    where = error_path(tuple(err["loc"]))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {err['msg']}{more}" if where else f"{err['msg']}{more}"


def read_json_object(path: Path, error: type[ResultsError] = DocumentError) -> dict[str, Any]:
    """A JSON object from ``path``; ``error`` says what is wrong in one line."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"{path}: cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object")
    return data


def parse_document(data: Any, model: type[D], where: str, error: type[ResultsError] = DocumentError) -> D:
    """Validate ``data`` as a ``model`` document; the schema tag is checked first."""
    if not isinstance(data, dict):
        raise error(f"{where}: expected a JSON object")
    tag = data.get("schema")
    if tag != model.SCHEMA:
        got = "missing" if tag is None else str(tag)
        raise error(f"{where}: schema {got}, expected {model.SCHEMA}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise error(f"{where}: {first_error(exc)}") from None


def read_document(path: Path, model: type[D], error: type[ResultsError] = DocumentError) -> D:
    """Read and validate a ``model`` document from ``path``."""
    return parse_document(read_json_object(path, error), model, str(path), error)
