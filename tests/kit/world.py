"""The one test world for the send path and the rep workflow: a project on the test servers.

``World`` writes a config dir (sequencer.yaml, sequences/, templates/) wired to the real
SMTP front and Dovecot of the ``mail`` fixture, for one or more rep mailboxes, with three
sequences: ``quote`` (four email steps), ``proposal`` (with a task step) and ``inbound``
(for inbound leads). It holds the database and the clock, so a test reads as the rep's
day: ``world.enroll(...)``, ``world.tick()``, ``world.poll()``, ``world.cli(...)``.

The inbox watermark the sender waits for (the reply-race rule) is always written through
the production ``sequencer.db.inbound.record_poll``, via ``mark_polled`` below: one place
to change if its signature does.
"""

from __future__ import annotations

import email
import email.message
import email.policy
import json
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from sequencer.clock import ManualClock
from sequencer.core.sequence_files import load_sequences
from sequencer.core.templates import TemplateStore
from sequencer.db.inbound import record_poll
from sequencer.db.models import Enrollment, Message, Prospect, Task
from sequencer.db.session import Database
from sequencer.outbound import runner
from sequencer.people.enroll import enroll
from sequencer.project import load_config

QUOTE = {
    "name": "Quote follow-up (test)",
    "mailbox": "owner",
    "list_unsubscribe": True,
    "steps": [
        {"wait": 0, "template": "t/first", "subject": "Your quote for {{ company }}"},
        {"wait": "2 business days", "template": "t/second"},
        {"wait": "3 business days", "template": "t/third"},
        {"wait": "1 week", "template": "t/close"},
    ],
}
PROPOSAL = {
    "name": "Proposal with a task",
    "mailbox": "owner",
    "list_unsubscribe": False,
    "policies": {"on_manual_email": "delay"},
    "steps": [
        {
            "name": "Recap",
            "wait": 0,
            "template": "t/recap",
            "subject": "Our meeting, {{ company }}",
        },
        {"wait": "1 business day", "task": "Send the written proposal", "kind": "email"},
        {"name": "Check in", "wait": "2 business days", "template": "t/checkin"},
        {"name": "Last", "wait": "3 business days", "template": "t/last"},
    ],
}
INBOUND = {
    "name": "Inbound lead",
    "mailbox": "owner",
    "list_unsubscribe": False,
    "steps": [
        {
            "name": "Welcome",
            "wait": "5 minutes",
            "template": "t/welcome",
            "subject": "Thanks for reaching out",
        },
        {"name": "Nudge", "wait": "1 business day", "template": "t/checkin"},
    ],
}
SEQUENCES = {"quote": QUOTE, "proposal": PROPOSAL, "inbound": INBOUND}
TEMPLATES = {
    "t/first": "Hi {{ first_name }},\n\nhere is the quote for {{ company }}.\n\n{{ signature }}\n",
    "t/second": "Hi {{ first_name }}, any questions on the quote?\n",
    "t/third": "Hi {{ first_name }}, shall we talk {{ next_business_day_name() }}?\n--- html ---\n<p>Hi {{ first_name }}</p>\n",
    "t/close": "Hi {{ first_name }}, closing the file for now.\n",
    "t/last": "Hi {{ first_name | default('there') }}, closing the loop.\n",
    "t/recap": "Hi {{ first_name | default('there') }},\n\nthanks for the meeting.\n\n{{ signature }}\n",
    "t/checkin": "Hi {{ first_name | default('there') }}, did the proposal make sense?\n",
    "t/welcome": "Hi {{ first_name | default('there') }}, thanks for your message.\n",
}
FAST = {
    "daily_limit": 10000,
    "per_minute": 100000,
    "min_spacing_seconds": 0,
    "max_spacing_seconds": 0,
}


def mark_polled(db: Database, mailbox: str, now: datetime) -> None:
    """The mailbox's inbox was read up to ``now``: the production watermark, committed."""
    with db.session() as s:
        record_poll(s, mailbox, now=now, error=None)


def detached_enrollment(db: Database, enrollment_id: int) -> Enrollment:
    """The enrollment row as stored now, detached so a test can read it after the session."""
    with db.session() as s:
        e = s.get(Enrollment, enrollment_id)
        assert e is not None
        s.expunge(e)
        return e


