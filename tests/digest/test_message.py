"""The lean mail builder, checked by parsing its bytes back with the standard library."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

import dkim
import pytest

from aggregator.digest.render import prepare
from aggregator.mail.message import MessageError, MessageTemplate, build_message, sign_dkim
from tests.digest import sample_view
from tests.support.dkimkeys import make_dkim_key

EXPECTED_HEADERS = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "Content-Type",
]


@pytest.fixture(scope="module")
def parts() -> tuple[str, str, str]:
    rendered = prepare(sample_view())
    html, text = rendered.personalise(
        unsubscribe_url="https://news.example.org/u/abc",
        preferences_url="https://news.example.org/p/abc",
        recipient="reader@example.com",
    )
    return rendered.subject, text, html


def _build(parts: tuple[str, str, str], **changes: object) -> bytes:
    subject, text, html = parts
    options: dict = {
        "sender": "digest@news.example.org",
        "sender_name": "Morning Wire",
        "recipient": "reader@example.com",
        "subject": subject,
        "text": text,
        "html": html,
        "list_id": "daily.news.example.org",
        "list_name": "Morning Wire daily digest",
        "unsubscribe_url": "https://news.example.org/u/abc?t=1&s=2",
        "unsubscribe_mailto": "mailto:unsubscribe@news.example.org?subject=unsubscribe",
    }
    return build_message(**(options | changes))


def _parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.mark.parametrize("encoding", ["quoted-printable", "base64"])
def test_headers_and_parts_parse_back(parts, encoding):
    subject, text, html = parts
    raw = _build(parts, encoding=encoding, date=datetime(2025, 6, 10, 6, 0, tzinfo=UTC))
    msg = _parse(raw)
    assert list(msg.keys()) == EXPECTED_HEADERS
    assert msg["From"].addresses[0].display_name == "Morning Wire"
    assert msg["From"].addresses[0].addr_spec == "digest@news.example.org"
    assert msg["To"].addresses[0].addr_spec == "reader@example.com"
    assert msg["Subject"] == subject
    assert msg["Date"].datetime == datetime(2025, 6, 10, 6, 0, tzinfo=UTC)
    assert msg["Message-ID"].endswith("@news.example.org>")
    assert msg["MIME-Version"] == "1.0"
    assert msg["List-Id"] == "Morning Wire daily digest <daily.news.example.org>"
    assert msg["List-Unsubscribe"] == (
        "<https://news.example.org/u/abc?t=1&s=2>, "
        "<mailto:unsubscribe@news.example.org?subject=unsubscribe>"
    )
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg.get_content_type() == "multipart/alternative"
    body_parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in body_parts] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == encoding for p in body_parts)
    assert all(p.get_content_charset() == "utf-8" for p in body_parts)
    assert body_parts[0].get_content().replace("\r\n", "\n") == text
    assert body_parts[1].get_content().replace("\r\n", "\n") == html
    assert not msg.defects and not any(p.defects for p in body_parts)


def test_wire_format_is_seven_bit_crlf_with_short_lines(parts):
    long_word = "https://example.com/" + "x" * 5000
    subject = "Ünïcödé — " + "ζ" * 200
    raw = _build(parts, subject=subject, text=long_word + "\n", html=f"<p>{long_word}</p>")
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 78
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    assert "=?utf-8?b?" in head
    msg = _parse(raw)
    assert msg["Subject"].startswith("Ünïcödé — ζζζ")
    assert msg.get_body(("plain",)).get_content().strip() == long_word


def test_message_ids_are_unique_or_as_given(parts):
    ids = {_parse(_build(parts))["Message-ID"] for _ in range(50)}
    assert len(ids) == 50
    given = "<digest-2025-06-10.42@news.example.org>"
    assert _parse(_build(parts, message_id=given))["Message-ID"] == given


HOSTILE = [
    "Hello\r\nBcc: victim@example.com",
    "Hello\nBcc: victim@example.com",
    "Hello\rBcc: victim@example.com",
    "Hello\u2028Bcc: victim@example.com\u0085X-Evil: 1",
    "=?utf-8?q?Hello=0D=0ABcc=3A_victim=40example.com?=",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_header_injection_is_impossible(parts, value):
    raw = _build(parts, subject=value, sender_name=value, list_name=value)
    msg = _parse(raw)
    assert list(msg.keys()) == EXPECTED_HEADERS
    assert msg["Subject"] == " ".join(value.split())  # line breaks became spaces
    assert [a.addr_spec for a in msg["From"].addresses] == ["digest@news.example.org"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"recipient": "reader@example.com\r\nBcc: x@example.com"}, "bad email address"),
        ({"recipient": "not-an-address"}, "bad email address"),
        ({"sender": "digest@"}, "bad email address"),
        ({"unsubscribe_url": "http://news.example.org/u"}, "needs an https URL"),
        ({"unsubscribe_url": "https://news.example.org/u\r\nBcc: x"}, "needs an https URL"),
        ({"unsubscribe_mailto": "mailto:x@example.com?subject=a>b"}, "bad unsubscribe mailto"),
        ({"list_id": "daily digest"}, "bad List-Id"),
        ({"list_id": "daily"}, "bad List-Id"),
        ({"message_id": "<id@example.org>\r\nBcc: x@example.com"}, "bad Message-ID"),
        ({"message_id": "no-brackets@example.org"}, "bad Message-ID"),
    ],
)
def test_unusable_values_raise_a_clear_error(parts, change, message):
    with pytest.raises(MessageError, match=message):
        _build(parts, **change)


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    key = make_dkim_key()
    return key.private_pem, key.record


def test_dkim_signature_verifies_and_covers_the_list_headers(parts, dkim_key):
    private, record = dkim_key

    def dns(name: bytes, timeout: int = 5) -> bytes:
        return record if name == b"mail2025._domainkey.news.example.org." else b""

    signed = sign_dkim(_build(parts), "mail2025", "news.example.org", private)
    assert dkim.verify(signed, dnsfunc=dns)
    signature = _parse(signed)["DKIM-Signature"].replace(" ", "")
    signed_headers = signature.split("h=")[1].split(";")[0].lower().split(":")
    for name in ("from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe"):
        assert name in signed_headers
    assert "list-unsubscribe-post" in signed_headers
    tampered = signed.replace(b"Subject: Daily digest", b"Subject: Weekly digest")
    assert tampered != signed
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_dkim_with_a_bad_key_raises_a_clear_error(parts):
    with pytest.raises(MessageError, match="DKIM signing failed for s._domainkey.example.org"):
        sign_dkim(_build(parts), "s", "example.org", b"not a key")


def test_template_splicing_decodes_to_the_personalised_digest() -> None:
    """A per-edition template with spliced values gives exactly what personalise() renders."""
    from aggregator.digest.render import personal_values, prepare
    from aggregator.mail.message import MessageTemplate
    from tests.digest import sample_view

    rendered = prepare(sample_view())
    links = {
        "unsubscribe_url": "https://news.example.org/unsubscribe/abc=def?x=1&y=<2>",
        "preferences_url": "https://news.example.org/preferences/" + "p" * 150,
        "recipient": "ünïcode.reader@example.com",
    }
    html_expected, text_expected = rendered.personalise(**links)
    html_values, text_values = personal_values(**links)
    template = MessageTemplate(
        sender="digest@news.example.org",
        subject=rendered.subject,
        text=rendered.pieces("text"),
        html=rendered.pieces("html"),
        list_id="daily.news.example.org",
    )
    raw = template.build(
        recipient="reader@example.com",
        unsubscribe_url=links["unsubscribe_url"],
        text_values=text_values,
        html_values=html_values,
    )
    msg = email.message_from_bytes(raw, policy=email.policy.default)

    def decoded(kind: str) -> str:
        return msg.get_body((kind,)).get_content().replace("\r\n", "\n").rstrip("\n")

    assert decoded("html") == html_expected.rstrip("\n")
    assert decoded("plain") == text_expected.rstrip("\n")
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))


@pytest.mark.parametrize("shift", range(0, 80, 7))
def test_no_body_line_starts_with_a_dot(parts, shift):
    """SMTP would have to dot-stuff such lines: a leading dot is encoded, lines stay short."""
    text = ".starts with a dot\n" + "\n".join(
        "x" * shift + (".a" * 60) + f" =.{i}.=" + "." * 90 for i in range(20)
    )
    html = f"<p>{text}</p>\n.\n..\n"
    raw = _build(parts, text=text, html=html)
    lines = raw.split(b"\r\n")
    assert not any(line.startswith(b".") for line in lines)
    assert max(len(line) for line in lines) <= 78
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76
    msg = _parse(raw)
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert msg.get_body(("html",)).get_content().replace("\r\n", "\n") == html


def test_an_international_address_goes_out_in_its_ascii_form() -> None:
    """Without SMTPUTF8 the To: header must be ASCII: the domain in its xn-- (IDNA) form."""
    template = MessageTemplate(
        sender="digest@news.example.org",
        subject="Daily",
        text=["Hello"],
        html=["<p>Hello</p>"],
        list_id="daily.news.example.org",
    )
    raw = template.build(
        recipient="y@bücher.example",
        unsubscribe_url="https://news.example.org/unsubscribe/x",
        text_values={},
        html_values={},
    )
    headers = raw.split(b"\r\n\r\n", 1)[0]
    headers.decode("ascii")  # every header line is ASCII
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "y@xn--bcher-kva.example"
