"""`aggregator run --role worker` starts the inbound listener: a real process, a real SMTP client,
the item seen through `items list`; SIGTERM stops it cleanly."""

from __future__ import annotations

import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from email import policy
from email.parser import BytesParser
from pathlib import Path

import pytest

from tests.cli import ENV, ok, run_cli
from tests.inbound.test_newsletters import DOMAIN, free_port, newsletter_mail

pytestmark = pytest.mark.slow


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "aggregator run exited before listening"
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} after {seconds} s")


def test_run_starts_the_listener_and_a_mail_becomes_an_item(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mail.inbound]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\ndomain = "{DOMAIN}"\n'
    )
    added = ok(run_cli(config, "sources", "add", "--newsletter", "The Weekly"))
    match = re.search(r"<([a-z0-9]{20}@" + re.escape(DOMAIN) + r")>", added)
    assert match, added
    address = match.group(1)
    log = tmp_path / "run.log"
    command = [sys.executable, "-m", "aggregator", "--config", str(config)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "run", "--role", "worker"], cwd=tmp_path, env=ENV, stderr=out
        )
        try:
            wait_for_port(port, proc)
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                assert client.sendmail("news@news.example", [address], newsletter_mail()) == {}
                with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
                    client.sendmail(
                        "news@news.example", [f"nobody@{DOMAIN}"], b"Subject: x\r\n\r\nx"
                    )
                assert refused.value.recipients[f"nobody@{DOMAIN}"][0] == 550
            deadline = time.monotonic() + 30
            listed = ""
            while time.monotonic() < deadline:
                listed = ok(run_cli(config, "items", "list"))
                if "Issue 12: the week in alignment" in listed:
                    break
                time.sleep(0.5)
            assert "Issue 12: the week in alignment" in listed, listed
            shown = ok(run_cli(config, "sources", "show", "The Weekly"))
            [row] = [line for line in shown.splitlines() if "Issue 12" in line]
            assert "none" in row.split("Issue 12", 1)[1]  # dkim and spf: no signature, no relay
            assert "spf" in shown
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
    said = log.read_text(errors="replace")
    assert code == 0, said
    assert f"inbound SMTP listening on 127.0.0.1:{port}" in said
    with socket.socket() as probe:  # the listener went with the process
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_a_newsletter_is_in_the_next_digest_sanitized_and_once(tmp_path: Path) -> None:
    """Mail in through the running listener, out in a digest: the newsletter is one story of the
    next digest, its script gone; a second copy of the mail adds nothing, and the digest after
    that does not repeat it."""
    body = (
        "<p>The alignment reading group met on Thursday and chose interpretability as its theme "
        "for the winter term.</p><p>Twelve members voted for the change, and the first session "
        "is planned for January.</p><script>alert(1)</script>"
    )
    port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        f'[mail.inbound]\nenabled = true\nhost = "127.0.0.1"\nport = {port}\ndomain = "{DOMAIN}"\n'
        '[[digests]]\nname = "daily"\n'
    )
    added = ok(run_cli(config, "sources", "add", "--newsletter", "The Weekly"))
    match = re.search(r"<([a-z0-9]{20}@" + re.escape(DOMAIN) + r")>", added)
    assert match, added
    ok(run_cli(config, "subscribers", "add", "reader@example.org"))
    command = [sys.executable, "-m", "aggregator", "--config", str(config)]
    with (tmp_path / "run.log").open("wb") as out:
        proc = subprocess.Popen(
            [*command, "run", "--role", "worker"], cwd=tmp_path, env=ENV, stderr=out
        )
        try:
            wait_for_port(port, proc)
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                for _ in range(2):  # the same message twice
                    assert (
                        client.sendmail(
                            "news@news.example", [match.group(1)], newsletter_mail(html=body)
                        )
                        == {}
                    )
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0
    ok(run_cli(config, "digest", "send", "--now"))
    [mail] = list((tmp_path / "outbox" / "new").iterdir())
    message = BytesParser(policy=policy.default).parse(mail.open("rb"))
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert text.get_content().count("Issue 12: the week in alignment") == 1
    assert "interpretability" in html.get_content()
    assert "<script" not in html.get_content() and "alert(1)" not in html.get_content()
    ok(run_cli(config, "digest", "send"))  # the next digest: nothing new, nothing repeated
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 1
