"""Real MTAs' DSNs end to end: what a bounce from Postfix, Exim, OpenSMTPD or Sendmail does to
the enrollment, through a real poll of real Dovecot, on both databases.

The DSNs were made once by the real MTAs (``tests/classify/samples/make.sh``, SOURCES.md:
Debian 12's postfix 3.7, exim4-daemon-light 4.96, opensmtpd 6.8, sendmail 8.17, each run
privately on 127.0.0.1 and refused by a sink answering like real receiving servers);
running them inside the test would take minutes of queue lifetime per scenario. Here each
DSN is rewritten to name this test's touch (its Message-ID), its prospect and rep, then
LMTP-delivered into the rep's inbox as the MTA would have.

Permanent failures (unknown user) bounce and suppress; a full mailbox, a policy block at
DATA and a greylisting that lasts until expiry are soft (the next touch waits, the third
one bounces); a delay warning stops, holds and counts nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from sequencer.db.models import Event, Suppression
from sequencer.inbound.effects import SOFT_BOUNCE_DELAY
from sequencer.inbound.poll import inbound_messages, poll_mailbox
from tests.kit import Project, make_project

pytestmark = pytest.mark.servers

SAMPLES = Path(__file__).parents[1] / "classify" / "samples"
MTAS = ("postfix", "exim", "opensmtpd", "sendmail")
# scenario -> (the failed recipient in the sample, severity, what happens to the enrollment)
SCENARIOS = {
    "unknown": ("nobody.here@fabrikam.example", "hard", "bounced"),
    "full": ("full.box@litware.example", "soft", "soft_bounce"),
    "policy": ("policy.block@contoso.example", "soft", "soft_bounce"),
    "grey_expired": ("grey.list@wingtip.example", "soft", "soft_bounce"),
    "grey_delay": ("grey.list@wingtip.example", "soft", "delivery_delayed"),
}
CASES = [(mta, scenario) for mta in MTAS for scenario in SCENARIOS]


@pytest.fixture
def project(mail, db, clock, tmp_path: Path) -> Project:
    return make_project(mail, db, clock, tmp_path)


def rewritten(path: Path, *, touch_id: str, sample_touch: str, rcpt: str, new_rcpt: str,
              rep: str) -> bytes:
    raw = path.read_bytes()
    assert sample_touch.encode() in raw and rcpt.encode() in raw, path.name
    return (
        raw.replace(sample_touch.encode(), touch_id.encode())
        .replace(rcpt.encode(), new_rcpt.encode())
        .replace(b"sam@rep.example", rep.encode())
    )


def kinds(p: Project, enrollment_id: int) -> list[str]:
    with p.db.session() as s:
        return list(s.scalars(select(Event.kind).where(Event.enrollment_id == enrollment_id)))


@pytest.mark.parametrize(("mta", "scenario"), CASES, ids=[f"{m}-{s}" for m, s in CASES])
def test_real_mta_dsn_acts_on_the_enrollment(project: Project, mta: str, scenario: str) -> None:
    p = project
    rcpt, severity, effect = SCENARIOS[scenario]
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch = p.send_touch(eid, prospect)
    planned = p.enrollment(eid).next_send_at
    sample = SAMPLES / f"real_{mta}_{scenario}.eml"
    raw = rewritten(
        sample,
        touch_id=touch,
        sample_touch=f"<touch.{mta}.{scenario.split('_')[0]}@rep.example>",
        rcpt=rcpt,
        new_rcpt=prospect,
        rep=p.rep,
    )
    p.mail.dovecot.deliver(p.rep, raw)
    assert p.mail.wait_for(p.rep, 1)
    result = poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep")
    assert result.ok, result.error
    assert result.replies == 0 and result.notified == 0

    [row] = inbound_messages(p.db, kinds=["bounce"])
    assert (row["severity"], row["recipients"], row["trust"]) == (severity, [prospect], "trusted")
    e = p.enrollment(eid)
    with p.db.session() as s:
        suppressed = s.scalars(select(Suppression.value)).all()
    events = kinds(p, eid)
    if effect == "bounced":
        assert e.status == "bounced" and suppressed == [prospect]
    else:
        assert e.status == "active" and suppressed == []
        assert effect in events
    if effect == "soft_bounce":
        assert e.next_send_at is not None and planned is not None
        assert e.next_send_at >= p.clock.now() + SOFT_BOUNCE_DELAY
    if effect == "delivery_delayed":
        assert e.next_send_at == planned  # nothing held
        assert "soft_bounce" not in events


def test_delay_warnings_never_add_up_to_a_bounce(project: Project) -> None:
    """Three warnings about one touch are one slow delivery, not three soft bounces."""
    p = project
    prospect = p.mail.new_address("dana")
    eid = p.enroll(prospect)
    touch = p.send_touch(eid, prospect)
    for n, mta in enumerate(("postfix", "exim", "sendmail"), start=1):
        raw = rewritten(
            SAMPLES / f"real_{mta}_grey_delay.eml",
            touch_id=touch,
            sample_touch=f"<touch.{mta}.grey@rep.example>",
            rcpt="grey.list@wingtip.example",
            new_rcpt=prospect,
            rep=p.rep,
        )
        p.mail.dovecot.deliver(p.rep, raw)
        assert len(p.mail.wait_for(p.rep, n)) >= n
        assert poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep").ok
    assert p.enrollment(eid).status == "active"
    assert kinds(p, eid).count("delivery_delayed") == 3


def test_mixed_report_bounces_only_the_refused_recipient(project: Project) -> None:
    p = project
    gone, fine = p.mail.new_address("bob"), p.mail.new_address("alice")
    e_gone, e_fine = p.enroll(gone), p.enroll(fine, name="Alice Fine")
    touch = p.send_touch(e_gone, gone)
    p.send_touch(e_fine, fine)
    raw = rewritten(
        SAMPLES / "real_postfix_mixed.eml",
        touch_id=touch,
        sample_touch="<touch.postfix.mixed@rep.example>",
        rcpt="nobody.bob@northwind.example",
        new_rcpt=gone,
        rep=p.rep,
    ).replace(b"ok.alice@northwind.example", fine.encode())
    p.mail.dovecot.deliver(p.rep, raw)
    assert p.mail.wait_for(p.rep, 1)
    assert poll_mailbox(p.db, p.config, p.sequences, p.clock, "rep").ok
    assert p.enrollment(e_gone).status == "bounced"
    assert p.enrollment(e_fine).status == "active"
