"""The drill's shared secrets: what a drill-mode server is started with and what the load test logs in with.

The server, the Locust users and the tests must agree on them. :data:`DRILL_SECRETS` holds the
documented public values (for a hand-started ``vaxdrill serve`` and plain ``locust -f``);
``vaxdrill loadtest`` and ``capacity`` make random ones for each run (:meth:`DrillSecrets.random`)
and hand them to the server and to Locust in environment variables, never on a command line. A
Locust process reads them from ``--drill-otp``/``--drill-staff-key``/``--admin-token`` (or the
``VAXDRILL_*`` variables of :data:`ENV_VARS`), falling back to :data:`DRILL_SECRETS`.

Staff log in with accounts of their own (one per staff member and centre). For a drill, the server
makes one account per seeded centre, :data:`DRILL_STAFF_ID`, whose credential is derived from the
drill staff key and the centre (:func:`drill_staff_credential`): the load generator gets one key, and
every centre still has its own credential.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

DRILL_STAFF_ID = "drill"
"""The staff id of each centre's drill account."""


def drill_staff_credential(key: str, center_id: int, staff_id: str = DRILL_STAFF_ID) -> str:
    """The credential of the drill account ``staff_id`` at ``center_id`` under drill staff key ``key``."""
    digest = hmac.new(key.encode("utf-8"), f"staff:{center_id}:{staff_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:32]


@dataclass(frozen=True)
class DrillSecrets:
    """The three values a drill-mode server and its load test share."""

    drill_otp: str = "drill-otp"
    """Secret the server derives OTPs from (:func:`vaxdrill.core.otp.drill_otp`)."""
    drill_staff_key: str = "drill-staff"
    """Key the drill accounts' credentials are derived from (:func:`drill_staff_credential`)."""
    admin_token: str = "drill-admin"
    """Bearer token of the admin routes (faults, integrity check)."""

    @classmethod
    def random(cls) -> DrillSecrets:
        """Fresh random secrets, for one load-test run."""
        return cls(secrets.token_urlsafe(18), secrets.token_urlsafe(18), secrets.token_urlsafe(18))

    def environ(self) -> dict[str, str]:
        """Environment variables that hand these secrets to ``vaxdrill serve`` or a Locust process."""
        return {
            ENV_VARS["drill_otp"]: self.drill_otp,
            ENV_VARS["drill_staff_key"]: self.drill_staff_key,
            ENV_VARS["admin_token"]: self.admin_token,
        }

    def staff_credential(self, center_id: int) -> str:
        """The credential of ``center_id``'s drill account."""
        return drill_staff_credential(self.drill_staff_key, center_id)


DRILL_SECRETS = DrillSecrets()
"""The documented drill defaults (README: ``vaxdrill serve``, plain ``locust -f``)."""

ENV_VARS = {
    "drill_otp": "VAXDRILL_DRILL_OTP",
    "drill_staff_key": "VAXDRILL_DRILL_STAFF_KEY",
    "admin_token": "VAXDRILL_ADMIN_TOKEN",
}
"""The variable each field is read from in a Locust process."""
