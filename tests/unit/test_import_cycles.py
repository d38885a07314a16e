"""No import cycles inside a package: each module can be read (and tested) from the bottom up."""

from __future__ import annotations

import grimp
import pytest


@pytest.mark.parametrize("package", ["simulation", "vaxdrill"])
def test_no_import_cycle_inside(package: str) -> None:
    graph = grimp.build_graph(package)
    cycles = sorted(
        (a, b)
        for a in graph.modules
        for b in graph.find_modules_directly_imported_by(a)
        if graph.chain_exists(importer=b, imported=a)
    )
    assert cycles == []
