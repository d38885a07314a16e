"""Shared fixtures, and the kind of each test (unit, validation, integration, e2e) marked from its folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
TESTS = Path(__file__).resolve().parent
KINDS = ("unit", "validation", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with the folder it lives in, so `-m unit` or `-m "unit or validation"` selects by kind."""
    for item in items:
        try:
            kind = item.path.resolve().relative_to(TESTS).parts[0]
        except ValueError:
            continue
        if kind in KINDS:
            item.add_marker(getattr(pytest.mark, kind))
    # Files with slow tests first (stable, order within a file kept): `make test` hands whole files to
    # its xdist workers in this order, so a long file starting last cannot leave one worker running
    # alone at the end while the other idles.
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture
def write_yaml(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write YAML text to a file in tmp_path and return its path."""

    def _write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write
