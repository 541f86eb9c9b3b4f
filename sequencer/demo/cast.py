"""The demo's people: six scripted prospects and the rep, Sam, reacting to real mail.

The prospects act only by sending real mail through the demo's SMTP server into
Sam's mailbox, so the engine learns of a reply, an out-of-office, a bounce or an
opt-out exactly as in production, by polling IMAP. Sam plays along: when the reply
alert arrives, he answers from his mail client (SMTP + a copy in Sent), so the report
shows a time to answer instead of an unanswered reply.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Literal
from zoneinfo import ZoneInfo

from sequencer.demo.servers import SENT_FOLDER, DemoMailServers
from sequencer.reporting.notify import NOTIFICATION_HEADER

DOMAIN = "demo.example"
REP = "sam@demo.example"
REP_NAME = "Sam Rivera"
MANAGER = "morgan@demo.example"
PASSWORD = "sequencer-demo"  # a throwaway login of a server that lives as long as the demo
TEAM_TZ = "America/Chicago"
REP_ANSWERS_AFTER = timedelta(hours=1)

Behaviour = Literal["replies", "out_of_office", "bounces", "unsubscribes", "silent"]


@dataclass(frozen=True)
class Persona:
    """A scripted prospect: who they are and what they do after which touch."""

    email: str
    name: str
    company: str
    quote_number: str
    product: str
    value: int
    behaviour: Behaviour
    after_touch: int = 0
    delay: timedelta = timedelta(0)
    plays: str = ""
    ab_variant: str | None = None  # the copy of the A/B step (touch 4) this prospect gets
    # The demo leaves something for the manager to look at: a reply Sam has not answered yet,
    # and a call task Sam has not made yet (overdue when the story ends).
    rep_answers: bool = True
    rep_does_task: bool = True


PERSONAS = (
    Persona("dana@northwind-fab.example", "Dana Whitfield", "Northwind Fabrication", "Q-2041",
            "CNC enclosure panels", 18400, "replies", 2, timedelta(hours=3),
            "replies after touch 2"),
    Persona("priya@lakeside-tools.example", "Priya Raman", "Lakeside Tools", "Q-2042",
            "laser-cut brackets", 9600, "out_of_office", 1, timedelta(minutes=2),
            "out-of-office after touch 1", "timing"),
    Persona("marco@oldco-supply.example", "Marco Bellini", "Oldco Supply", "Q-2043",
            "stainless hinges", 4200, "bounces", 1, timedelta(0),
            "address bounces"),
    Persona("lee@brightline-mfg.example", "Lee Okafor", "Brightline Manufacturing", "Q-2044",
            "powder-coated housings", 12800, "unsubscribes", 3, timedelta(hours=5),
            "asks to be removed after touch 3"),
    Persona("jordan@quietpeak.example", "Jordan Alvarez", "Quiet Peak Outfitters", "Q-2045",
            "aluminium trays", 7300, "silent", 0, timedelta(0),
            "never answers; Sam has not made the closing call yet", "short", rep_does_task=False),
    Persona("alex@harbor-works.example", "Alex Kim", "Harbor Works", "Q-2046",
            "welded frames", 11200, "replies", 3, timedelta(hours=2),
            "replies after touch 3; Sam has not answered yet", rep_answers=False),
)  # fmt: skip


@dataclass(frozen=True)
class Happening:
    """One line of the story as it unfolds (simulated time, who, what)."""

    at: datetime
    who: str
    what: str


class Cast:
    """The scripted prospects and the rep, reacting to the mail they really receive."""

    def __init__(self, servers: DemoMailServers, personas: tuple[Persona, ...]) -> None:
        self.servers = servers
        self.personas = {p.email: p for p in personas}
        self.touches: dict[str, int] = {}
        self.pending: list[tuple[datetime, str, EmailMessage, str]] = []
        self.cursor = 0  # deliveries already looked at
        self.noted: list[str] = []
        self.own: dict[str, EmailMessage] = {}  # what the cast itself sent, by Message-ID

    def react(self, now: datetime) -> list[Happening]:
        """Read mail that arrived since the last step, queue reactions, send those due."""
        out: list[Happening] = []
        fresh = self.servers.deliveries[self.cursor :]
        self.cursor += len(fresh)
        for delivery in fresh:
            msg = email.message_from_bytes(delivery.raw, policy=email.policy.default)
            if str(msg["Message-ID"]) in self.own:
                continue
            assert isinstance(msg, EmailMessage)
            for rcpt in delivery.rcpt_tos:
                persona = self.personas.get(rcpt.lower())
                if persona is not None:
                    number = self.touches[persona.email] = self.touches.get(persona.email, 0) + 1
                    out.append(
                        Happening(now, persona.email, f"gets touch {number}: {msg['Subject']}")
                    )
                    self._script(persona, number, msg, now)
                    out.extend(Happening(now, persona.email, note) for note in self.noted)
                    self.noted.clear()
                elif rcpt.lower() == REP and msg[NOTIFICATION_HEADER]:
                    out.append(Happening(now, REP, f"is alerted: {msg['Subject']}"))
                    self._rep_answers(msg, now)
        due = [p for p in self.pending if p[0] <= now]
        self.pending = [p for p in self.pending if p[0] > now]
        for _, sender, msg, line in due:
            msg.replace_header("Date", email.utils.format_datetime(now))
            self.own[str(msg["Message-ID"])] = msg
            self.servers.send(msg, sender, [str(a.addr_spec) for a in msg["To"].addresses])
            if sender == REP:
                self.servers.deliver(REP, msg.as_bytes(), SENT_FOLDER)  # the mail client's copy
            out.append(Happening(now, sender, line))
        return out

    def _script(self, persona: Persona, number: int, touch: EmailMessage, now: datetime) -> None:
        if number != persona.after_touch or persona.behaviour == "silent":
            return
        if persona.behaviour == "bounces":  # the server has already mailed the DSN
            self.noted.append(f"bounces: 550 5.1.1 user unknown (a DSN lands in {REP}'s inbox)")
            return
        subject = f"Re: {_bare(touch)}"
        if persona.behaviour == "replies":
            first = persona.name.split()[0]
            body = (
                "Hi Sam,\n\nThanks for following up. The quote looks right; can we go over "
                f"lead times on a call Thursday?\n\n{first}\n"
            )
            self._queue(persona, touch, now, subject, body, "replies: can we talk Thursday?")
        elif persona.behaviour == "unsubscribes":
            body = "Please remove me from your list.\n"
            self._queue(persona, touch, now, subject, body, "asks: please remove me from your list")
        elif persona.behaviour == "out_of_office":
            back = (now + timedelta(days=7)).astimezone(ZoneInfo(TEAM_TZ)).strftime("%A %d %B")
            body = (
                f"I am out of the office until {back} with limited access to email. "
                "For urgent matters call the front desk.\n"
            )
            subject = f"Out of Office: {_bare(touch)}"
            msg = self._queue(
                persona, touch, now, subject, body, "is away: automatic out-of-office reply"
            )
            msg["Auto-Submitted"] = "auto-replied"
            msg["X-Autoreply"] = "yes"

    def _queue(
        self,
        persona: Persona,
        touch: EmailMessage,
        now: datetime,
        subject: str,
        body: str,
        line: str,
    ) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = email.utils.formataddr((persona.name, persona.email))
        msg["To"] = REP
        msg["Subject"] = subject
        msg["Date"] = email.utils.format_datetime(now)
        msg["Message-ID"] = email.utils.make_msgid(domain=persona.email.split("@")[1])
        _thread_onto(msg, touch)
        msg.set_content(body + _quoted(touch))
        self.pending.append((now + persona.delay, persona.email, msg, line))
        return msg

    def _rep_answers(self, alert: EmailMessage, now: datetime) -> None:
        """Sam reads the reply alert and answers the prospect from the mail client an hour later."""
        text = str(alert.get_content())
        for their in self.own.values():
            sender = their["From"].addresses[0].addr_spec.lower()
            persona = self.personas.get(sender)
            if persona is None or persona.behaviour != "replies" or not persona.rep_answers:
                continue
            if f"<{sender}>" not in text:
                continue
            answer = EmailMessage()
            answer["From"] = email.utils.formataddr((REP_NAME, REP))
            answer["To"] = persona.email
            answer["Subject"] = f"Re: {_bare(their)}"
            answer["Date"] = email.utils.format_datetime(now)
            answer["Message-ID"] = email.utils.make_msgid(domain=DOMAIN)
            _thread_onto(answer, their)
            answer.set_content("Thursday 10:00 works. I'll send an invite.\n\nSam\n")
            line = f"answers {persona.email} from the mail client"
            self.pending.append((now + REP_ANSWERS_AFTER, REP, answer, line))
            return


def _bare(msg: EmailMessage) -> str:
    subject = str(msg["Subject"] or "")
    while subject.lower().startswith("re: "):
        subject = subject[4:]
    return subject


def _thread_onto(msg: EmailMessage, parent: EmailMessage) -> None:
    parent_id = str(parent["Message-ID"] or "").strip()
    refs = str(parent["References"] or "").split()
    if parent_id:
        msg["In-Reply-To"] = parent_id
        msg["References"] = " ".join([*refs, parent_id][-20:])


def _quoted(touch: EmailMessage) -> str:
    body = touch.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    sender = touch["From"].addresses[0].display_name if touch["From"] else REP_NAME
    quoted = "\n".join(f"> {line}" if line else ">" for line in text.strip().splitlines())
    return f"\nOn {touch['Date']}, {sender} wrote:\n{quoted}\n"
