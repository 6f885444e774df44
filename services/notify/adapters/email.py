"""The email channel's sender: SMTP (aiosmtplib). A refused mailbox or a 5xx answer is
permanent; connection problems and 4xx answers are retried."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from services.notify.domain.notifications import Notification
from services.notify.domain.retries import Outcome


class EmailSender:
    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._timeout = timeout_s

    async def send(self, notification: Notification) -> Outcome:
        notification_id = notification.id
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = notification.recipient
        message["Subject"] = notification.subject
        message["Date"] = formatdate(usegmt=True)
        # The same id on every retry: mail systems and people can spot a duplicate.
        message["Message-ID"] = f"<{notification_id}@ticketflow>"
        message["X-Ticketflow-Notification"] = str(notification_id)
        message.set_content(notification.body.decode())
        try:
            await aiosmtplib.send(
                message,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._start_tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return Outcome(False, f"recipient refused: {exc}", permanent=True)
        except aiosmtplib.SMTPResponseException as exc:
            return Outcome(False, f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            return Outcome(False, f"{type(exc).__name__}: {exc}")
        return Outcome(True)
