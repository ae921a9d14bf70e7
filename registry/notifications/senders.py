"""Who carries a message: the application log (default), an SMS gateway over HTTP, or SMTP for e-mail.

Chosen by configuration (``NOTIFY_SENDER``: ``log``, ``http``, ``smtp``, or several separated by
commas, each message going to the first that carries its channel).
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

from registry.notifications.models import Channel

log = logging.getLogger("mosd.outbox")


class SendFailed(Exception):
    """The sender could not hand the message over; the outbox tries again later."""


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of a message (never the database row: senders run outside its transaction)."""

    id: int
    channel: str
    recipient: str
    body: str
    lang: str
    template: str


class Sender(Protocol):
    channels: frozenset[str]

    def send(self, message: Outgoing) -> None:
        """Hand the message over, or raise (SendFailed, OSError, ...)."""


@dataclass(frozen=True)
class NotifySettings:
    """The outbox's configuration, read from the application's config by ``from_config``."""

    sender: str = "log"
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "no-reply@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    email_subject: str = "Ministry of Social Development"
    timeout: float = 10.0
    #: Attempts before a message is given up on (state ``failed``), and the first wait between them.
    max_attempts: int = 6
    backoff_seconds: int = 60

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotifySettings:
        def get(key: str, default: Any) -> Any:
            value = config.get(key)
            return default if value in (None, "") else value

        return cls(sender=str(get("NOTIFY_SENDER", "log")), sms_gateway_url=get("SMS_GATEWAY_URL", None),
                   sms_gateway_token=get("SMS_GATEWAY_TOKEN", None), smtp_host=get("SMTP_HOST", None),
                   smtp_port=int(get("SMTP_PORT", 25)), smtp_from=str(get("SMTP_FROM", cls.smtp_from)),
                   smtp_user=get("SMTP_USER", None), smtp_password=get("SMTP_PASSWORD", None),
                   smtp_starttls=bool(get("SMTP_STARTTLS", False)),
                   email_subject=str(get("NOTIFY_EMAIL_SUBJECT", cls.email_subject)),
                   timeout=float(get("NOTIFY_TIMEOUT", 10.0)), max_attempts=int(get("NOTIFY_MAX_ATTEMPTS", 6)),
                   backoff_seconds=int(get("NOTIFY_BACKOFF_SECONDS", 60)))


class LogSender:
    """Writes each message to the application log: the default, for development and demonstrations."""

    channels = frozenset({Channel.SMS.value, Channel.EMAIL.value})

    def send(self, message: Outgoing) -> None:
        log.info("outbox message %s (%s) by %s to %s: %s", message.id, message.template, message.channel,
                 message.recipient, message.body)


class HttpSender:
    """POSTs ``{"to", "text", "lang", "id"}`` as JSON to an SMS gateway; any answer but 2xx is a failure."""

    channels = frozenset({Channel.SMS.value})

    def __init__(self, url: str, *, timeout: float, token: str | None = None) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"SMS_GATEWAY_URL must be an http(s) address, not {url!r}")
        self.url, self.timeout, self.token = url, timeout, token

    def send(self, message: Outgoing) -> None:
        body = json.dumps({"to": message.recipient, "text": message.body, "lang": message.lang,
                           "id": message.id}).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8",
                   # The gateway may see a retry of a message it already took: the key lets it say so.
                   "Idempotency-Key": f"outbox-{message.id}"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - checked above
                response.read(1024)
        except urllib.error.HTTPError as err:
            raise SendFailed(f"the SMS gateway answered {err.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            reason = getattr(err, "reason", err)
            raise SendFailed(f"the SMS gateway did not answer: {reason}") from None


class SmtpSender:
    """Sends e-mail through an SMTP server with the standard library."""

    channels = frozenset({Channel.EMAIL.value})

    def __init__(self, settings: NotifySettings) -> None:
        if not settings.smtp_host:
            raise ValueError("NOTIFY_SENDER=smtp needs SMTP_HOST")
        self.settings = settings

    def send(self, message: Outgoing) -> None:
        s = self.settings
        email = EmailMessage()
        email["From"], email["To"], email["Subject"] = s.smtp_from, message.recipient, s.email_subject
        email.set_content(message.body)
        assert s.smtp_host is not None
        try:
            with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout) as server:
                if s.smtp_starttls:
                    server.starttls()
                if s.smtp_user:
                    server.login(s.smtp_user, s.smtp_password or "")
                server.send_message(email)
        except (smtplib.SMTPException, OSError) as err:
            raise SendFailed(f"the mail server refused or did not answer: {err}") from None


class ChannelSender:
    """Each message to the first of ``senders`` that carries its channel."""

    def __init__(self, senders: list[Sender]) -> None:
        self.senders = senders
        self.channels = frozenset(c for s in senders for c in s.channels)

    def send(self, message: Outgoing) -> None:
        for sender in self.senders:
            if message.channel in sender.channels:
                sender.send(message)
                return
        raise SendFailed(f"no configured sender carries {message.channel} messages")


def sender_from_settings(settings: NotifySettings) -> Sender:
    """The sender(s) the settings name; an unknown name is a configuration error, raised at once."""
    senders: list[Sender] = []
    for name in (n.strip() for n in settings.sender.split(",") if n.strip()):
        if name == "log":
            senders.append(LogSender())
        elif name == "http":
            if not settings.sms_gateway_url:
                raise ValueError("NOTIFY_SENDER=http needs SMS_GATEWAY_URL")
            senders.append(HttpSender(settings.sms_gateway_url, timeout=settings.timeout,
                                      token=settings.sms_gateway_token))
        elif name == "smtp":
            senders.append(SmtpSender(settings))
        else:
            raise ValueError(f"NOTIFY_SENDER: unknown sender {name!r} (log, http, smtp)")
    return ChannelSender(senders or [LogSender()])
