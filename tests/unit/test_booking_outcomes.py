"""Booking outcomes: the batcher's checks of a request's beneficiaries, and each refusal's HTTP answer."""

from __future__ import annotations

import pytest

from regserver.booking import refusal_problem
from regserver.outcomes import Booked, Booking, Refusal, UnderAge, check_beneficiaries

MOBILE = "9800000000"
PEOPLE = {"1": (MOBILE, 1980), "2": (MOBILE, 2010), "3": (MOBILE, 2012), "4": ("9811111111", 1970)}


def booking(*refs: str) -> Booking:
    return Booking("s1", 1, "10:30AM-11:30AM", refs, MOBILE, born_by=2003)


def test_adults_of_this_mobile_go_on() -> None:
    assert check_beneficiaries(booking("1"), PEOPLE) is None


@pytest.mark.parametrize("refs", [("4",), ("1", "4"), ("9",), ("1", "9")])
def test_someone_of_another_mobile_or_unknown_is_not_registered(refs: tuple[str, ...]) -> None:
    assert check_beneficiaries(booking(*refs), PEOPLE) is Refusal.NOT_REGISTERED


def test_under_age_names_the_first_young_beneficiary_in_request_order() -> None:
    assert check_beneficiaries(booking("1", "3", "2"), PEOPLE) == UnderAge("3")
    # Not registered outranks age: nothing about the others is told.
    assert check_beneficiaries(booking("2", "4"), PEOPLE) is Refusal.NOT_REGISTERED


def test_outcomes_are_values() -> None:
    assert Booked("a") == Booked("a") != Booked("b")
    with pytest.raises(AttributeError):
        Booked("a").appointment_id = "b"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("outcome", "status", "code", "message"),
    [
        (Refusal.FULL, 409, "APPOIN0040", "this session is fully booked"),
        (Refusal.ALREADY_BOOKED, 409, "APPOIN0041", "a beneficiary already has an appointment for dose 2"),
        (
            Refusal.NOT_REGISTERED,
            404,
            "BENEFICIARY_NOT_FOUND",
            "a beneficiary is not registered with this mobile number",
        ),
        (UnderAge("01234567890123"), 400, "AGE_LIMIT", "beneficiary 01234567890123 is under 45"),
    ],
)
def test_each_refusal_has_its_contract_answer(
    outcome: UnderAge | Refusal, status: int, code: str, message: str
) -> None:
    problem = refusal_problem(outcome, dose=2, min_age_limit=45)
    assert (problem.status, problem.code, problem.message) == (status, code, message)
