"""A DKIM key pair and the DNS answer a verifier would get, for checking signatures offline."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


@dataclass(frozen=True, slots=True)
class DKIMKey:
    private_pem: bytes
    record: bytes
    """The TXT record (``v=DKIM1; k=rsa; p=...``) published at ``<selector>._domainkey.<domain>``."""

    def dns(self, selector: str, domain: str) -> Callable[..., bytes]:
        """A ``dnsfunc`` for ``dkim.verify`` that knows only this key's record."""
        name = f"{selector}._domainkey.{domain}.".encode()

        def lookup(query: bytes, timeout: int = 5) -> bytes:
            return self.record if query == name else b""

        return lookup


def make_dkim_key() -> DKIMKey:
    """A fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return DKIMKey(private, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public))