class World:
    """A config dir wired to the test servers: reps (mailboxes ``rep0``...), a manager, sequences.

    ``mailbox`` keywords (``daily_limit=3``, ``timezone=...``, ``server_saves_sent=True``,
    ``password_env=...``) override the first rep's mailbox entry; ``sending`` the
    ``sending:`` section. ``sequence`` is what ``enroll`` uses unless told otherwise.
    """

    def __init__(
        self,
        root: Path,
        db: Database,
        mail: Any,
        clock: ManualClock,
        *,
        reps: int = 1,
        sequence: str = "proposal",
        inbound: dict[str, Any] | None = None,
        reporting: dict[str, Any] | None = None,
        leads_folder: str | None = None,
        sending: dict[str, Any] | None = None,
        **mailbox: Any,
    ) -> None:
        self.root, self.db, self.mail, self.clock = root, db, mail, clock
        self.sequence = sequence
        self.reps = [mail.new_address(f"rep{i}") for i in range(reps)]
        self.manager = mail.new_address("manager")
        entries = []
        for i, address in enumerate(self.reps):
            extra = mailbox if i == 0 else {}
            entry = mail.mailbox_config(
                address, name=f"rep{i}", owner=f"rep{i}", display_name=f"Rep {i}", **extra
            )
            for key, value in FAST.items():
                entry.setdefault(key, value)
            if leads_folder and i == 0:
                entry["imap"] = {**entry["imap"], "folders": {"inbound_leads": leads_folder}}
            entries.append(entry)
        (root / "sequences").mkdir(parents=True, exist_ok=True)
        for name, body in SEQUENCES.items():
            (root / "sequences" / f"{name}.yaml").write_text(yaml.safe_dump(body, sort_keys=False))
        for name, text in TEMPLATES.items():
            path = root / "templates" / f"{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        data: dict[str, Any] = {
            "database": db.url,
            "timezone": "UTC",
            "mailboxes": entries,
            "sending": {"require_poll_before_followup": True, **(sending or {})},
            "reporting": {"managers": [self.manager], "task_sla_hours": 24, **(reporting or {})},
        }
        if inbound:
            data["inbound"] = inbound
        self.config_path = root / "sequencer.yaml"
        self.config_path.write_text(yaml.safe_dump(data, sort_keys=False))
        self.config = load_config(self.config_path)
        self.templates = TemplateStore(self.config.templates_path)
        self.sequences = load_sequences(
            self.config.sequences_path, self.templates, [m.name for m in self.config.mailboxes]
        )

    @property
    def rep(self) -> str:
        """The first rep's address (mailbox ``rep0``)."""
        return self.reps[0]

    def tick(self, *, poll: bool = True, dry_run: bool = False) -> runner.TickResult:
        """A send tick at the world's clock; its poll hook stands in for the inbox poller,
        marking every inbox read up to now (``poll=False``: no poll this tick)."""

        def hook() -> None:
            for m in self.config.mailboxes:
                mark_polled(self.db, m.name, self.clock.now())

        return runner.tick(
            self.db,
            self.config,
            self.sequences,
            self.templates,
            self.clock,
            worker_id="test",
            dry_run=dry_run,
            poll_hook=hook if poll else None,
        )

    def poll(self) -> Any:
        """The real inbox poll of the first rep's mailbox."""
        from sequencer.inbound import poll

        return poll.poll_mailbox(
            self.db, self.config, self.sequences, self.clock, self.config.mailboxes[0].name
        )

    def enroll(
        self,
        email_addr: str,
        sequence: str | None = None,
        owner: str = "rep0",
        *,
        tz: str = "UTC",
        name: str = "Dana Whitfield",
        company: str = "Acme",
        value: str | None = "18400",
    ) -> int:
        r = enroll(
            self.db,
            self.config,
            self.sequences,
            email=email_addr,
            sequence_id=sequence or self.sequence,
            name=name,
            company=company,
            value=value,
            tz=tz,
            owner=owner,
            now=self.clock.now(),
        )
        assert r.enrollment_id is not None
        return r.enrollment_id

    def enrollment(self, enrollment_id: int) -> Enrollment:
        return detached_enrollment(self.db, enrollment_id)

    def touches(self, enrollment_id: int) -> list[Message]:
        with self.db.session() as s:
            rows = list(
                s.query(Message)
                .filter_by(enrollment_id=enrollment_id, status="sent")
                .order_by(Message.step)
            )
            s.expunge_all()
            return rows

    def tasks(self) -> list[Task]:
        with self.db.session() as s:
            rows = list(s.query(Task).order_by(Task.id))
            s.expunge_all()
            return rows

    def cli(self, *args: str) -> Result:
        from sequencer.cli import main

        return CliRunner().invoke(
            main,
            ["--config", str(self.config_path), "--at", self.clock.now().isoformat(), *args],
            catch_exceptions=False,
        )

    def cli_json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.output)


def bulk_enroll(
    db: Database, n: int, *, due: datetime, mail: Any, sequence: str = "quote"
) -> list[str]:
    """n prospects of ``rep0`` with step 1 due at ``due`` (fast: one transaction, no checks).

    Their addresses are plus-addresses of one receiving mailbox (Dovecot files user+tag
    into user's INBOX), so the test servers do not create a mailbox per prospect.
    """
    user, domain = mail.new_address("sink").split("@")
    emails = [f"{user}+p{i}@{domain}" for i in range(n)]
    with db.session() as s:
        prospects = [
            Prospect(
                email=e,
                display_email=e,
                name=f"Prospect {i}",
                company=f"Co {i}",
                owner="rep0",
                timezone="UTC",
                fields={},
                created_at=due,
                updated_at=due,
            )
            for i, e in enumerate(emails)
        ]
        s.add_all(prospects)
        s.flush()
        s.add_all(
            Enrollment(
                prospect_id=p.id,
                sequence_id=sequence,
                mailbox="rep0",
                owner="rep0",
                status="active",
                status_reason="enrolled",
                status_changed_at=due,
                steps_done=0,
                total_steps=4,
                next_send_at=due,
                token=secrets.token_urlsafe(18),
                thread_refs=[],
                enrolled_at=due,
                source="test",
            )
            for p in prospects
        )
    return emails


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


__all__ = ["World", "bulk_enroll", "detached_enrollment", "mark_polled", "parse"]
