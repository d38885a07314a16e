"""Tokens, the keys derived for each purpose, and keeping mobile numbers and photo ID numbers out of logs.

Tokens are signed, not stored: ``kind.subject.expiry.signature`` (HMAC-SHA256 with a key derived from
the root key kept in the database, so every worker accepts every other worker's tokens). Kinds:
``citizen`` (subject: the mobile), ``staff`` (subject: ``center_id:staff_id``).

One random root key per database; each purpose gets its own key from it (:func:`derive_key`, HKDF's
expand step): token signing (per key *generation*, so rotating the generation revokes every token
issued before), photo-ID hashes and OTP hashes (never rotated: stored hashes must still match). A
leaked token key thus says nothing about photo IDs, and the other way round.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
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
        if not token.isascii():  # compare_digest refuses non-ASCII text (a TypeError, once a 500)
            raise TokenError("malformed token")
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


def derive_key(root: bytes, purpose: str) -> bytes:
    """HKDF-Expand (RFC 5869) with SHA-256, one block: the key for one ``purpose`` only.

    The root is 32 random bytes already, so HKDF's extract step adds nothing and is left out.
    """
    return hmac.new(root, purpose.encode() + b"\x01", hashlib.sha256).digest()


class KeyRing:
    """The keys of one root key and token generation; ``generation`` goes up when an admin rotates."""

    def __init__(self, root: bytes, generation: int = 0) -> None:
        self.generation = generation
        self.signer = TokenSigner(derive_key(root, f"vaxdrill token signing {generation}"))
        self._id_key = derive_key(root, "vaxdrill photo id hash")
        self._otp_key = derive_key(root, "vaxdrill otp hash")

    def id_hash(self, text: str) -> str:
        """A photo-ID hash that cannot be reversed by trying every number without the key."""
        return hmac.new(self._id_key, text.encode(), hashlib.sha256).hexdigest()

    def otp_record(self, client_hash: str, salt: str | None = None) -> str:
        """What is stored for an OTP: 16 hex of per-transaction salt + 48 hex of keyed hash (64 in all).

        ``client_hash`` is what confirmOTP is sent (sha256 hex of the digits); the stored value is
        not, so a copy of the table cannot be replayed to confirmOTP.
        """
        salt = salt if salt is not None else secrets.token_hex(8)
        mac = hmac.new(self._otp_key, f"{salt}:{client_hash.lower()}".encode(), hashlib.sha256).hexdigest()
        return salt + mac[:48]

    def otp_matches(self, stored: str, client_hash: str) -> bool:
        if not client_hash.isascii():
            return False
        return hmac.compare_digest(self.otp_record(client_hash, stored[:16]), stored)


def mask_mobile(mobile: str) -> str:
    """``98XXXXXX21``: enough to tell two apart in a log, not enough to call anyone."""
    return mobile[:2] + "X" * max(len(mobile) - 4, 0) + mobile[-2:] if len(mobile) >= 4 else "X" * len(mobile)


def mask_id(number: str) -> str:
    return "X" * max(len(number) - 4, 0) + number[-4:]
