"""The vaccinator's wait on 409 IDEMPOTENCY_IN_FLIGHT, and the ledger's view of a refused dose."""

from __future__ import annotations

from vaxdrill.loadtest.integrity import LedgerEntry, check
from vaxdrill.loadtest.paper_sync import settle
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


def test_a_rejected_paper_record_is_final_and_only_an_unanswered_batch_is_sent_again() -> None:
    """A record the server rejected would be rejected again: it leaves the outbox (as refused) instead
    of being sent for ever, as the outbox did with the batch a year-1 record used to fail (500)."""
    ids = ["r1", "r2", "r3"]
    body = {
        "results": [
            {"client_record_id": "r1", "status": "created", "vaccination_id": "v1"},
            {"client_record_id": "r2", "status": "rejected", "reason": "administered_at: not on the session's day"},
            {"client_record_id": "r3", "status": "conflict", "reason": "dose 1 already recorded at another centre"},
        ]
    }
    settled = settle(ids, 200, None, body)
    assert not settled.again
    assert settled.held == {"r1": "created", "r3": "conflict"}
    assert settled.refused == {"r2": "administered_at: not on the session's day"}
    # A batch refused whole with a definite 4xx is final for each of its records.
    too_big = settle(ids, 413, "BODY_TOO_LARGE", None)
    assert not too_big.again and set(too_big.refused) == set(ids) and "413" in too_big.refused["r1"]
    # No final answer: the whole batch is sent again.
    for status, code in [(0, None), (500, "INTERNAL"), (503, "OUTAGE"), (401, "AUTH_INVALID"), (429, "RATE_LIMIT")]:
        assert settle(ids, status, code, None).again, status
    # A record the answer forgot is not silently dropped: it is refused, so the integrity check counts it.
    assert settle(ids, 200, None, {"results": body["results"][:1]}).refused.keys() == {"r2", "r3"}
