"""Inbox poller: messages classified and applied per second, and the cost of an idle poll.

Starts its own Dovecot + SMTP front (tests/servers.py) and uses a SQLite database.

Rows:
- ``poll 5,000 new messages vs bare FETCH``: fetch + classify + store + apply (+ the reply
  alerts), in messages per second, against a bare imapclient ``UID FETCH`` of the same
  messages and the same items the poller fetches (``RFC822.SIZE``, ``INTERNALDATE``,
  ``BODY.PEEK[]<0.max_bytes>``) from the same Dovecot in the same run. Target: at least a
  tenth of the bare FETCH rate (issue 15).
- ``poll 5,000 new messages vs classify()``: the same poll against ``classify()`` alone on
  the same bytes in-process (no IMAP, no database). Target: at least a fifth.
- ``idle poll IMAP commands``: commands sent by a poll with no new mail in a 20,000-message
  inbox, against the same poll of a 20-message inbox (baseline). Target ratio exactly 1.0.

Run alone: ``python benchmarks/poll.py [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import Row  # noqa: E402


def _write(cur: Path, name: str, raw: bytes) -> None:
    path = cur / name
    path.write_bytes(raw)
    if os.geteuid() == 0:
        st = os.stat(cur)
        os.chown(path, st.st_uid, st.st_gid)


def _mix(n: int, rep: str, touches: list[tuple[str, str]]) -> list[bytes]:
    """Replies, out-of-offices, bounces and unrelated mail, in roughly real proportions."""
    from tests.servers import make_dsn

    out: list[bytes] = []
    for i in range(n):
        prospect, touch_id = touches[i % len(touches)]
        head = f"Message-ID: <in{i}.{uuid.uuid4().hex[:8]}@remote.example>\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        kind = i % 20
        if kind == 0:  # a human reply (5%)
            out.append(
                (
                    f"From: {prospect}\r\nTo: {rep}\r\nSubject: Re: Your quote\r\n{head}"
                    f"In-Reply-To: {touch_id}\r\nReferences: {touch_id}\r\n\r\n"
                    "Thanks, let's talk Thursday.\r\n\r\n> earlier text\r\n"
                ).encode()
            )
        elif kind < 6:  # out of office (25%)
            out.append(
                (
                    f"From: {prospect}\r\nTo: {rep}\r\nSubject: Automatic reply: Your quote\r\n{head}"
                    f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {touch_id}\r\n\r\n"
                    "I am out of the office and back on 16 March.\r\n"
                ).encode()
            )
        elif kind < 9:  # bounce (15%)
            original = (
                f"From: {rep}\r\nTo: {prospect}\r\nSubject: Your quote\r\nMessage-ID: {touch_id}\r\n\r\nhi\r\n"
            ).encode()
            out.append(make_dsn(rep, prospect, original, "5.1.1"))
        else:  # newsletters and other mail (55%)
            out.append(
                (
                    f"From: News <news{i}@lists.example>\r\nTo: {rep}\r\nSubject: Weekly digest {i}\r\n{head}"
                    "List-Id: <news.lists.example>\r\nList-Unsubscribe: <mailto:u@lists.example>\r\n\r\n"
                    "This week's news.\r\n"
                ).encode()
            )
    return out


def _bare_fetch_rate(mail: object, user: str, expected: int) -> float:
    """Messages per second of one bare imapclient UID FETCH of what the poller fetches.

    The same items as ``mail/imap_fetch.fetch`` (size, INTERNALDATE, the first
    ``DEFAULT_MAX_BYTES`` with PEEK), in the same ``FETCH_CHUNK`` chunks, timed from the
    login to the last response: the floor any IMAP poller pays for these messages.
    """
    from sequencer.mail.imap_fetch import DEFAULT_MAX_BYTES, FETCH_CHUNK

    started = time.perf_counter()
    with mail.imap(user) as c:  # type: ignore[attr-defined]
        c.select_folder("INBOX", readonly=True)
        uids = sorted(c.search(["UID", "1:*"]))
        got = 0
        for i in range(0, len(uids), FETCH_CHUNK):
            data = c.fetch(
                uids[i : i + FETCH_CHUNK],
                ["RFC822.SIZE", "INTERNALDATE", f"BODY.PEEK[]<0.{DEFAULT_MAX_BYTES}>"],
            )
            got += sum(1 for item in data.values() if item.get(b"BODY[]<0>"))
    elapsed = time.perf_counter() - started
    assert got >= expected, f"bare FETCH got {got} of {expected} messages"
    return got / elapsed


def main(quick: bool = False) -> list[Row]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--profile", metavar="PATH", help="write a cProfile of the poll to PATH")
    args, _ = parser.parse_known_args()
    quick = quick or args.quick
    n_new = 1000 if quick else 5000
    n_big = 2000 if quick else 20000

    from sqlalchemy import insert

    from sequencer.classify import classify
    from sequencer.clock import ManualClock
    from sequencer.db.models import Enrollment, Message, Prospect
    from sequencer.inbound.poll import poll_mailbox
    from tests.kit import fill_maildir, make_project
    from tests.servers import PASSWORD, mail_servers

    os.environ["SEQ_TEST_PASSWORD"] = PASSWORD
    root = Path(tempfile.mkdtemp(prefix="seq-bench-poll-"))
    root.chmod(0o755)
    rows: list[Row] = []
    try:
        with mail_servers(root / "mail") as mail:
            from sequencer.db.session import Database

            clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))

            # --- throughput -------------------------------------------------------------
            db = Database(f"sqlite:///{root / 'bench.db'}")
            p = make_project(mail, db, clock, root / "p1", managers=False)
            now = clock.now()
            n_enrolled = 1000 if not quick else 200
            prospects = [mail.new_address("lead") for _ in range(n_enrolled)]
            touches = [(addr, f"<sq.{uuid.uuid4().hex}@test.example>") for addr in prospects]
            with db.session() as s:
                s.execute(
                    insert(Prospect),
                    [
                        {
                            "email": a,
                            "display_email": a,
                            "name": f"Lead {i}",
                            "company": "Acme",
                            "fields": {},
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i, a in enumerate(prospects)
                    ],
                )
                ids = dict(
                    s.execute(
                        Prospect.__table__.select().with_only_columns(Prospect.email, Prospect.id)
                    ).all()
                )
                s.execute(
                    insert(Enrollment),
                    [
                        {
                            "prospect_id": ids[a],
                            "sequence_id": "quote-follow-up",
                            "mailbox": "rep",
                            "owner": "rep",
                            "status": "active",
                            "status_changed_at": now,
                            "steps_done": 1,
                            "total_steps": 3,
                            "next_send_at": now + timedelta(days=2),
                            "token": uuid.uuid4().hex,
                            "thread_refs": [mid],
                            "last_message_id": mid,
                            "thread_root_id": mid,
                            "thread_subject": "Your quote",
                            "enrolled_at": now,
                            "last_touch_at": now,
                            "retry_count": 0,
                        }
                        for a, mid in touches
                    ],
                )
                eids = dict(
                    s.execute(
                        Enrollment.__table__.select().with_only_columns(
                            Enrollment.prospect_id, Enrollment.id
                        )
                    ).all()
                )
                s.execute(
                    insert(Message),
                    [
                        {
                            "enrollment_id": eids[ids[a]],
                            "step": 1,
                            "message_id": mid,
                            "mailbox": "rep",
                            "to_addr": a,
                            "subject": "Your quote",
                            "status": "sent",
                            "claimed_at": now,
                            "sent_at": now,
                            "attempts": 1,
                        }
                        for a, mid in touches
                    ],
                )
            poll_mailbox(db, p.config, p.sequences, clock, "rep")  # first sync of the empty folders
            messages = _mix(n_new, p.rep, touches)
            with mail.imap(p.rep) as c:
                c.select_folder("INBOX", readonly=True)
            cur = mail.dovecot.root / "mail" / p.rep / "Maildir" / "cur"
            base = int(time.time())
            for i, raw in enumerate(messages):
                _write(cur, f"{base}.M{i}P2.bench:2,", raw)
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            started = time.perf_counter()
            result = poll_mailbox(db, p.config, p.sequences, clock, "rep")
            elapsed = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
                profiler.dump_stats(args.profile)
            assert result.ok, result.error
            ours = result.applied / elapsed
            own = frozenset({p.rep})
            bare = _bare_fetch_rate(mail, p.rep, len(messages))
            started = time.perf_counter()
            for raw in messages:
                classify(raw, own_addresses=own, received=now.date())
            ceiling = len(messages) / (time.perf_counter() - started)
            print(
                f"poll of {len(messages)} new messages: {elapsed:.2f}s, applied {result.applied}, "
                f"kinds {result.kinds}, stopped {result.replies}, alerts {result.notified}"
            )
            print(f"bare imapclient FETCH of the same {len(messages)} messages: {bare:,.0f} msg/s")
            fetch_ratio = ours / bare
            print(f"ours / bare FETCH = {fetch_ratio:.3f} (target >= 0.1)")
            rows.append(
                Row(
                    f"poll {n_new:,} new messages vs bare imapclient FETCH of the same headers",
                    round(ours, 1),
                    round(bare, 1),
                    round(fetch_ratio, 3),
                    ">= 0.1x of bare FETCH",
                    "msg/s",
                    fetch_ratio >= 0.1,
                    "same Dovecot, same items: RFC822.SIZE INTERNALDATE BODY.PEEK[]<0.max>",
                )
            )
            ratio = ours / ceiling
            rows.append(
                Row(
                    f"poll {n_new:,} new messages vs classify() alone",
                    round(ours, 1),
                    round(ceiling, 1),
                    round(ratio, 3),
                    ">= 0.2x of classify() alone",
                    "msg/s",
                    ratio >= 0.2,
                    f"{result.replies} replies alerted over SMTP",
                )
            )
            db.dispose()

            # --- idle poll cost -----------------------------------------------------------
            costs: dict[int, tuple[int, float]] = {}
            for size in (20, n_big):
                db = Database(f"sqlite:///{root / f'idle{size}.db'}")
                q = make_project(mail, db, clock, root / f"idle{size}", managers=False)
                fill_maildir(mail, q.rep, size)
                poll_mailbox(db, q.config, q.sequences, clock, "rep")  # first sync
                started = time.perf_counter()
                idle = poll_mailbox(db, q.config, q.sequences, clock, "rep")
                costs[size] = (idle.imap_commands, time.perf_counter() - started)
                db.dispose()
            small, big = costs[20], costs[n_big]
            print(
                f"idle poll: 20 messages -> {small[0]} commands in {small[1] * 1000:.0f} ms; "
                f"{n_big:,} messages -> {big[0]} commands in {big[1] * 1000:.0f} ms"
            )
            rows.append(
                Row(
                    f"idle poll IMAP commands, {n_big:,} vs 20 messages",
                    big[0],
                    small[0],
                    round(small[0] / big[0], 3),
                    "== 1.0",
                    "commands",
                    big[0] == small[0],
                )
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
