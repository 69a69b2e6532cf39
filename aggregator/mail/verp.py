"""VERP envelope senders: each delivery goes out from ``<local>+<id>.<signature>@<domain>``,
so a delivery status notification that comes back later names exactly that delivery.

The signature is an HMAC of the delivery id under the installation's key (16 hex characters,
lowercase: envelope local parts may be folded to lowercase on the way back).
"""

from __future__ import annotations

import hashlib
import hmac
import re

_SIG = 16
_TOKEN = re.compile(r"([0-9]{1,18})\.([0-9a-f]{16})", re.ASCII)


def _signature(secret: str, delivery_id: int) -> str:
    mac = hmac.new(secret.encode(), f"verp:{delivery_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:_SIG]


def bounce_address(local: str, domain: str, secret: str, delivery_id: int) -> str:
    """The envelope sender of one delivery."""
    return f"{local}+{delivery_id}.{_signature(secret, delivery_id)}@{domain}"


def delivery_of(address: str, local: str, domain: str, secret: str) -> int | None:
    """The delivery id a bounce address names, or None when it is not ours or forged."""
    name, _, host = address.strip().lower().rpartition("@")
    prefix = local.lower() + "+"
    if host != domain.lower() or not name.startswith(prefix):
        return None
    match = _TOKEN.fullmatch(name[len(prefix) :])
    if match is None:
        return None
    delivery_id = int(match.group(1))
    if not hmac.compare_digest(_signature(secret, delivery_id), match.group(2)):
        return None
    return delivery_id
