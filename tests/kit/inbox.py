"""Shared setup for the poller tests and benchmark: a project, a rep, touches sent for real."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
import yaml

from sequencer.clock import ManualClock
from sequencer.config import Config
from sequencer.core.sequence_files import load_sequences
from sequencer.core.sequences import Sequence
from sequencer.db.models import Enrollment, Message
from sequencer.db.session import Database
from sequencer.people.enroll import enroll
from sequencer.project import load_config
from tests.kit.world import detached_enrollment
from tests.servers import PASSWORD, MailEnv

SEQUENCE_YAML = """\
name: Quote follow-up
mailbox: owner
list_unsubscribe: false
policies:
  on_auto_reply: continue
  stop_on_reply_from_domain: {colleague}
steps:
  - name: Quote sent
    wait: 0
    template: quote/01
    subject: "Your quote for {{{{ company | default('you') }}}}"
  - name: Did it arrive?
    wait: 2 business days
    template: quote/02
  - name: Close the loop
    wait: 3 business days
    template: quote/03
"""


@dataclass
class Project:
    """A rep's mailbox on the test servers, a database, a clock and one sequence."""

    mail: MailEnv
    db: Database
    clock: ManualClock
    root: Path
    rep: str
    manager: str
    config: Config
    sequences: dict[str, Sequence]

    @property
    def mailbox(self) -> str:
        return "rep"

    def config_file(self) -> Path:
        return self.root / "sequencer.yaml"

    def enroll(self, email: str, **kw: Any) -> int:
        kw.setdefault("name", "Dana Whitfield")
        kw.setdefault("company", "Acme")
        kw.setdefault("value", "18400")
        result = enroll(
            self.db,
            self.config,
            self.sequences,
            email=email,
            sequence_id="quote-follow-up",
            owner="rep",
            now=self.clock.now(),
            **kw,
        )
        assert result.enrollment_id is not None
        return result.enrollment_id

    def enrollment(self, enrollment_id: int) -> Enrollment:
        return detached_enrollment(self.db, enrollment_id)

    def send_touch(
        self, enrollment_id: int, prospect: str, *, headers: dict[str, str] | None = None
    ) -> str:
        """Deliver the next touch over SMTP with our Message-ID and record it like the engine does."""
        now = self.clock.now()
        e = self.enrollment(enrollment_id)
        step = e.steps_done + 1
        message_id = f"<sq.{uuid.uuid4().hex}@test.example>"
        msg = EmailMessage()
        msg["From"] = f"Sam Rivera <{self.rep}>"
        msg["To"] = prospect
        subject = "Your quote for Acme" if step == 1 else "Re: Your quote for Acme"
        msg["Subject"] = subject if not e.thread_subject or step == 1 else f"Re: {e.thread_subject}"
        msg["Date"] = format_datetime(now)
        msg["Message-ID"] = message_id
        if e.last_message_id:
            msg["In-Reply-To"] = e.last_message_id
            msg["References"] = " ".join([*e.thread_refs])
        for k, v in (headers or {}).items():
            msg[k] = v
        msg.set_content(f"Hi Dana,\n\nTouch {step} about your quote.\n\nSam\n")
        asyncio.run(
            aiosmtplib.send(
                msg,
                hostname="127.0.0.1",
                port=self.mail.smtp_port,
                username=self.rep,
                password=PASSWORD,
                start_tls=False,
                use_tls=False,
            )
        )
        with self.db.session() as s:
            s.add(
                Message(
                    enrollment_id=enrollment_id,
                    step=step,
                    message_id=message_id,
                    mailbox="rep",
                    to_addr=prospect,
                    subject=str(msg["Subject"]),
                    status="sent",
                    claimed_at=now,
                    sent_at=now,
                    attempts=1,
                )
            )
            row = s.get(Enrollment, enrollment_id)
            assert row is not None
            row.steps_done = step
            row.last_touch_at = now
            row.next_send_at = now + timedelta(days=2)
            row.last_message_id = message_id
            row.thread_root_id = row.thread_root_id or message_id
            row.thread_subject = row.thread_subject or str(msg["Subject"])
            row.thread_refs = [*(row.thread_refs or []), message_id]
        return message_id


def make_project(
    mail: MailEnv,
    db: Database,
    clock: ManualClock,
    root: Path,
    *,
    imap: dict[str, Any] | None = None,
    colleague: bool = True,
    managers: bool = True,
    rep: str | None = None,
) -> Project:
    rep = rep or mail.new_address("rep")
    manager = mail.new_address("manager")
    (root / "sequences").mkdir(parents=True, exist_ok=True)
    (root / "templates" / "quote").mkdir(parents=True, exist_ok=True)
    (root / "sequences" / "quote-follow-up.yaml").write_text(
        SEQUENCE_YAML.format(colleague="true" if colleague else "false")
    )
    for n in (1, 2, 3):
        (root / "templates" / "quote" / f"0{n}.txt").write_text(
            f"Hi,\n\nTouch {n}.\n\n{{{{ signature }}}}\n"
        )
    entry = mail.mailbox_config(rep, name="rep", owner="rep", display_name="Sam Rivera")
    if imap:
        entry["imap"] = {**entry["imap"], **imap}
    data = {
        "database": db.url,
        "mailboxes": [entry],
        "reporting": {"managers": [manager] if managers else [], "reply_sla_hours": 4},
    }
    (root / "sequencer.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    config = load_config(root / "sequencer.yaml")
    sequences = load_sequences(root / "sequences")
    return Project(mail, db, clock, root, rep, manager, config, sequences)


def reply_to(
    msg_id: str | None,
    *,
    sender: str,
    to: str,
    body: str,
    subject: str = "Re: Your quote for Acme",
    extra: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@prospect.example>"
    msg["Date"] = format_datetime(datetime.now().astimezone())
    if msg_id:
        msg["In-Reply-To"] = msg_id
        msg["References"] = msg_id
    for k, v in (extra or {}).items():
        msg[k] = v
    msg.set_content(body)
    return msg


def fill_maildir(mail: MailEnv, user: str, count: int, *, start: int = 0) -> None:
    """Put ``count`` old filler messages into a user's INBOX in about a second.

    Written straight into the Maildir (Dovecot indexes new files on the next SELECT):
    APPENDing 20,000 messages over IMAP takes half a minute.
    """
    import os
    import time as _time

    with mail.imap(user) as c:  # makes Dovecot create the Maildir with its own owner
        c.select_folder("INBOX", readonly=True)
    cur = mail.dovecot.root / "mail" / user / "Maildir" / "cur"
    st = os.stat(cur)
    base = int(_time.time())
    for i in range(start, start + count):
        path = cur / f"{base}.M{i}P1.filler:2,S"
        path.write_bytes(
            f"From: Newsletter {i} <news{i}@lists.example>\r\nTo: {user}\r\nSubject: filler {i}\r\n"
            f"Date: Mon, 05 Jan 2026 10:00:00 +0000\r\nMessage-ID: <filler{i}.{base}@lists.example>\r\n\r\n"
            f"Old mail number {i}.\r\n".encode()
        )
        if os.geteuid() == 0:
            os.chown(path, st.st_uid, st.st_gid)
