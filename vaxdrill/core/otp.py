"""OTP helpers shared by the reference server and the load-test users.

Co-WIN's confirmOTP takes the sha256 hex of the OTP, never the OTP itself (BRIEF.md section 4).
In drill mode (``vaxdrill serve --drill-otp SECRET``, off by default) the OTP for a mobile number is
derived from the number and the secret, so load-test users can log in without reading an SMS.
"""

from __future__ import annotations

import hashlib
import hmac


def otp_hash(otp: str) -> str:
    """The value a client sends to confirmOTP: sha256 hex of the OTP's digits."""
    return hashlib.sha256(otp.encode("ascii")).hexdigest()


def drill_otp(mobile: str, secret: str, txn_id: str = "") -> str:
    """The six-digit OTP a drill-mode server issues for ``mobile`` (and transaction ``txn_id``)."""
    digest = hmac.new(secret.encode("utf-8"), f"{mobile}:{txn_id}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"
