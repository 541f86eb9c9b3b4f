"""The manager's daily digest: its window, its email read back over IMAP, and exactly once a day.

Over the same known history as ``test_report`` (``build_history``), against the real
SMTP relay and Dovecot.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sequencer.cli import main
from sequencer.clock import ManualClock
from sequencer.config import Config
from sequencer.db.session import Database
from sequencer.errors import MailboxError
from sequencer.reporting.digest import digest_window, maybe_send_daily_digest, send_digest
from tests.reporting.test_report import NOW, build_history, write_config
from tests.servers import Fault


def digest_config(mail: Any, db_url: str, managers: list[str], **reporting: Any) -> Config:
    rep = mail.new_address("rep")
    return Config.model_validate({
        "database": db_url,
        "timezone": "Europe/Berlin",
        "mailboxes": [mail.mailbox_config(rep, name="alice")],
        "reporting": {"managers": managers, "stalled_after_days": 2, "digest_time": "08:00", **reporting},
    })


def test_digest_window_on_monday_covers_friday_to_sunday() -> None:
    cfg = Config.model_validate({"timezone": "Europe/Berlin"})
    today, (start, end) = digest_window(cfg, now=NOW)
    assert today.isoformat() == "2026-03-02"
    assert (start, end) == (datetime(2026, 2, 26, 23, tzinfo=UTC), datetime(2026, 3, 1, 23, tzinfo=UTC))


def test_digest_is_emailed_to_the_managers_and_read_back_over_imap(db: Database, db_url: str, mail: Any) -> None:
    build_history(db)
    manager = mail.new_address("manager")
    cfg = digest_config(mail, db_url, [manager])
    asyncio.run(send_digest(db, cfg, now=NOW))
    [msg] = mail.wait_for(manager, 1)
    assert msg["Subject"] == "Sequencer digest 2026-03-02: 0 new replies, 1 unanswered, 1 stalled"
    assert msg["From"].addresses[0].addr_spec == cfg.mailboxes[0].address
    assert msg["Auto-Submitted"] == "auto-generated"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    # Friday 27 Feb - Sunday 1 Mar (Berlin): q6 and q7 enrolled, q6 touched
    # the body names the subject's day and the days it covers; counts read as English; money has its currency
    assert text.startswith("Sequencer digest 2026-03-02 – covering Friday 27 February – Sunday 01 March 2026")
    assert "2 enrolled, 1 touch sent, 0 replies" in text and "1 reply waiting for an answer" in text
    assert "Q4 <q4@prospects.example> (bob, quote touch 1): waiting 13.8 d, deal 3,000.00 USD  ** past SLA **" in text
    assert "Q5 <q5@prospects.example> (alice, quote touch 2): overdue 4.0 d: mailbox alice paused" in text
    assert "Quote follow-up: 7 enrolled, 3 in sequence, 4 finished (57.1%), 1 without reply, 2 replies (33.3%)" in text
    assert "LEAD SAFETY: 2 violations" in text
    assert "q4@prospects.example" in html and "<table>" in html


def test_digest_command_prints_the_text_version(db: Database, db_url: str, tmp_path: Path) -> None:
    build_history(db)
    cfg = write_config(tmp_path, db_url)
    result = CliRunner().invoke(main, ["--config", str(cfg), "--at", "2026-03-02T09:00", "digest"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Subject: Sequencer digest 2026-03-02: 0 new replies, 1 unanswered, 1 stalled")
    assert "COMPLETION PER SEQUENCE" in result.output
    nobody = CliRunner().invoke(main, ["--config", str(cfg), "--at", "2026-03-02T09:00", "digest", "--send"])
    assert nobody.exit_code == 2 and "no digest recipients" in nobody.output


def digests_accepted(mail: Any, manager: str) -> int:
    """Messages the SMTP relay accepted for ``manager``, counted when DATA arrives."""
    return sum(1 for _, rcpts, _ in mail.relay.messages if manager in rcpts)


def test_daily_digest_goes_out_once_even_with_two_workers(db_url: str, mail: Any) -> None:
    manager = mail.new_address("manager")
    cfg = digest_config(mail, db_url, [manager])
    workers = [Database(db_url), Database(db_url)]
    build_history(workers[0])
    monday_0810 = ManualClock(datetime(2026, 3, 2, 7, 10, tzinfo=UTC))  # 08:10 in Berlin
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def tick(database: Any, name: str) -> None:
        barrier.wait()
        results.append(asyncio.run(maybe_send_daily_digest(database, cfg, monday_0810, worker=name)))

    try:
        threads = [threading.Thread(target=tick, args=(w, f"w{i}")) for i, w in enumerate(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [False, True]
        # later ticks the same day do nothing
        monday_0810.advance(timedelta(hours=3))
        assert asyncio.run(maybe_send_daily_digest(workers[1], cfg, monday_0810)) is False
        # Every send was awaited to its SMTP reply, and the relay records a message before
        # it answers DATA: what it holds now is everything that was sent.
        assert digests_accepted(mail, manager) == 1
        assert len(mail.wait_for(manager, 1)) == 1
    finally:
        for w in workers:
            w.dispose()


def test_daily_digest_waits_for_its_time_skips_weekends_and_retries_a_failed_send(db: Database, db_url: str, mail: Any) -> None:
    manager = mail.new_address("manager")
    cfg = digest_config(mail, db_url, [manager])
    build_history(db)
    clock = ManualClock(datetime(2026, 3, 2, 6, 59, tzinfo=UTC))  # 07:59 in Berlin: too early
    assert asyncio.run(maybe_send_daily_digest(db, cfg, clock)) is False
    saturday = ManualClock(datetime(2026, 3, 7, 9, 0, tzinfo=UTC))
    assert asyncio.run(maybe_send_daily_digest(db, cfg, saturday)) is False
    clock.set(datetime(2026, 3, 2, 7, 0, tzinfo=UTC))  # 08:00 Berlin: due
    mail.relay.faults[manager] = Fault(replies=["451 4.3.0 try again later"])
    with pytest.raises(MailboxError):
        asyncio.run(maybe_send_daily_digest(db, cfg, clock))
    assert asyncio.run(maybe_send_daily_digest(db, cfg, clock)) is True
    assert digests_accepted(mail, manager) == 1  # the 451 was refused at RCPT, before DATA
    assert len(mail.wait_for(manager, 1)) == 1
    assert mail.fetch_all(manager)[0]["Subject"].startswith("Sequencer digest 2026-03-02")
