"""Tokens, and keeping mobile numbers and photo ID numbers out of logs.

Tokens are signed, not stored: ``kind.subject.expiry.signature`` (HMAC-SHA256 with a key kept in the
database, so every worker accepts every other worker's tokens). Kinds: ``citizen`` (subject: the
mobile), ``staff`` (subject: ``center_id:staff_id``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass


class TokenError(Exception):
    """A token that is malformed, forged or expired; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Claims:
    kind: str
    subject: str
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


VERIFIED_CACHE = 50_000
"""Tokens whose signature a signer remembers having checked (a few MB; emptied when full)."""


class TokenSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key
        # token -> its claims, for tokens with a good signature only (nobody can fill it without the
        # key); expiry is still checked on every use. A citizen sends the same token for a whole visit.
        self._verified: dict[str, Claims] = {}

    def issue(self, kind: str, subject: str, ttl: float, now: float | None = None) -> str:
        expires = int((now if now is not None else time.time()) + ttl)
        body = f"{kind}.{_b64(subject.encode())}.{expires}"
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, now: float | None = None) -> Claims:
        claims = self._verified.get(token)
        if claims is None:
            claims = self._check(token)
            if len(self._verified) >= VERIFIED_CACHE:
                self._verified.clear()
            self._verified[token] = claims
        if claims.expires_at <= (now if now is not None else time.time()):
            raise TokenError("token expired")
        return claims

    def _check(self, token: str) -> Claims:
        """Signature and format (not expiry) of ``token``."""
        parts = token.split(".")
        if len(parts) != 4:
            raise TokenError("malformed token")
        kind, subject, expires, signature = parts
        body = f"{kind}.{subject}.{expires}"
        if not hmac.compare_digest(signature, self._sign(body)):
            raise TokenError("invalid token")
        try:
            expires_at = float(int(expires))
            subject_text = _unb64(subject).decode()
        except (ValueError, UnicodeDecodeError):
            raise TokenError("malformed token") from None
        return Claims(kind, subject_text, expires_at)

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:20])

    def keyed_hash(self, text: str) -> str:
        """A hash that cannot be reversed by trying every 10-digit number without the key."""
        return hmac.new(self._key, text.encode(), hashlib.sha256).hexdigest()


def mask_mobile(mobile: str) -> str:
    """``98XXXXXX21``: enough to tell two apart in a log, not enough to call anyone."""
    return mobile[:2] + "X" * max(len(mobile) - 4, 0) + mobile[-2:] if len(mobile) >= 4 else "X" * len(mobile)


def mask_id(number: str) -> str:
    return "X" * max(len(number) - 4, 0) + number[-4:]
