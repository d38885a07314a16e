"""The drill's shared secrets: what a drill-mode server is started with and what the load test logs in with.

Not secrets in the security sense: a drill runs against a reference server on this machine, and the
server, the Locust users and the tests must agree on them. They live here, once. A Locust process
reads them from ``--drill-otp``/``--staff-secret``/``--admin-token`` (or the ``VAXDRILL_*``
variables of :data:`ENV_VARS`), falling back to :data:`DRILL_SECRETS`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DrillSecrets:
    """The three values a drill-mode server and its load test share."""

    drill_otp: str = "drill-otp"
    """Secret the server derives OTPs from (:func:`vaxdrill.core.otp.drill_otp`)."""
    staff_secret: str = "drill-staff"
    """What site staff log in with (``POST /api/v2/staff/login``)."""
    admin_token: str = "drill-admin"
    """Bearer token of the admin routes (faults, integrity check)."""

    def server_args(self) -> list[str]:
        """``vaxdrill serve`` options that start a server with these secrets."""
        return ["--drill-otp", self.drill_otp, "--staff-secret", self.staff_secret, "--admin-token", self.admin_token]

    def environ(self) -> dict[str, str]:
        """Environment variables that hand these secrets to a Locust process."""
        return {
            ENV_VARS["drill_otp"]: self.drill_otp,
            ENV_VARS["staff_secret"]: self.staff_secret,
            ENV_VARS["admin_token"]: self.admin_token,
        }


DRILL_SECRETS = DrillSecrets()
"""The documented drill defaults (README: ``vaxdrill serve``, plain ``locust -f``)."""

ENV_VARS = {
    "drill_otp": "VAXDRILL_DRILL_OTP",
    "staff_secret": "VAXDRILL_STAFF_SECRET",
    "admin_token": "VAXDRILL_ADMIN_TOKEN",
}
"""The variable each field is read from in a Locust process."""
