"""Bounds on reading a scenario: file size, nesting depth, alias expansion.

A 351-byte file of nested aliases ("billion laughs") would otherwise expand to billions of values, and
deep nesting exhausts the stack; each bound ends the load in one line (:class:`ScenarioError`, exit 2).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from vaxdrill.core.errors import Problem, ScenarioError

MAX_DEPTH = 64
"""Levels of nesting (mappings and lists), aliases expanded; the shipped scenarios use fewer than 10."""
MAX_VALUES = 500_000
"""Values after expanding aliases; 5,000 inline sites of 50 fields each stay below it."""
MAX_FILE_SIZE = 10 * 2**20
"""Bytes of a scenario YAML or sites CSV, unless ``--max-file-size`` or :data:`MAX_FILE_SIZE_ENV` say more."""
MAX_FILE_SIZE_ENV = "VAXDRILL_MAX_FILE_SIZE"
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 10**3, "kib": 2**10, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}


def parse_size(text: str) -> int:
    """Bytes for ``500000``, ``64kB``, ``10MB`` or ``1GiB``; ValueError otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"expected a size such as 10MB or 500000 (bytes), found {text!r}")
    return int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])


def max_file_size() -> int:
    """The file-size cap in force: :data:`MAX_FILE_SIZE_ENV` if set (``--max-file-size`` sets it)."""
    text = os.environ.get(MAX_FILE_SIZE_ENV)
    if not text:
        return MAX_FILE_SIZE
    try:
        return parse_size(text)
    except ValueError as exc:
        raise ScenarioError([Problem(MAX_FILE_SIZE_ENV, "", str(exc))]) from None


def check_size(path: Path, shown: str, field: str = "") -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it next gives the clear message (no such file, a folder, ...)
    cap = max_file_size()
    if size > cap:
        raise ScenarioError(
            [Problem(shown, field, f"{size:,} bytes, larger than the {cap:,}-byte cap (raise it with --max-file-size)")]
        )


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with nesting depth bounded while composing (its composer recurses)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
                raise ScenarioError([Problem("", "", f"nested deeper than {MAX_DEPTH} levels", line)])
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(root: yaml.Node) -> None:
    """Refuse a node graph whose aliases expand too far, too deep, or into themselves, before building it.

    Shared nodes (aliases) are measured once each, so this costs the size of the file, not of its expansion.
    """
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, height) once expanded
    open_nodes: set[int] = set()

    def problem(node: yaml.Node, message: str) -> ScenarioError:
        return ScenarioError([Problem("", "", message, node.start_mark.line + 1)])

    def measure(node: yaml.Node, depth: int) -> tuple[int, int]:
        key = id(node)
        if key in open_nodes:
            raise problem(node, "an alias refers to a node that contains it (a recursive alias)")
        known = measured.get(key)
        if known is None:
            if depth > MAX_DEPTH:
                raise problem(node, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
            open_nodes.add(key)
            values, height = 1, 0
            for child in _children(node):
                child_values, child_height = measure(child, depth + 1)
                values, height = values + child_values, max(height, child_height + 1)
                if values > MAX_VALUES:
                    raise problem(node, f"aliases expand to more than {MAX_VALUES:,} values (nested aliases?)")
            open_nodes.discard(key)
            known = measured[key] = (values, height)
        if depth + known[1] > MAX_DEPTH:
            raise problem(node, f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        return known

    if measure(root, 0)[0] > MAX_VALUES:
        raise problem(root, f"aliases expand to more than {MAX_VALUES:,} values (nested aliases?)")
