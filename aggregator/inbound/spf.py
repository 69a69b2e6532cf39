"""The SPF result of an inbound mail, as the trusted relay in front (Postfix) recorded it.

The listener does no DNS of its own: offline an SPF check could only say ``none`` or
``temperror``, and the relay has checked SPF already (postfix-policyd-spf adds
``Received-SPF``; an authentication milter adds ``Authentication-Results``). Only mail handed
over by a relay in ``mail.inbound.trusted_relays`` is believed, and only the topmost header of
each kind (the one the relay prepended; those below came with the mail and may be forged);
with ``relay_id`` set, only a header naming that relay counts.
"""

from __future__ import annotations

import email.parser
import email.policy
import ipaddress
import re
from collections.abc import Sequence

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
_SPF = re.compile(r"(?:^|;)\s*spf\s*=\s*([a-z]+)", re.ASCII | re.IGNORECASE)
_RECEIVER = re.compile(r"(?:^|;)\s*receiver\s*=\s*([^;\s]+)", re.ASCII | re.IGNORECASE)
MAX_HEADERS = 200


def trusted(peer: str, relays: Sequence[str]) -> bool:
    """Whether the connecting address is one of the trusted relays' networks."""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in relays)


def _from_authentication_results(value: str, relay_id: str) -> str | None:
    authserv, _, rest = value.partition(";")
    if relay_id and authserv.split()[:1] != [relay_id.lower()]:
        return None
    match = _SPF.search(";" + rest)
    return match.group(1) if match else None


def _from_received_spf(value: str, relay_id: str) -> str | None:
    if relay_id:
        receiver = _RECEIVER.search(value)
        if receiver is None or receiver.group(1).rstrip(".") != relay_id.lower():
            return None
    words = value.split(None, 1)
    return words[0] if words else None


def spf_result(data: bytes, peer: str, relays: Sequence[str], relay_id: str = "") -> str:
    """``pass``, ``fail``, ``softfail``, ``neutral``, ``none``, ``temperror`` or ``permerror``:
    what the trusted relay's topmost header says; ``none`` from an untrusted peer or without one.
    """
    if not relays or not trusted(peer, relays):
        return "none"
    head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(data[:65536])
    seen: set[str] = set()
    relay_id = relay_id.strip().lower().rstrip(".")
    for name, value in head.items()[:MAX_HEADERS]:
        kind = name.strip().lower()
        if kind not in ("authentication-results", "received-spf") or kind in seen:
            continue
        seen.add(kind)  # the topmost of each kind only
        text = " ".join(str(value).lower().split())
        if kind == "authentication-results":
            found = _from_authentication_results(text, relay_id)
        else:
            found = _from_received_spf(text, relay_id)
        if found in RESULTS:
            return found
    return "none"
