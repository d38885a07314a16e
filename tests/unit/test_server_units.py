"""Small pieces of the server: the PDF writer, tokens, masking, slots."""

from __future__ import annotations

import re

import pytest

from regserver.accounts import credential_matches, hash_credential
from regserver.pdf import text_pdf
from regserver.security import KeyRing, TokenError, TokenSigner, derive_key, mask_id, mask_mobile
from regserver.seed import slots_for


def test_pdf_cross_reference_points_at_every_object() -> None:
    pdf = text_pdf(["Certificate", "Name: Asha (Patil) \\ test", "Dose 1: COVISHIELD"], title="T")
    assert pdf.startswith(b"%PDF-1.4\n") and pdf.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[startxref:].startswith(b"xref\n0 7\n")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n", pdf)]
    assert len(offsets) == 6
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj".encode())
    length = int(re.search(rb"/Length (\d+)", pdf).group(1))  # type: ignore[union-attr]
    start = pdf.index(b"stream\n") + len(b"stream\n")
    assert pdf[start + length : start + length + len(b"\nendstream")] == b"\nendstream"
    assert b"(Name: Asha \\(Patil\\) \\\\ test) Tj" in pdf


def test_tokens_sign_expire_and_refuse_forgeries() -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue("citizen", "9876543210", ttl=60, now=1000.0)
    claims = signer.verify(token, now=1030.0)
    assert (claims.kind, claims.subject) == ("citizen", "9876543210")
    with pytest.raises(TokenError, match="expired"):
        signer.verify(token, now=1061.0)
    _kind, subject, expires, sig = token.split(".")
    with pytest.raises(TokenError, match="invalid"):
        signer.verify(f"staff.{subject}.{expires}.{sig}", now=1030.0)
    with pytest.raises(TokenError, match="invalid"):
        TokenSigner(b"x" * 32).verify(token, now=1030.0)
    with pytest.raises(TokenError, match="malformed"):
        signer.verify("nonsense", now=1030.0)


def test_remembered_tokens_still_expire_and_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from regserver import security

    monkeypatch.setattr(security, "VERIFIED_CACHE", 2)
    signer = TokenSigner(b"k" * 32)
    tokens = [signer.issue("citizen", f"98765432{i:02d}", ttl=60, now=1000.0) for i in range(3)]
    for token in tokens:
        assert signer.verify(token, now=1001.0).subject.startswith("98765432")
    assert len(signer._verified) <= 2
    assert signer.verify(tokens[2], now=1059.0).subject == "9876543202"  # remembered, still valid
    with pytest.raises(TokenError, match="expired"):
        signer.verify(tokens[2], now=1060.0)  # remembered, but expired all the same
    body, _, sig = tokens[2].rpartition(".")
    with pytest.raises(TokenError, match="invalid"):
        signer.verify(f"{body}.{sig[:-1]}{'A' if sig[-1] != 'A' else 'B'}", now=1001.0)


def test_each_purpose_has_its_own_key_and_rotation_changes_only_the_token_key() -> None:
    root = b"r" * 32
    now, then = KeyRing(root, 0), KeyRing(root, 1)
    keys = {derive_key(root, p) for p in ("vaxdrill token signing 0", "vaxdrill photo id hash", "vaxdrill otp hash")}
    assert len(keys) == 3 and root not in keys
    token = now.signer.issue("citizen", "9876543210", ttl=60, now=1000.0)
    with pytest.raises(TokenError, match="invalid"):
        then.signer.verify(token, now=1030.0)
    # The photo-ID hash is not the token key's: knowing one says nothing of the other; rotation keeps it.
    assert now.id_hash("1:ABC") == then.id_hash("1:ABC")
    assert now.id_hash("1:ABC") != TokenSigner(derive_key(root, "vaxdrill token signing 0"))._sign("1:ABC")
    # A non-ASCII token is malformed (compare_digest would raise TypeError on it).
    with pytest.raises(TokenError, match="malformed"):
        now.signer.verify(token[:-1] + "\xe9", now=1030.0)


def test_otp_records_are_salted_per_transaction() -> None:
    ring = KeyRing(b"r" * 32)
    sent = "a" * 64
    first, second = ring.otp_record(sent), ring.otp_record(sent)
    assert first != second and len(first) == len(second) == 64 and sent not in (first, second)
    assert ring.otp_matches(first, sent) and ring.otp_matches(second, sent.upper())
    assert not ring.otp_matches(first, first) and not ring.otp_matches(first, "b" * 64)


def test_staff_credentials_are_scrypt_hashes_with_their_own_salt() -> None:
    one, two = hash_credential("correct horse battery", n=2**10), hash_credential("correct horse battery", n=2**10)
    assert one != two and one.startswith("scrypt$1024$8$1$")
    assert credential_matches(one, "correct horse battery") and not credential_matches(one, "correct horse batterY")
    assert not credential_matches(None, "correct horse battery")  # no account: refused, after the same work
    assert not credential_matches("scrypt$broken", "x")


def test_masks_and_slots() -> None:
    assert mask_mobile("9876543210") == "98XXXXXX10"
    assert mask_id("ABCD1234") == "XXXX1234"
    assert slots_for(10.5 * 3600, 13 * 3600, 3600) == ["10:30AM-11:30AM", "11:30AM-12:30PM", "12:30PM-01:00PM"]


def test_worker_sockets_answer_without_nagle_delays() -> None:
    """A worker's listening socket says it is TCP, so asyncio sets TCP_NODELAY on each connection it accepts:
    without it each keep-alive answer written in two parts waited ~40 ms for a delayed ACK."""
    import asyncio
    import socket

    from vaxdrill.cli.commands.serve import _reuseport_socket

    async def nodelay_of_an_accepted_connection() -> int:
        accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        listening = _reuseport_socket("127.0.0.1", 0)
        listening.listen(8)
        server = await asyncio.start_server(on_connect, sock=listening)  # as uvicorn serves a worker's socket
        async with server:
            _, writer = await asyncio.open_connection(*listening.getsockname())
            value = await asyncio.wait_for(accepted, timeout=10)
            writer.close()
            await writer.wait_closed()
        return value

    assert asyncio.run(nodelay_of_an_accepted_connection()) != 0
