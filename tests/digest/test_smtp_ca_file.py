"""``mail.smtp.ca_file``: trust a private CA for the SMTP server only, against aiosmtpd with TLS."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from aggregator.config import ConfigError, Settings, from_mapping
from aggregator.mail.transport import SMTPTransport, TransportUnavailable, transport_for
from tests.support.smtpserver import SMTPTestServer

MESSAGE = b"From: digest@example.org\r\nTo: reader@example.com\r\nSubject: hi\r\n\r\nHello.\r\n"


def _settings(tmp_path: Path, server: SMTPTestServer, **smtp: object) -> Settings:
    section = {"host": server.host, "port": server.port, "security": server.security, **smtp}
    return from_mapping(
        {"mail": {"transport": "smtp", "smtp": section}}, root=tmp_path, origin="config.toml"
    )


def _send(settings: Settings) -> int:
    with transport_for(settings) as transport:
        return transport.send("digest@example.org", "reader@example.com", MESSAGE).code


@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_private_ca_is_trusted_for_this_server_only(
    smtp_server: Callable[..., SMTPTestServer], tmp_path: Path, security: str
) -> None:
    server = smtp_server(security=security)
    (tmp_path / "certs").mkdir()
    server.ca.cert_pem.write_to_path(str(tmp_path / "certs" / "ca.pem"))

    with pytest.raises(TransportUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        _send(_settings(tmp_path, server))
    assert _send(_settings(tmp_path, server, ca_file="certs/ca.pem")) == 250
    assert len(server.messages) == 1
    # the trust stayed with that connection: a transport without ca_file still refuses
    with pytest.raises(TransportUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        SMTPTransport(server.host, server.port, security=security).send(
            "digest@example.org", "reader@example.com", MESSAGE
        )
    assert len(server.messages) == 1


def test_a_foreign_ca_is_refused_without_falling_back_to_clear_text(
    smtp_server: Callable[..., SMTPTestServer], tmp_path: Path
) -> None:
    server = smtp_server(security="starttls")
    trustme.CA().cert_pem.write_to_path(str(tmp_path / "other.pem"))
    with pytest.raises(TransportUnavailable, match="CERTIFICATE_VERIFY_FAILED") as caught:
        _send(_settings(tmp_path, server, ca_file="other.pem"))
    assert caught.value.stage == "starttls"
    assert server.messages == []


def test_unusable_ca_file_is_a_config_error_naming_the_key(
    smtp_server: Callable[..., SMTPTestServer], tmp_path: Path
) -> None:
    server = smtp_server(security="starttls")
    with pytest.raises(ConfigError) as missing:
        _settings(tmp_path, server, ca_file="missing.pem")
    assert missing.value.problems == [
        f"config.toml: mail.smtp.ca_file: cannot use {tmp_path / 'missing.pem'} as CA "
        "certificates: [Errno 2] No such file or directory"
    ]
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"^config\.toml: mail\.smtp\.ca_file: cannot use .*junk"):
        _settings(tmp_path, server, ca_file="junk.pem")
