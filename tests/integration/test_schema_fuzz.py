"""A bounded schemathesis pass (``benchmarks/fuzz_server.py`` in small): no 5xx, every answer as declared.

About 150 generated requests, positive and negative, with no token, a citizen token and a staff token,
every built-in check plus "a schema-valid request is never refused as malformed", Hypothesis' health
checks on. The full run (2,000 cases) is the benchmark; its figures are in README.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchmarks.fuzz_server import SCENARIO, fuzz, load_schema
from vaxdrill.core.secrets import DRILL_SECRETS
from vaxdrill.loadtest.server_process import ServerProcess

CASES = 150


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("fuzz")
    with ServerProcess(
        "--db", f"sqlite:///{folder / 'server.db'}", "--seed-data", str(SCENARIO),
        "--drill", "--otp-limit", "1000000", "--max-in-flight", "0", log=folder / "server.log", secrets=DRILL_SECRETS,
    ) as server:  # fmt: skip
        yield server.url


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_api_conforms_and_never_answers_5xx(url: str) -> None:
    counts = fuzz(url, CASES, seed=0, health_checks=True)
    assert counts.cases >= CASES
    assert counts.server_errors == 0, counts.examples[:3]
    assert counts.violations == 0, (dict(counts.by_check), counts.examples[:3])


def test_the_schema_lists_every_contract_path() -> None:
    paths = set(load_schema().raw_schema["paths"])
    for path in [
        "/api/v2/auth/public/generateOTP",
        "/api/v2/appointment/schedule",
        "/api/v2/staff/sync",
        "/api/v2/admin/faults/{fault_id}",
        "/api/v2/public/counters",
        "/metrics",
    ]:
        assert path in paths
