"""Packaging metadata lives in pyproject.toml; this file only ships ``scenarios/`` inside the wheel.

``scenarios/`` at the repository root stays the one copy of the shipped scenarios; the build copies
its files into the wheel as ``vaxdrill/scenarios/`` (package data of ``vaxdrill``, found by
``vaxdrill.core.shipped``). The sdist carries ``scenarios/`` as it is, so a wheel built from it is the same.
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("*.yaml", "*.csv", "*.json")


class BuildPyWithScenarios(build_py):
    """``build_py`` that adds ``scenarios/*`` as package data of ``vaxdrill`` under ``scenarios/``."""

    def _get_data_files(self):  # type: ignore[no-untyped-def]
        files = super()._get_data_files()
        names = sorted({path.name for pattern in SHIPPED for path in Path("scenarios").glob(pattern)})
        return [*files, ("vaxdrill", "scenarios", os.path.join(self.build_lib, "vaxdrill", "scenarios"), names)]


setup(cmdclass={"build_py": BuildPyWithScenarios})
