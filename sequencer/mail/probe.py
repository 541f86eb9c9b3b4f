"""`sequencer check --connect`: log in to each server and say what works.

It goes through the same adapters the engine and the poller use (``SmtpPool`` and
``ImapConnection``), so a green check means sending and polling will connect the
same way. Messages name the host, port and what failed, never the secret.
Each probe returns a result instead of raising, so one broken mailbox does not
hide the state of the others.
"""

from __future__ import annotations

from dataclasses import dataclass

from sequencer.config import MailboxConfig
from sequencer.errors import MailboxAuthError, SequencerError


@dataclass(frozen=True)
class ProbeResult:
    mailbox: str
    protocol: str
    ok: bool
    detail: str


def probe_smtp(mailbox: MailboxConfig) -> ProbeResult:
    from sequencer.mail.smtp import check_smtp

    try:
        return ProbeResult(mailbox.name, "smtp", True, check_smtp(mailbox))
    except MailboxAuthError as exc:
        return ProbeResult(mailbox.name, "smtp", False, f"login refused: {exc}")
    except SequencerError as exc:
        return ProbeResult(mailbox.name, "smtp", False, str(exc))


def probe_imap(mailbox: MailboxConfig) -> ProbeResult:
    from sequencer.mail.imap import ImapConnection

    if mailbox.imap is None:
        return ProbeResult(mailbox.name, "imap", False, "no imap section: replies cannot be detected")
    try:
        # No retries: a check reports what it finds now instead of waiting out a backoff.
        with ImapConnection(mailbox, retries=0) as connection:
            sent = connection.sent_folder()
            idle = "IDLE" if b"IDLE" in connection.capabilities() else "no IDLE (polls only)"
            detail = f"{connection.where}: logged in; Sent folder: {sent or 'not found'}; {idle}"
            return ProbeResult(mailbox.name, "imap", True, detail)
    except MailboxAuthError as exc:
        return ProbeResult(mailbox.name, "imap", False, f"login refused: {exc}")
    except SequencerError as exc:
        return ProbeResult(mailbox.name, "imap", False, str(exc))
