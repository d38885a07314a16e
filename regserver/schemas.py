"""Request and answer bodies of the API (docs/api-contract.md); they make the OpenAPI schema."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, WithJsonSchema

Mobile = Annotated[str, StringConstraints(pattern=r"^[6-9][0-9]{9}$")]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
BeneficiaryId = Annotated[str, StringConstraints(pattern=r"^[0-9]{14}$")]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
SLOT_PATTERN = r"^(0[1-9]|1[0-2]):[0-5][0-9](AM|PM)-(0[1-9]|1[0-2]):[0-5][0-9](AM|PM)$"
_SLOT = re.compile(SLOT_PATTERN)


def _slot(value: str) -> str:
    if not _SLOT.match(value):
        raise ValueError('expected a slot such as "09:00AM-11:00AM"')
    return value


# The pattern is in the schema too (a slot it allows is one the server takes); the validator keeps the message.
Slot = Annotated[
    str,
    StringConstraints(max_length=20),
    WithJsonSchema({"type": "string", "pattern": SLOT_PATTERN, "maxLength": 20, "examples": ["09:00AM-11:00AM"]}),
    AfterValidator(_slot),
]
"""An appointment slot as Co-WIN writes it: ``09:00AM-11:00AM``."""


class Body(BaseModel):
    """Request bodies refuse unknown fields: a misspelt field is a 422 naming it, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ApiError(BaseModel):
    errorCode: str
    error: str


class GenerateOtp(Body):
    mobile: Mobile


class TxnAnswer(BaseModel):
    txnId: str


class ConfirmOtp(Body):
    otp: Sha256Hex
    txnId: Annotated[str, StringConstraints(min_length=1, max_length=36)]


class TokenAnswer(BaseModel):
    token: str
    expires_in: int


class State(BaseModel):
    state_id: int
    state_name: str


class States(BaseModel):
    states: list[State]


class District(BaseModel):
    district_id: int
    district_name: str


class Districts(BaseModel):
    districts: list[District]


class NewBeneficiary(Body):
    name: Text
    birth_year: int = Field(ge=1900, le=2100)
    gender_id: Literal[1, 2, 3]
    photo_id_type: int = Field(ge=1, le=20)
    photo_id_number: Annotated[str, StringConstraints(min_length=4, max_length=20, pattern=r"^[A-Za-z0-9]+$")]
    comorbidity_ind: Literal["Y", "N"] = "N"
    consent_version: str = Field("V1", max_length=10)


class BeneficiaryRef(BaseModel):
    beneficiary_reference_id: str


class AppointmentOut(BaseModel):
    appointment_id: str
    session_id: str
    center_id: int
    name: str
    date: str
    slot: str
    dose: int


class BeneficiaryOut(BaseModel):
    beneficiary_reference_id: str
    name: str
    birth_year: int
    vaccination_status: str
    dose1_date: str
    appointments: list[AppointmentOut]


class Beneficiaries(BaseModel):
    beneficiaries: list[BeneficiaryOut]


class SessionOut(BaseModel):
    session_id: str
    date: str
    available_capacity: int
    available_capacity_dose1: int
    available_capacity_dose2: int
    min_age_limit: int
    vaccine: str
    slots: list[str]


class CenterFields(BaseModel):
    """A centre as Co-WIN describes it, alone (calendar) or beside each session (find)."""

    center_id: int
    name: str
    state_name: str
    district_name: str
    pincode: str
    from_: str = Field(alias="from")
    to: str
    fee_type: str


class SessionWithCenter(SessionOut, CenterFields):
    pass


class Sessions(BaseModel):
    sessions: list[SessionWithCenter]


class CenterOut(CenterFields):
    sessions: list[SessionOut]


class Centers(BaseModel):
    centers: list[CenterOut]


class Schedule(Body):
    dose: Literal[1, 2]
    session_id: SessionId
    slot: Slot
    beneficiaries: list[BeneficiaryId] = Field(min_length=1, max_length=4)
    center_id: int | None = None
    captcha: str | None = Field(None, max_length=20)


class Confirmation(BaseModel):
    appointment_confirmation_no: str


