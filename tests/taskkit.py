"""Shared setup for the rep-workflow tests: a project on the test servers with task steps."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from sequencer.clock import ManualClock
from sequencer.core.sequence_files import load_sequences
from sequencer.core.templates import TemplateStore
from sequencer.db.models import Enrollment, Message, Task
from sequencer.outbound import engine as send
from sequencer.outbound import operations as outbox_ops
from sequencer.people.enroll import enroll
from sequencer.project import load_config

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
TEMPLATES = {
    "t/recap": "Hi {{ first_name | default('there') }},\n\nthanks for the meeting.\n\n{{ signature }}\n",
    "t/checkin": "Hi {{ first_name | default('there') }}, did the proposal make sense?\n",
    "t/last": "Hi {{ first_name | default('there') }}, closing the loop.\n",
    "t/welcome": "Hi {{ first_name | default('there') }}, thanks for your message.\n",
}


class World:
    """A config dir wired to the test servers: reps (mailboxes), a manager, sequences."""

    def __init__(
        self,
        root: Path,
        db: Any,
        mail: Any,
        clock: ManualClock,
        *,
        reps: int = 1,
        inbound: dict[str, Any] | None = None,
        reporting: dict[str, Any] | None = None,
        leads_folder: str | None = None,
    ) -> None:
        self.root, self.db, self.mail, self.clock = root, db, mail, clock
        self.reps = [mail.new_address(f"rep{i}") for i in range(reps)]
        self.manager = mail.new_address("manager")
        entries = []
        for i, address in enumerate(self.reps):
            entry = mail.mailbox_config(
                address, name=f"rep{i}", owner=f"rep{i}", display_name=f"Rep {i}"
            )
            entry.update(
                daily_limit=10000, per_minute=100000, min_spacing_seconds=0, max_spacing_seconds=0
            )
            if leads_folder and i == 0:
                entry["imap"] = {**entry["imap"], "folders": {"inbound_leads": leads_folder}}
            entries.append(entry)
        (root / "sequences").mkdir(parents=True, exist_ok=True)
        (root / "sequences" / "proposal.yaml").write_text(yaml.safe_dump(PROPOSAL, sort_keys=False))
        (root / "sequences" / "inbound.yaml").write_text(yaml.safe_dump(INBOUND, sort_keys=False))
        for name, body in TEMPLATES.items():
            path = root / "templates" / f"{name}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body)
        data: dict[str, Any] = {
            "database": db.url,
            "timezone": "UTC",
            "mailboxes": entries,
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
        return self.reps[0]

    def tick(self) -> send.TickResult:
        """A send tick whose poll hook marks every inbox read up to now."""

        def hook() -> None:
            for m in self.config.mailboxes:
                outbox_ops.mark_polled(self.db, m.name, self.clock.now())

        return send.tick(
            self.db,
            self.config,
            self.sequences,
            self.templates,
            self.clock,
            worker_id="test",
            poll_hook=hook,
        )

    def poll(self) -> Any:
        from sequencer.inbound import poll

        return poll.poll_mailbox(self.db, self.config, self.sequences, self.clock, "rep0")

    def enroll(self, email_addr: str, sequence: str = "proposal", owner: str = "rep0") -> int:
        r = enroll(
            self.db,
            self.config,
            self.sequences,
            email=email_addr,
            sequence_id=sequence,
            name="Dana Whitfield",
            company="Acme",
            value="18400",
            tz="UTC",
            owner=owner,
            now=self.clock.now(),
        )
        assert r.enrollment_id is not None
        return r.enrollment_id

    def enrollment(self, enrollment_id: int) -> Enrollment:
        with self.db.session() as s:
            e = s.get(Enrollment, enrollment_id)
            assert e is not None
            s.expunge(e)
            return e

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
