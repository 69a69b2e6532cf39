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
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import format_datetime
from functools import lru_cache, partial
from typing import Literal

import dkim
from email_validator import EmailNotValidError, validate_email

from aggregator.config import Settings, is_loopback_url, list_id_label
from aggregator.mail.text import checked_url, clipped_line

SUBJECT_CHARS = 250
NAME_CHARS = 120
UNSUBSCRIBE_URL_CHARS = 900
"""Keeps the List-Unsubscribe line under the 998-octet limit without folding inside a URL."""
DKIM_OVERSIGNED = (
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
)
"""Named in ``h=`` once more than they occur, so a copy added in transit (or a List-Unsubscribe
added to a mail that had none) breaks the signature (RFC 6376 §8.15)."""
DKIM_SIGNED = ("MIME-Version", "Content-Type", "Auto-Submitted")
"""Signed as often as they occur."""

_QP_LINE = 76
"""Longest quoted-printable line (RFC 2045 6.7), soft break included."""
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
        valid = validate_email(address, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise MessageError(f"bad email address {address[:80]!r}: {exc}") from None
    return valid.ascii_email or valid.normalized  # an international domain in its xn-- form


def make_message_id(domain: str) -> str:
    """A unique ``<...@domain>`` Message-ID."""
    return f"<{time.time_ns():x}.{secrets.token_hex(8)}@{domain}>"


def _encoded_words(text: str, first_room: int = 76) -> list[str]:
    """RFC 2047 ``=?utf-8?b?...?=`` words, never splitting a character.

    The first word fits in ``first_room`` columns (what the header name leaves on its line).
    """
    words: list[str] = []
    chunk: list[str] = []
    size = 0
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
    text = clipped_line(value, limit)
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
    text = clipped_line(display_name, NAME_CHARS)
    tokens = [*_phrase(name, text), f"<{address}>"] if text else [address]
    return _fold(name, tokens)


def _list_id(list_id: str, list_name: str) -> str:
    try:
        label = list_id_label(list_id)
    except ValueError as exc:
        raise MessageError(str(exc)) from None
    name = clipped_line(list_name, NAME_CHARS)
    return _fold("List-Id", [*_phrase("List-Id", name), f"<{label}>"] if name else [f"<{label}>"])


def _list_unsubscribe(url: str, mailto: str | None) -> str:
    https = checked_url(url)
    if https is None or not (https.lower().startswith("https://") or is_loopback_url(https)):
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


def _base64_body(content: str) -> bytes:
    data = content.replace("\r\n", "\n").replace("\r", "\n").encode()
    return base64.encodebytes(data.replace(b"\n", b"\r\n")).replace(b"\n", b"\r\n") or b"\r\n"


def _qp_piece(content: str) -> bytes:
    """Quoted-printable for one piece of a body, ending at a line start so pieces can be joined.

    A piece that does not end with a newline gets a soft line break (``=``), which decoders drop.
    No line starts with a dot, so SMTP never has to dot-stuff the message.
    """
    data = content.replace("\r\n", "\n").replace("\r", "\n").encode()
    encoded = binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n")
    if encoded.startswith(b".") or b"\n." in encoded:
        encoded = b"\r\n".join(_escape_leading_dot(line) for line in encoded.split(b"\r\n"))
    return encoded if not encoded or encoded.endswith(b"\r\n") else encoded + b"=\r\n"


def _escape_leading_dot(line: bytes) -> bytes:
    """An encoded line with a leading ``.`` written ``=2E``, re-wrapped to stay within 76 columns.

    SMTP doubles a line-leading dot on the wire (RFC 5321 4.5.2); encoding it keeps every
    message free of such lines, so sending needs no per-message scan-and-copy.
    """
    if not line.startswith(b"."):
        return line
    line = b"=2E" + line[1:]
    if len(line) <= _QP_LINE:
        return line
    cut = _QP_LINE - 1  # room for the soft break "="
    while b"=" in line[cut - 2 : cut]:  # never split an "=XX" escape
        cut -= 1
    return line[:cut] + b"=\r\n" + _escape_leading_dot(line[cut:])


class BodyTemplate:
    """A body part encoded once; per recipient only the short personal values are encoded.

    ``pieces`` alternates fixed text (even positions) and slot names (odd positions), as
    :meth:`aggregator.digest.render.RenderedDigest.pieces` returns them.
    """

    def __init__(self, pieces: list[str], encoding: TransferEncoding = "quoted-printable"):
        self._slots = pieces[1::2]
        if encoding == "base64":
            if self._slots:
                raise ValueError("personal values can only be spliced into quoted-printable")
            self._whole: bytes | None = _base64_body(pieces[0])
            return
        self._whole = None
        self._fixed = [_qp_piece(p) for p in pieces[0::2]]

    def fill(self, values: Mapping[str, str]) -> bytes:
        if self._whole is not None:
            return self._whole
        out = [self._fixed[0]]
        for slot, fixed in zip(self._slots, self._fixed[1:], strict=True):
            out += (_qp_piece(values[slot]), fixed)
        return b"".join(out) + b"\r\n"


class MessageTemplate:
    """Everything of a digest mail that is the same for every recipient, built once per edition.

    :meth:`build` adds To, Date, Message-ID and List-Unsubscribe and splices the personal values
    into the pre-encoded bodies: a fraction of a millisecond per recipient.
    """

    def __init__(
        self,
        *,
        sender: str,
        subject: str,
        text: list[str],
        html: list[str],
        list_id: str,
        sender_name: str = "",
        list_name: str = "",
        unsubscribe_mailto: str | None = None,
        encoding: TransferEncoding = "quoted-printable",
    ):
        self.sender = check_address(sender)
        self.domain = self.sender.rpartition("@")[2]
        self.mailto = unsubscribe_mailto
        self._from = _mailbox("From", sender_name, self.sender)
        self._subject = _unstructured("Subject", subject, SUBJECT_CHARS)
        self._list_id = _list_id(list_id, list_name)
        boundary = f"=_aggr_{secrets.token_hex(12)}"
        part_head = f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
        self._tail = (
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n{part_head}"
        ).encode()
        self._between = (
            f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n{part_head}".encode()
        )
        self._end = f"--{boundary}--\r\n".encode()
        self._text = BodyTemplate(text, encoding)
        self._html = BodyTemplate(html, encoding)

    def build(
        self,
        *,
        recipient: str,
        unsubscribe_url: str,
        text_values: Mapping[str, str] | None = None,
        html_values: Mapping[str, str] | None = None,
        message_id: str | None = None,
        date: datetime | None = None,
    ) -> bytes:
        """One recipient's complete message as CRLF bytes; MessageError for unusable values."""
        mid = message_id or make_message_id(self.domain)
        if not _MESSAGE_ID.fullmatch(mid):
            raise MessageError(f"bad Message-ID {mid[:80]!r}: expected <unique@domain>")
        headers = "\r\n".join(
            (
                self._from,
                _mailbox("To", "", check_address(recipient)),
                self._subject,
                f"Date: {format_datetime(date or datetime.now(UTC))}",
                f"Message-ID: {mid}",
                "MIME-Version: 1.0",
                self._list_id,
                _list_unsubscribe(unsubscribe_url, self.mailto),
                "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
                "",
            )
        )
        return b"".join(
            (
                headers.encode(),
                self._tail,
                self._text.fill(text_values or {}),
                self._between,
                self._html.fill(html_values or {}),
                self._end,
            )
        )


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
    template = MessageTemplate(
        sender=sender,
        subject=subject,
        text=[text],
        html=[html],
        list_id=list_id,
        sender_name=sender_name,
        list_name=list_name,
        unsubscribe_mailto=unsubscribe_mailto,
        encoding=encoding,
    )
    return template.build(
        recipient=recipient, unsubscribe_url=unsubscribe_url, message_id=message_id, date=date
    )


def _dkim_header_names(message: bytes) -> list[bytes]:
    """The ``h=`` list for ``message``: each oversigned name once more than it occurs."""
    head = message.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    present = Counter(
        line.split(b":", 1)[0].strip().lower()
        for line in head.split(b"\n")
        if line and line[:1] not in b" \t"
    )
    names: list[bytes] = []
    for name in DKIM_OVERSIGNED:
        key = name.lower().encode()
        names += [key] * (present[key] + 1)
    for name in DKIM_SIGNED:
        key = name.lower().encode()
        names += [key] * present[key]
    return names


def sign_dkim(message: bytes, selector: str, domain: str, private_key_pem: bytes | str) -> bytes:
    """The message with a DKIM-Signature (rsa-sha256, relaxed/relaxed, oversigned) prepended."""
    key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
    try:
        signature = dkim.sign(
            message,
            selector.encode(),
            domain.encode(),
            key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=_dkim_header_names(message),
        )
    except (dkim.DKIMException, ValueError, UnicodeError) as exc:
        raise MessageError(
            f"DKIM signing failed for {selector}._domainkey.{domain}: {exc}"
        ) from None
    return signature + message


Signer = Callable[[bytes], bytes]


def dkim_signer(settings: Settings) -> Signer | None:
    """``[mail.dkim]`` as one function every sender applies to its mail; None when disabled.

    The key file is read now, so a missing one fails at start and not at the first mail.
    """
    conf = settings.mail.dkim
    if not conf.enabled:
        return None
    path = settings.path(conf.private_key_file)
    try:
        key = path.read_bytes()
    except OSError as exc:
        raise MessageError(
            f"mail.dkim.private_key_file: cannot read {path}: {exc.strerror or exc}"
        ) from None
    return partial(sign_dkim, selector=conf.selector, domain=conf.domain, private_key_pem=key)
