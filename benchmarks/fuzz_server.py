"""Schemathesis against the reference server: every answer declared, no 5xx.

Run: ``.venv/bin/python benchmarks/fuzz_server.py [--cases 2000] [--seed 0]``

Starts ``vaxdrill serve`` (SQLite, seeded from the Raigad scenario, drill secrets, ``--drill``) and
sends schema-generated requests to every operation of its OpenAPI schema three times over: with no
token, with a citizen token, with a staff token (positive and negative data, every built-in check).
The admin token is never sent: a generated fault could take the server down for the rest of the run;
admin routes are exercised for their 401/403 answers. Checks: every built-in one, with
``positive_data_acceptance`` told which statuses are business refusals (400, 404, 409, 410, 422,
429: a full session, a fifth beneficiary, an OTP already used), and one more: a schema-valid request
is never refused as malformed (422 ``VALIDATION``), since a format the server refuses must be outside
the schema. It prints the cases run, the 5xx answers and the schema violations; both must be 0.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as seed_with
from schemathesis.checks import CheckContext, Failure, FailureGroup
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from regserver.app import create_app  # noqa: E402
from regserver.config import ServerConfig  # noqa: E402
from vaxdrill.core.otp import drill_otp, otp_hash  # noqa: E402
from vaxdrill.core.secrets import DRILL_SECRETS, DRILL_STAFF_ID  # noqa: E402
from vaxdrill.loadtest.server_process import ServerProcess  # noqa: E402

SCENARIO = ROOT / "scenarios" / "raigad-2021-01-16.yaml"
BUSINESS_REFUSALS = ["2xx", "400", "401", "403", "404", "409", "410", "422", "429"]


class FormatRefused(AssertionError):
    """A schema-valid request answered 422 VALIDATION."""


def never_refused_as_malformed(ctx: CheckContext, response: Any, case: schemathesis.Case) -> bool | None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return None
    try:
        code = response.json().get("errorCode")
    except ValueError:
        code = None
    if code == "VALIDATION":
        raise FormatRefused(f"schema-valid request refused as malformed: {response.text[:200]}")
    return None


def load_schema() -> Any:
    config = SchemathesisConfig.from_dict(
        {"checks": {"positive_data_acceptance": {"expected-statuses": BUSINESS_REFUSALS}}}
    )
    spec = create_app(ServerConfig(db="sqlite:///unused.db")).openapi()
    return schemathesis.openapi.from_dict(spec, config=config)


@dataclass
class Counts:
    cases: int = 0
    server_errors: int = 0
    violations: int = 0
    by_check: collections.Counter[str] = field(default_factory=collections.Counter)
    examples: list[str] = field(default_factory=list)

    def record(self, response: Any, error: BaseException | None, label: str) -> None:
        self.cases += 1
        if response is not None and response.status_code >= 500:
            self.server_errors += 1
            self.examples.append(f"{label}: {response.status_code} {response.text[:200]}")
        if error is None:
            return
        failures = list(getattr(error, "exceptions", [error]))
        names = {type(f).__name__ for f in failures}
        if names - {"ServerError"}:  # a 5xx alone is counted above; anything else is a schema violation
            self.violations += 1
            self.by_check.update(names - {"ServerError"})
            self.examples.append(f"{label}: {names}: {str(error)[:400]}")


def credentials(url: str) -> dict[str, dict[str, str]]:
    """The headers of each identity the cases are sent as."""
    mobile = "9999999999"
    txn = httpx.post(f"{url}/api/v2/auth/public/generateOTP", json={"mobile": mobile}).json()["txnId"]
    otp = otp_hash(drill_otp(mobile, DRILL_SECRETS.drill_otp, txn))
    citizen = httpx.post(f"{url}/api/v2/auth/public/confirmOTP", json={"otp": otp, "txnId": txn}).json()["token"]
    staff = httpx.post(
        f"{url}/api/v2/staff/login",
        json={"center_id": 100001, "staff_id": DRILL_STAFF_ID, "secret": DRILL_SECRETS.staff_credential(100001)},
    ).json()["token"]
    return {
        "none": {},
        "citizen": {"Authorization": f"Bearer {citizen}"},
        "staff": {"Authorization": f"Bearer {staff}"},
    }


def fuzz(
    url: str, cases: int, seed: int = 0, health_checks: bool = True, log: Callable[[str], None] | None = None
) -> Counts:
    """About ``cases`` generated requests spread over every operation and identity; the counts."""
    schema = load_schema()
    operations = [result.ok() for result in schema.get_all_operations()]
    identities = credentials(url)
    counts = Counts()
    suppressed = [] if health_checks else list(HealthCheck)
    rounds = 0
    # Rounds with fresh seeds until enough cases ran: an operation without inputs (/health) gives one each.
    while counts.cases < cases and rounds < 20:
        per_run = -(-(cases - counts.cases) // (len(operations) * len(identities))) + 1
        for who, headers in identities.items():
            for operation in operations:
                label = f"{operation.label} as {who}"
                _run(operation, url, headers, label, counts, per_run, seed + rounds, suppressed)
                if log is not None:
                    log(f"{label}: {counts.cases} cases so far")
        rounds += 1
    return counts


def _run(
    operation: Any,
    url: str,
    headers: dict[str, str],
    label: str,
    counts: Counts,
    examples: int,
    seed: int,
    suppressed: list[HealthCheck],
) -> None:
    """Up to ``examples`` cases of one operation as one identity (fewer if its inputs run out)."""

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=suppressed, print_blob=False)
    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
    @seed_with(seed)
    def one(case: schemathesis.Case) -> None:
        response = None
        try:
            response = case.call(base_url=url, headers=headers, timeout=10)
            case.validate_response(response, headers=headers, additional_checks=[never_refused_as_malformed])
        except (FailureGroup, Failure) as exc:
            counts.record(response, exc, label)
            return
        counts.record(response, None, label)

    one()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000, help="Generated requests in all (at least).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vaxdrill-fuzz-") as tmp:
        db = Path(tmp) / "server.db"
        with ServerProcess(
            "--db", f"sqlite:///{db}", "--seed-data", str(SCENARIO), "--drill",
            "--otp-limit", "1000000", "--max-in-flight", "0", log=Path(tmp) / "server.log", secrets=DRILL_SECRETS,
        ) as server:  # fmt: skip
            counts = fuzz(server.url, args.cases, args.seed, log=print if args.verbose else None)
    print(f"cases: {counts.cases}")
    print(f"5xx answers: {counts.server_errors}")
    print(f"schema violations: {counts.violations} {dict(counts.by_check) or ''}")
    for example in counts.examples[:20]:
        print(f"  {example}")
    ok = counts.cases >= args.cases and counts.server_errors == 0 and counts.violations == 0
    print(f"target (>= {args.cases} cases, 0 5xx, 0 violations): {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