class Cancel(Body):
    appointment_id: SessionId
    beneficiariesToCancel: list[BeneficiaryId] = Field(min_length=1, max_length=4)


class Reschedule(Body):
    appointment_id: SessionId
    session_id: SessionId
    slot: Slot


class DistrictCount(BaseModel):
    district_id: int
    district_name: str
    vaccinated_today: int


class Counters(BaseModel):
    date: str
    districts: list[DistrictCount]


class StaffLogin(Body):
    center_id: int
    staff_id: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]
    secret: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class DueBeneficiary(BaseModel):
    beneficiary_reference_id: str
    name: str
    birth_year: int
    appointment_id: str
    slot: str
    dose: int
    vaccinated: bool


class DueList(BaseModel):
    beneficiaries: list[DueBeneficiary]


class Verify(Body):
    beneficiary_reference_id: BeneficiaryId
    session_id: SessionId


class Verified(BaseModel):
    verified: bool
    name: str
    birth_year: int
    appointment_id: str
    dose: int


class DoseRecord(Body):
    """A dose given: what a vaccinator records online (and on paper when offline)."""

    beneficiary_reference_id: BeneficiaryId
    session_id: SessionId
    vaccine: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 _-]+$")]
    batch: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 _/.-]+$")]
    dose: Literal[1, 2]
    administered_at: dt.datetime
    walk_in: bool = Field(
        False, description="given without an appointment at this session: stored with an audit row naming the staff"
    )


class Vaccination(BaseModel):
    vaccination_id: str
    beneficiary_reference_id: str
    session_id: str
    vaccine: str
    batch: str
    dose: int
    administered_at: str
    source: str


MAX_SYNC_RECORDS = 500


class SyncBatch(Body):
    # Records are validated one by one in the handler, so one bad record is "rejected", not the batch.
    records: list[dict[str, object]] = Field(max_length=MAX_SYNC_RECORDS)


class SyncResult(BaseModel):
    client_record_id: str | None
    status: Literal["created", "duplicate", "conflict", "rejected"]
    vaccination_id: str | None = None
    reason: str | None = None


class SyncAnswer(BaseModel):
    results: list[SyncResult]


class FaultOut(BaseModel):
    fault_id: str
    kind: str
    active: bool
    starts_at: float
    ends_at: float
    routes: list[str]
    mode: str
    spec: dict[str, object]


class FaultList(BaseModel):
    faults: list[FaultOut]


class StaffCredential(Body):
    """A staff account's new credential (``PUT /api/v2/admin/staff/{center_id}/{staff_id}``)."""

    credential: Annotated[str, StringConstraints(min_length=12, max_length=200)]


class KeyGeneration(BaseModel):
    generation: int


class FaultCreated(BaseModel):
    fault_id: str
    starts_at: float
    ends_at: float


class AdminVaccination(BaseModel):
    vaccination_id: str
    beneficiary_reference_id: str
    session_id: str
    dose: int
    source: str
    client_record_id: str | None
    idempotency_key: str | None


class AdminVaccinations(BaseModel):
    vaccinations: list[AdminVaccination]


Reason = Annotated[str, StringConstraints(min_length=3, max_length=500, pattern=r"\S")]
Operator = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.@ -]+$")]


class Correction(Body):
    """An admin's correction of a stored dose: the fields to change, who asks and why."""

    operator: Operator
    reason: Reason
    vaccine: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 _-]+$")] | None = None
    batch: Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9 _/.-]+$")] | None = None
    administered_at: dt.datetime | None = None


class Void(Body):
    """An admin's removal of a dose that did not happen: who asks and why."""

    operator: Operator
    reason: Reason


class AuditEntry(BaseModel):
    action: Literal["walk_in", "correct", "void"]
    actor: str
    at: float
    reason: str
    before: dict[str, object] | None
    after: dict[str, object] | None


class AuditTrail(BaseModel):
    vaccination_id: str
    entries: list[AuditEntry]


class AdminSession(BaseModel):
    session_id: str
    capacity: int
    booked: int


class AdminSessions(BaseModel):
    sessions: list[AdminSession]


class Health(BaseModel):
    status: str
