"""Staff accounts: one per staff member, bound to one centre, with a credential kept as a scrypt hash.

Accounts come from the operator (``vaxdrill serve --staff-accounts FILE``, or ``PUT
/api/v2/admin/staff/{center_id}/{staff_id}``) and, for drills, from the drill staff key: one account
:data:`~vaxdrill.core.secrets.DRILL_STAFF_ID` per centre, whose credential only the load generator
(which was handed the key) can work out.

The stored hash is ``scrypt$N$r$p$salt$hash`` (RFC 7914; N=2^14, r=8, p=1, a 16-byte random salt per
account: about 50 ms and 16 MB per check on one core, OWASP's minimum). Checks run in a thread, so a
login never stalls the worker's event loop, and an unknown account costs the same check as a known
one, so timing does not tell which accounts exist.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, model_validator

from regserver.db import Database, centers, staff_accounts
from vaxdrill.core.errors import SecretFileError
from vaxdrill.core.secrets import DRILL_STAFF_ID, drill_staff_credential

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# Drill credentials are 128 random bits (derived from a random key), so a slow hash protects nothing
# a guesser could try; the cheapest scrypt keeps one stored format while a national drill (thousands of
# centres) starts, and restarts after a crash, without minutes of hashing.
DRILL_SCRYPT_N = 2**4
StaffId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$")]


def hash_credential(credential: str, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(credential.encode("utf-8"), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


@functools.cache
def _dummy() -> str:
    """A hash checked against when the account does not exist (made once, on first need)."""
    return hash_credential("no such account")


def credential_matches(stored: str | None, credential: str) -> bool:
    """Whether ``credential`` is the one ``stored`` was made from (False for no account, same cost)."""
    try:
        _, n, r, p, salt, digest = (stored or _dummy()).split("$")
        made = hashlib.scrypt(
            credential.encode("utf-8", "surrogatepass"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest) // 2,
            maxmem=64 * 1024 * 1024,
        )
    except ValueError:
        return False
    return stored is not None and hmac.compare_digest(made.hex(), digest)


async def check_login(db: Database, center_id: int, staff_id: str, credential: str) -> bool:
    """Whether ``staff_id`` at ``center_id`` has an account and ``credential`` is its credential."""
    async with db.read() as conn:
        stored = (
            await conn.execute(
                sa.select(staff_accounts.c.credential_hash).where(
                    staff_accounts.c.center_id == center_id, staff_accounts.c.staff_id == staff_id
                )
            )
        ).scalar_one_or_none()
    return await asyncio.to_thread(credential_matches, stored, credential)


async def put_accounts(db: Database, accounts: list[tuple[int, str, str]]) -> None:
    """Create or replace accounts ``(center_id, staff_id, credential_hash)``."""
    if not accounts:
        return
    now = time.time()
    async with db.write() as conn:
        for center_id, staff_id, _ in accounts:
            await conn.execute(
                staff_accounts.delete().where(
                    staff_accounts.c.center_id == center_id, staff_accounts.c.staff_id == staff_id
                )
            )
        rows = [{"center_id": c, "staff_id": s, "credential_hash": h, "created_at": now} for c, s, h in accounts]
        await conn.execute(staff_accounts.insert(), rows)


def _hash_all(credentials: list[str], n: int) -> list[str]:
    # hashlib.scrypt releases the GIL: the centres' hashes are made on every core at once.
    with ThreadPoolExecutor() as pool:
        return list(pool.map(functools.partial(hash_credential, n=n), credentials))


async def put_drill_accounts(db: Database, key: str) -> int:
    """One drill account per centre, with the credential derived from ``key``; how many were made."""
    async with db.read() as conn:
        ids = list((await conn.execute(sa.select(centers.c.center_id))).scalars())
    hashes = await asyncio.to_thread(_hash_all, [drill_staff_credential(key, c) for c in ids], DRILL_SCRYPT_N)
    await put_accounts(db, [(c, DRILL_STAFF_ID, h) for c, h in zip(ids, hashes, strict=True)])
    return len(ids)


class StaffAccount(BaseModel):
    """One line of an accounts file: the credential itself (hashed on loading) or its scrypt hash."""

    model_config = ConfigDict(extra="forbid")
    center_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    staff_id: StaffId
    credential: Annotated[str, StringConstraints(min_length=12, max_length=200)] | None = None
    credential_hash: (
        Annotated[str, StringConstraints(pattern=r"^scrypt\$\d+\$\d+\$\d+\$[0-9a-f]+\$[0-9a-f]+$")] | None
    ) = None

    @model_validator(mode="after")
    def _one_of(self) -> StaffAccount:
        if (self.credential is None) == (self.credential_hash is None):
            raise ValueError("give exactly one of `credential` (12+ characters) and `credential_hash`")
        return self

    def stored(self) -> str:
        return self.credential_hash if self.credential_hash is not None else hash_credential(str(self.credential))


def read_accounts_file(path: Path) -> list[StaffAccount]:
    """A YAML or JSON list of accounts (``center_id``, ``staff_id``, ``credential`` or ``credential_hash``)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SecretFileError(f"--staff-accounts {path}: cannot be read: {exc.strerror or exc}") from None
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise SecretFileError(f"--staff-accounts {path}: not valid YAML or JSON: {exc}") from None
    try:
        return TypeAdapter(list[StaffAccount]).validate_python(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        raise SecretFileError(
            f"--staff-accounts {path}: {where or 'top level'}: {err['msg'].removeprefix('Value error, ')} "
            "(expected a list of {center_id, staff_id, credential | credential_hash})"
        ) from None
