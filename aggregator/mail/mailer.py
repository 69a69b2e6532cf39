"""Mail sent by the web app: the double opt-in confirmation and "you are already subscribed".

These are one-off transactional mails, so they are built with the standard library's
``EmailMessage`` (which refuses CR/LF in header values) rather than the digest's bulk builder, and
carry no List-Unsubscribe: the recipient is not on a list until they confirm. With ``[mail.dkim]``
they are signed exactly as digests are (a domain that enforces DMARC would refuse them unsigned).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import Literal

from aggregator.config import Settings
from aggregator.mail.links import link_path
from aggregator.mail.message import dkim_signer
from aggregator.mail.transport import (
    DeliveryError,
    Transport,
)
from aggregator.templating import TemplateError, render

log = logging.getLogger("aggregator.web")

MailKind = Literal["confirm", "manage"]
"""``confirm``: the double opt-in link. ``manage``: "you are already subscribed" with links."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A subscriber's details after the change, as needed to mail them."""

    id: int
    email: str
    status: str
    digests: list[str]


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Letter:
    """The words of one mail; rendered into the text and HTML templates."""

    subject: str
    heading: str
    paragraphs: list[str]
    action: Link
    links: list[Link]
    footer: str


class Mailer:
    """Builds and sends the web app's mails through ``transport``."""

    def __init__(self, settings: Settings, secret: str, transport: Transport) -> None:
        self.settings = settings
        self.secret = secret
        self.transport = transport
        self.sign = dkim_signer(settings)

    def link(self, purpose: str, subscriber_id: int) -> str:
        return self.settings.general.base_url + link_path(self.secret, purpose, subscriber_id)

    def letter(self, kind: MailKind, recipient: Recipient) -> Letter:
        site = self.settings.general.name
        titles = [(d.title or d.name) for d in self.settings.digests if d.name in recipient.digests]
        which = " and ".join(titles) or "digest"
        if kind == "confirm":
            hours = self.settings.web.confirm_max_age_hours
            return Letter(
                subject=f"Confirm your subscription to {site}",
                heading="Please confirm your subscription",
                paragraphs=[
                    f"Someone, hopefully you, asked to receive the {which} from {site} "
                    "at this address.",
                    "To start receiving it, open the link below and press the button on the page.",
                ],
                action=Link("Confirm subscription", self.link("confirm", recipient.id)),
                links=[],
                footer=f"The link works for {hours:g} hours. If you did not ask for this, ignore "
                "this message: nothing will be sent to you.",
            )
        return Letter(
            subject=f"You are already subscribed to {site}",
            heading="You are already subscribed",
            paragraphs=[
                f"Someone, hopefully you, tried to subscribe this address to {site}, "
                "but it already receives our digests.",
                "Nothing has changed. You can change what you receive, pause or unsubscribe here:",
            ],
            action=Link("Manage your subscription", self.link("preferences", recipient.id)),
            links=[Link("Unsubscribe", self.link("unsubscribe", recipient.id))],
            footer="If you did not ask for this, you can ignore this message.",
        )

    def build(self, kind: MailKind, recipient: Recipient) -> bytes:
        letter = self.letter(kind, recipient)
        mail = self.settings.mail
        templates = self.settings.templates_dir
        context = {"letter": letter, "site_name": self.settings.general.name}
        message = EmailMessage(policy=SMTP)
        message["From"] = formataddr((mail.from_name, mail.from_address))
        message["To"] = recipient.email
        message["Subject"] = letter.subject
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=mail.from_address.rpartition("@")[2])
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(render("web/mail.txt.j2", context, templates))
        message.add_alternative(render("web/mail.html.j2", context, templates), subtype="html")
        data = message.as_bytes()
        return self.sign(data) if self.sign else data

    def send(self, kind: MailKind, recipient: Recipient) -> bool:
        """Send one mail; False (and a log line) when it could not be handed over."""
        try:
            data = self.build(kind, recipient)
            self.transport.send(self.settings.mail.from_address, recipient.email, data)
        except (DeliveryError, TemplateError, ValueError, OSError) as exc:
            log.warning("%s mail to subscriber %d not sent: %s", kind, recipient.id, exc)
            return False
        return True
