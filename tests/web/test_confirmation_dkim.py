"""The sign-up confirmation mail is DKIM-signed like a digest, checked as aiosmtpd received it."""

from __future__ import annotations

import time
from pathlib import Path

import dkim

from aggregator.mail.transport import SMTPTransport
from tests.digest.test_dkim_edges import add_header, signed_header_names
from tests.support.dkimkeys import make_dkim_key
from tests.support.smtpserver import SMTPTestServer
from tests.web.conftest import SiteFactory
from tests.web.test_pages import subscribe


def test_confirmation_mail_is_signed_and_oversigned(
    make_site: SiteFactory, smtp: SMTPTestServer, tmp_path: Path
) -> None:
    key = make_dkim_key()
    (tmp_path / "dkim.pem").write_bytes(key.private_pem)
    dkim_section = {
        "enabled": True,
        "selector": "s1",
        "domain": "example.org",
        "private_key_file": str(tmp_path / "dkim.pem"),
    }
    transport = SMTPTransport(smtp.host, smtp.port, security="none")
    site = make_site(transport=transport, mail={"dkim": dkim_section})
    assert subscribe(site.client(), "reader@example.net") == 200
    deadline = time.monotonic() + 5
    while not smtp.messages and time.monotonic() < deadline:
        time.sleep(0.02)
    (received,) = smtp.messages
    data = received.data  # the bytes as they came over SMTP
    assert b"Subject: Confirm your subscription" in data

    dns = key.dns("s1", "example.org")
    assert dkim.verify(data, dnsfunc=dns)
    listed = signed_header_names(data)
    assert listed["subject"] == listed["from"] == listed["to"] == 2
    assert listed["list-unsubscribe"] == 1  # none in this mail, so none may be added
    assert not dkim.verify(add_header(data, "Subject: Urgent", at_top=True), dnsfunc=dns)
    unsubscribe = "List-Unsubscribe: <https://evil.example/u>"
    assert not dkim.verify(add_header(data, unsubscribe, at_top=False), dnsfunc=dns)
