"""The vaccinator's wait on 409 IDEMPOTENCY_IN_FLIGHT, and the ledger's view of a refused dose."""

from __future__ import annotations

from vaxdrill.loadtest.integrity import LedgerEntry, check
from vaxdrill.loadtest.retry import IN_FLIGHT_PATIENCE_S, in_flight_wait


def test_in_flight_waits_honour_retry_after_until_the_lease_has_passed() -> None:
    assert in_flight_wait("7", waited_s=0.0) == 7.0  # the seconds left on the server's lease
    assert in_flight_wait(None, waited_s=0.0) == 1.0
    # A 30 s lease told in whole seconds is waited out in full, well within the patience.
    waited, told = 0.0, [29, 1]  # asked just after the claim, then once more as the lease ends
    for left in told:
        wait = in_flight_wait(str(left), waited)
        assert wait == float(left)
        waited += wait
    assert waited >= 30.0
    # Past the patience: stop asking, the caller puts the dose on paper.
    assert in_flight_wait("10", waited_s=IN_FLIGHT_PATIENCE_S - 5.0) is None


def test_a_dose_given_but_refused_by_the_server_is_reported_lost() -> None:
    given = [
        LedgerEntry("b1", "s1", 1, "online", "k1"),
        LedgerEntry("b2", "s1", 1, "refused", "k2"),  # given, the record refused (e.g. 422)
    ]
    verdict = check(given, [{"beneficiary_reference_id": "b1", "dose": 1}], [])
    assert not verdict["passed"] and verdict["lost"] == 1 and verdict["examples"]["lost"] == ["b2/dose1"]
