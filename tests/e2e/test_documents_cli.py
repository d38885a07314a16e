"""Documents through whole commands: `compare` refuses another version in one line; `schema --out-dir`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.documents import loadtest_summary
from vaxdrill.core.documents import DOCUMENTS, json_schema, schema_file_name
from vaxdrill.core.results import write_json


def vaxdrill(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vaxdrill", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60, env={**os.environ, "COLUMNS": "200"}, check=False)  # fmt: skip


def test_compare_refuses_a_document_of_another_version_in_one_line(tmp_path: Path) -> None:
    for name, rps in (("before", 20.0), ("after", 25.0)):
        (tmp_path / name).mkdir()
        write_json(tmp_path / name / "summary.json", loadtest_summary(rps=rps))
    ok = vaxdrill("compare", str(tmp_path / "before"), str(tmp_path / "after"))
    assert ok.returncode == 0, ok.stderr
    assert "rps" in ok.stdout and "+5" in ok.stdout
    newer = tmp_path / "after" / "summary.json"
    write_json(newer, {**loadtest_summary(rps=25.0), "schema": "vaxdrill.loadtest/2"})
    bad = vaxdrill("compare", str(tmp_path / "before"), str(tmp_path / "after"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    lines = [line for line in bad.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, bad.stderr
    assert f"{newer}: schema vaxdrill.loadtest/2, expected vaxdrill.loadtest/1" in bad.stderr.replace("\n", "")


def test_schema_command_writes_every_document_schema(tmp_path: Path) -> None:
    result = vaxdrill("schema", "--out-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for tag in DOCUMENTS:
        assert json.loads((tmp_path / schema_file_name(tag)).read_text()) == json_schema(tag)
    one = vaxdrill("schema", "--document", "loadtest")
    assert one.returncode == 0 and json.loads(one.stdout)["title"] == "vaxdrill.loadtest/1"
    unknown = vaxdrill("schema", "--document", "weather")
    assert unknown.returncode == 2 and "no such results document" in unknown.stderr
