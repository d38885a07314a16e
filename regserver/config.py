"""Server settings, passed to every worker process through one environment variable."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

ENV_VAR = "VAXDRILL_SERVER_CONFIG"
DEFAULT_DB = "sqlite:///vaxdrill-server.db"


@dataclass(frozen=True)
class ServerConfig:
    """What ``vaxdrill serve`` was told. Times in seconds."""

    db: str = DEFAULT_DB
    drill_otp: str | None = None  # off by default: OTPs go to the SMS outbox only
    admin_token: str = ""  # empty: admin routes refuse everyone
    max_in_flight: int = 200  # per worker, hard cap; 0 = no cap
    latency_target: float = 0.05  # adaptive limit: shed once admitted answers take longer on average; 0 = off
    per_ip_limit: int = 0  # calls per per_ip_window; 0 = off (Co-WIN's public API: 100 per 5 min)
    per_ip_window: float = 300.0
    cache_seconds: float = 5.0  # availability and counters: Cache-Control max-age and in-process cache
    token_ttl: float = 1800.0  # citizen tokens
    staff_token_ttl: float = 8 * 3600.0
    otp_ttl: float = 180.0  # Co-WIN: an OTP was valid for 3 minutes
    otp_attempts: int = 3
    otp_limit: int = 5  # OTPs per mobile per otp_window, then 429
    otp_window: float = 900.0
    # Logins and OTPs per client address, and staff logins per account (centre + staff id), per
    # auth_window; then 429. 0 = off (drill mode: every simulated user shares 127.0.0.1).
    auth_per_ip_limit: int = 100
    staff_login_limit: int = 10
    auth_window: float = 900.0
    seed: int = 0  # root seed of the fault draws (latency, error rate)
    pool_size: int = 8
    purge_interval: float = 30.0  # expired OTP transactions and SMS outbox rows are deleted this often
    idempotency_lease: float = 30.0  # a claimed key whose request died is free again after this
    # Request bodies over these many bytes are refused (413) before they are read or parsed.
    body_limit: int = 16 * 1024
    sync_body_limit: int = 512 * 1024  # a batch sync of 500 paper records is about 130 KB
    sync_chunk: int = 50  # sync records per write transaction: other writers get a turn between chunks

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServerConfig:
        text = os.environ.get(ENV_VAR)
        return cls(**json.loads(text)) if text else cls()
