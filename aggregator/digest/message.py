"""A lean multipart/alternative mail builder and an optional DKIM signer.

The standard library's ``EmailMessage`` is correct but slow (its policy machinery re-parses every
header); this writes the few shapes a digest needs directly, as CRLF bytes ready for SMTP, and the
tests parse them back with ``email.policy.default``. Every header value is cleaned of control
characters first, so no feed text can start a new header.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache
from typing import Literal
from urllib.parse import urlsplit

import dkim
from email_validator import EmailNotValidError, validate_email

from aggregator.digest.render import clean_text, safe_url

SUBJECT_CHARS = 250
NAME_CHARS = 120
UNSUBSCRIBE_URL_CHARS = 900
"""Keeps the List-Unsubscribe line under the 998-octet limit without folding inside a URL."""
DKIM_HEADERS = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
)

_WORD_BYTES = 45  # 45 bytes -> 60 base64 chars -> a 72-char encoded word (limit 75)
_SPECIALS = set('()<>[]:;@\\,."')
_MESSAGE_ID = re.compile(r"<[!-;=?-~]{1,200}@[A-Za-z0-9.-]{1,200}>")
TransferEncoding = Literal["quoted-printable", "base64"]


class MessageError(ValueError):
    """A value cannot go into a mail message; the text says which and why."""


@lru_cache(maxsize=4096)
def check_address(address: str) -> str:
    """The normalised ASCII address, or MessageError (no DNS lookups)."""
    try:
        return validate_email(address, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as exc:
        raise MessageError(f"bad email address {address[:80]!r}: {exc}") from None


def make_message_id(domain: str) -> str:
    """A unique ``<...@domain>`` Message-ID."""
    return f"<{time.time_ns():x}.{secrets.token_hex(8)}@{domain}>"


def _encoded_words(text: str, first_room: int = 76) -> list[str]:
    """RFC 2047 ``=?utf-8?b?...?=`` words, never splitting a character.

    The first word fits in ``first_room`` columns (what the header name leaves on its line).
    """
    words, chunk, size = [], [], 0
    budget = max(3, (first_room - 12) // 4 * 3)
    for char in text:
        n = len(char.encode())
        if size + n > budget and chunk:
            words.append("".join(chunk))
            chunk, size, budget = [], 0, _WORD_BYTES
        chunk.append(char)
        size += n
    words.append("".join(chunk))
    return [f"=?utf-8?b?{base64.b64encode(w.encode()).decode()}?=" for w in words]


def _fold(name: str, tokens: list[str], sep: str = " ") -> str:
    """``Name: tokens`` folded before a token when a line would pass 78 characters."""
    lines, line = [], f"{name}:"
    for i, token in enumerate(tokens):
        piece = token + (sep.rstrip() if i < len(tokens) - 1 else "")
        if len(line) + 1 + len(piece) > 78 and line != f"{name}:":
            lines.append(line)
            line = " " + piece
        else:
            line += " " + piece
    lines.append(line)
    return "\r\n".join(lines)


def _needs_encoding(text: str) -> bool:
    return not text.isascii() or "=?" in text


def _unstructured(name: str, value: str, limit: int) -> str:
    text = clean_text(value, limit)
    room = 78 - len(name) - 2
    tokens = _encoded_words(text, room) if _needs_encoding(text) else text.split(" ")
    return _fold(name, tokens)


def _phrase(name: str, text: str) -> list[str]:
    """A display name as header tokens: atoms, a quoted string, or encoded words."""
    if _needs_encoding(text):
        return _encoded_words(text, 78 - len(name) - 2)
    if any(c in _SPECIALS for c in text):
        return ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return text.split(" ")


def _mailbox(name: str, display_name: str, address: str) -> str:
    text = clean_text(display_name, NAME_CHARS)
    tokens = [*_phrase(name, text), f"<{address}>"] if text else [address]
    return _fold(name, tokens)


def _list_id(list_id: str, list_name: str) -> str:
    label = list_id.strip().lower()
    if not label or len(label) > 200 or not all(c.isalnum() or c in ".-" for c in label):
        raise MessageError(f"bad List-Id {list_id[:80]!r}: use letters, digits, dots and dashes")
    if not label.isascii() or "." not in label:
        raise MessageError(f"bad List-Id {list_id[:80]!r}: expected e.g. daily.news.example.org")
    name = clean_text(list_name, NAME_CHARS)
    return _fold("List-Id", [*_phrase("List-Id", name), f"<{label}>"] if name else [f"<{label}>"])


def _is_loopback(url: str) -> bool:
    """A local install (base_url on 127.0.0.1 or localhost) may use plain http links."""
    return urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def _list_unsubscribe(url: str, mailto: str | None) -> str:
    https = safe_url(url)
    if https is None or not (https.lower().startswith("https://") or _is_loopback(https)):
        raise MessageError(
            f"List-Unsubscribe needs an https URL (plain http only on loopback), got {url[:80]!r}"
        )
    if len(https) > UNSUBSCRIBE_URL_CHARS:
        raise MessageError(f"unsubscribe URL longer than {UNSUBSCRIBE_URL_CHARS} characters")
    entries = [f"<{https}>"]
    if mailto:
        address, _, query = mailto.removeprefix("mailto:").partition("?")
        if len(query) > 200 or any(c in query for c in " <>\r\n\t\"'"):
            raise MessageError(f"bad unsubscribe mailto {mailto[:80]!r}")
        entries.append(f"<mailto:{check_address(address)}{'?' + query if query else ''}>")
    return _fold("List-Unsubscribe", entries, sep=",")


def _body(content: str, encoding: TransferEncoding) -> bytes:
    data = content.replace("\r\n", "\n").replace("\r", "\n").encode()
    if encoding == "base64":
        return base64.encodebytes(data.replace(b"\n", b"\r\n")).replace(b"\n", b"\r\n") or b"\r\n"
    # The CRLF before a boundary belongs to the boundary, so add one after the content.
    return binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n") + b"\r\n"


def build_message(
    *,
    sender: str,
    recipient: str,
    subject: str,
    text: str,
    html: str,
    list_id: str,
    unsubscribe_url: str,
    sender_name: str = "",
    list_name: str = "",
    unsubscribe_mailto: str | None = None,
    message_id: str | None = None,
    date: datetime | None = None,
    encoding: TransferEncoding = "quoted-printable",
) -> bytes:
    """A complete multipart/alternative message (text part first, then HTML) as CRLF bytes.

    Raises MessageError for an unusable address, List-Id or unsubscribe link.
    """
    sender_addr = check_address(sender)
    domain = sender_addr.rpartition("@")[2]
    boundary = f"=_aggr_{secrets.token_hex(12)}"
    mid = message_id or make_message_id(domain)
    if not _MESSAGE_ID.fullmatch(mid):
        raise MessageError(f"bad Message-ID {mid[:80]!r}: expected <unique@domain>")
    headers = [
        _mailbox("From", sender_name, sender_addr),
        _mailbox("To", "", check_address(recipient)),
        _unstructured("Subject", subject, SUBJECT_CHARS),
        f"Date: {format_datetime(date or datetime.now(UTC))}",
        f"Message-ID: {mid}",
        "MIME-Version: 1.0",
        _list_id(list_id, list_name),
        _list_unsubscribe(unsubscribe_url, unsubscribe_mailto),
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
    ]
    part_head = f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    return b"".join(
        (
            "\r\n".join(headers).encode(),
            f"\r\n\r\n--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n{part_head}".encode(),
            _body(text, encoding),
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n{part_head}".encode(),
            _body(html, encoding),
            f"--{boundary}--\r\n".encode(),
        )
    )


def sign_dkim(message: bytes, selector: str, domain: str, private_key_pem: bytes | str) -> bytes:
    """The message with a DKIM-Signature (rsa-sha256, relaxed/relaxed) prepended."""
    key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    try:
        signature = dkim.sign(
            message,
            selector.encode(),
            domain.encode(),
            key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=[h.lower().encode() for h in DKIM_HEADERS],
        )
    except (dkim.DKIMException, ValueError, UnicodeError) as exc:
        raise MessageError(
            f"DKIM signing failed for {selector}._domainkey.{domain}: {exc}"
        ) from None
    return signature + message
