"""Real servers for integration tests: Dovecot (IMAP + LMTP), an SMTP front, PostgreSQL.

Everything binds to 127.0.0.1 on free ports, lives under a temp dir and is
torn down at the end of the session. Each test gets fresh mailboxes (any
username logs in with the password ``secret``; Dovecot's static userdb gives
every new name its own maildir) and a fresh database cloned from a migrated
template, so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import itertools
import logging
import os
import shutil
import smtplib
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

PASSWORD = "secret"
DOMAIN = "test.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class ServerMissing(RuntimeError):
    """A server binary is not installed (a failure in CI, a skip elsewhere)."""


# ----------------------------------------------------------------------------- Dovecot

DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = seqtest-{tag}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:{root}/mail/%u/Maildir
mail_uid = nobody
mail_gid = nogroup
first_valid_uid = 1
mail_privileged_group =
imap_capability = +SPECIAL-USE
mail_plugins = $mail_plugins
postmaster_address = postmaster@{domain}
hostname = mx.{domain}
submission_host = 127.0.0.1:{smtp_port}
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no

passdb {{
  driver = static
  args = password={password}
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u allow_all_users=yes
}}

namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp {{
    mode = 0666
  }}
}}
service auth {{
  unix_listener auth-userdb {{
    mode = 0666
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol lmtp {{
  mail_plugins = $mail_plugins sieve
}}
plugin {{
  sieve = file:{root}/mail/%u/sieve;active={root}/mail/%u/active.sieve
  sieve_vacation_min_period = 0
  sieve_vacation_dont_check_recipient = yes
}}
"""


@dataclass
class Dovecot:
    root: Path
    imap_port: int
    lmtp_port: int
    proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, root: Path, smtp_port: int, *, max_userip_connections: int | None = None) -> Dovecot:
        """``max_userip_connections``: Dovecot's per-user IMAP connection limit (default 10)."""
        binary = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
        if not binary:
            raise ServerMissing("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd dovecot-sieve)")
        for sub in ("run", "state", "mail"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        os.chmod(root / "mail", 0o777)
        server = cls(root=root, imap_port=free_port(), lmtp_port=free_port())
        conf = root / "dovecot.conf"
        conf.write_text(
            DOVECOT_CONF.format(
                root=root,
                tag=uuid.uuid4().hex[:8],
                imap_port=server.imap_port,
                lmtp_port=server.lmtp_port,
                smtp_port=smtp_port,
                password=PASSWORD,
                domain=DOMAIN,
            )
            + (
                f"protocol imap {{\n  mail_max_userip_connections = {max_userip_connections}\n}}\n"
                if max_userip_connections is not None
                else ""
            )
        )
        # Its children keep stdout/stderr open: never pipe them.
        server.proc = subprocess.Popen(
            [binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_port(server.imap_port)
            wait_port(server.lmtp_port)
        except RuntimeError:
            log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
            server.stop()
            raise RuntimeError(f"dovecot did not start:\n{log[-3000:]}") from None
        return server

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def restart(self) -> None:
        """Stop and start on the same ports (tests of reconnects)."""
        self.stop()
        conf = self.root / "dovecot.conf"
        self.proc = subprocess.Popen(
            [shutil.which("dovecot") or "/usr/sbin/dovecot", "-F", "-c", str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.imap_port)

    def deliver(self, rcpt: str, raw: bytes, sender: str = "") -> None:
        """Drop a message straight into a user's INBOX over LMTP."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            lmtp.sendmail(sender, [rcpt], raw)

    def set_vacation(self, user: str, text: str, subject: str = "Out of office") -> None:
        """Activate a Pigeonhole vacation (out-of-office) responder for a user."""
        self.set_sieve(
            user, f'require ["vacation"];\nvacation :days 1 :subject "{subject}" "{text}";\n'
        )

    def set_sieve(self, user: str, source: str) -> None:
        """Make ``source`` the user's active Sieve script (run by LMTP on delivery)."""
        home = self.root / "mail" / user
        home.mkdir(parents=True, exist_ok=True)
        script = home / "sieve"
        script.write_text(source)
        active = home / "active.sieve"
        if active.exists() or active.is_symlink():
            active.unlink()
        active.symlink_to(script)
        for p in (home, script):
            os.chmod(p, 0o777 if p.is_dir() else 0o666)


# ----------------------------------------------------------------------------- SMTP front

@dataclass
class Fault:
    """What the SMTP front answers for one recipient: a queue of replies, then normal service."""

    replies: list[str] = field(default_factory=list)
    permanent: str | None = None  # e.g. "550 5.1.1 <x>: Recipient address rejected"
    bounce_after_accept: str | None = None  # accept, then mail a DSN with this status, e.g. "5.1.1"


class SmtpRelay:
    """aiosmtpd on 127.0.0.1 that delivers into Dovecot over LMTP.

    Faults are injected per recipient (451 then 250, 550, accept-then-bounce);
    ``connections`` and ``messages`` count what arrived, so tests can prove
    connection reuse and exactly-once delivery at the receiving side.
    """

    def __init__(self, port: int, ssl_context: Any = None) -> None:
        self.port = port
        self.ssl_context = ssl_context  # set: implicit TLS (port 465 style) with this cert
        self.lmtp_port: int | None = None
        self.faults: dict[str, Fault] = {}
        self.connections = 0
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.auth_failures = 0
        self._lock = threading.Lock()
        self.controller = None
        # A slow server: while ``greeting_gate`` is set to an Event, each new connection
        # waits for it before the 220 greeting; ``greeting_held`` says one is waiting.
        self.greeting_gate: threading.Event | None = None
        self.greeting_held = threading.Event()

    def start(self, lmtp_port: int) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import SMTP, AuthResult

        relay = self
        self.lmtp_port = lmtp_port
        # aiosmtpd warns about its own deprecated Session.login_data on every AUTH
        logging.getLogger("mail.log").setLevel(logging.ERROR)

        def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
            ok = getattr(auth_data, "password", b"") == PASSWORD.encode()
            if not ok:
                relay.auth_failures += 1
            return AuthResult(success=ok, handled=False)

        class CountingSMTP(SMTP):
            def connection_made(self, transport):  # type: ignore[no-untyped-def]
                with relay._lock:
                    relay.connections += 1
                super().connection_made(transport)

            async def _handle_client(self):  # type: ignore[no-untyped-def]
                gate = relay.greeting_gate
                if gate is not None:
                    relay.greeting_held.set()
                    await asyncio.to_thread(gate.wait)
                await super()._handle_client()

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
                fault = relay.faults.get(address.lower())
                if fault:
                    if fault.replies:
                        return fault.replies.pop(0)
                    if fault.permanent:
                        return fault.permanent
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
                raw = envelope.original_content or envelope.content
                with relay._lock:
                    relay.messages.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
                normal = [r for r in envelope.rcpt_tos if not (relay.faults.get(r.lower()) and relay.faults[r.lower()].bounce_after_accept)]
                bounced = [r for r in envelope.rcpt_tos if r not in normal]
                try:
                    if normal:
                        await asyncio.to_thread(relay._lmtp, envelope.mail_from, normal, raw)
                    for rcpt in bounced:
                        status = relay.faults[rcpt.lower()].bounce_after_accept or "5.1.1"
                        dsn = make_dsn(envelope.mail_from, rcpt, raw, status)
                        await asyncio.to_thread(relay._lmtp, "", [envelope.mail_from], dsn)
                except smtplib.SMTPRecipientsRefused as exc:
                    return f"550 5.1.1 {exc}"
                except (smtplib.SMTPException, OSError) as exc:
                    return f"451 4.3.0 relay failed: {exc}"
                return "250 2.0.0 OK queued"

        class RelayController(Controller):
            def factory(self):  # type: ignore[no-untyped-def]
                return CountingSMTP(
                    self.handler,
                    authenticator=authenticator,
                    auth_require_tls=False,
                    auth_required=False,
                    hostname="smtp.test.example",
                )

        self.controller = RelayController(
            Handler(), hostname="127.0.0.1", port=self.port, ssl_context=self.ssl_context
        )
        self.controller.start()

    def _lmtp(self, sender: str, rcpts: list[str], raw: bytes) -> None:
        assert self.lmtp_port
        # smtplib reads one reply after DATA, LMTP sends one per recipient: one transaction each.
        with smtplib.LMTP("127.0.0.1", self.lmtp_port) as lmtp:
            for rcpt in rcpts:
                lmtp.sendmail(sender or "", [rcpt], raw)

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()

    def reset(self) -> None:
        with self._lock:
            self.faults.clear()
            self.messages.clear()
            self.connections = 0
            self.auth_failures = 0
            if self.greeting_gate is not None:
                self.greeting_gate.set()  # nobody stays stuck behind a previous test's gate
            self.greeting_gate = None
            self.greeting_held.clear()


def make_dsn(sender: str, rcpt: str, original: bytes, status: str) -> bytes:
    """An RFC 3464 delivery status notification, as Postfix writes one."""
    from email.mime.message import MIMEMessage
    from email.mime.multipart import MIMEMultipart
    from email.mime.text import MIMEText

    orig = email.message_from_bytes(original, policy=email.policy.compat32)
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"] = f"MAILER-DAEMON@mx.{DOMAIN} (Mail Delivery System)"
    report["To"] = sender
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report["Auto-Submitted"] = "auto-replied"
    report["Message-ID"] = f"<dsn.{uuid.uuid4().hex}@mx.{DOMAIN}>"
    report.attach(
        MIMEText(
            "This is the mail system at host mx.test.example.\n\n"
            "I'm sorry to have to inform you that your message could not\n"
            "be delivered to one or more recipients.\n\n"
            f"<{rcpt}>: host mx.remote said: 550 {status} User unknown\n"
        )
    )
    # message/delivery-status: per-message fields, then one block per recipient (RFC 3464)
    per_message = email.message.Message()
    per_message["Reporting-MTA"] = f"dns; mx.{DOMAIN}"
    per_recipient = email.message.Message()
    per_recipient["Final-Recipient"] = f"rfc822; {rcpt}"
    per_recipient["Original-Recipient"] = f"rfc822;{rcpt}"
    # the message is returned: failed, also for a 4.x.x status (an MTA giving up on a
    # transient error writes that); "delayed" would be a warning that stops nothing
    per_recipient["Action"] = "failed"
    per_recipient["Status"] = status
    per_recipient["Diagnostic-Code"] = f"smtp; 550 {status} <{rcpt}>: Recipient address rejected"
    status_part = email.message.Message()
    status_part.set_type("message/delivery-status")
    status_part.set_payload([per_message, per_recipient])
    report.attach(status_part)
    headers_only = email.message.Message()
    for key in ("From", "To", "Subject", "Message-ID", "Date", "In-Reply-To", "References"):
        if orig[key]:
            headers_only[key] = orig[key]
    report.attach(MIMEMessage(headers_only))
    return report.as_bytes()


# ----------------------------------------------------------------------------- mail env

class MailEnv:
    """The running mail servers plus helpers to make users and read their mail."""

    def __init__(self, dovecot: Dovecot, relay: SmtpRelay) -> None:
        self.dovecot = dovecot
        self.relay = relay
        self._counter = itertools.count()

    @property
    def imap_port(self) -> int:
        return self.dovecot.imap_port

    @property
    def smtp_port(self) -> int:
        return self.relay.port

    def new_address(self, prefix: str = "user") -> str:
        """A fresh, empty mailbox: every test gets its own."""
        return f"{prefix}-{uuid.uuid4().hex[:10]}@{DOMAIN}"

    def imap(self, user: str):  # type: ignore[no-untyped-def]
        from imapclient import IMAPClient

        client = IMAPClient("127.0.0.1", port=self.imap_port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        return client

    def fetch_all(self, user: str, folder: str = "INBOX") -> list[EmailMessage]:
        with self.imap(user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            data = client.fetch(uids, ["BODY.PEEK[]"])
            return [
                email.message_from_bytes(data[u][b"BODY[]"], policy=email.policy.default)  # type: ignore[misc]
                for u in sorted(data)
            ]

    def wait_for(self, user: str, count: int, folder: str = "INBOX", timeout: float = 10.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.fetch_all(user, folder)
            if len(msgs) >= count or time.monotonic() > deadline:
                return msgs
            time.sleep(0.1)

    def send(self, msg: EmailMessage | bytes, sender: str, rcpts: list[str]) -> None:
        """Send as an outside party would: through the SMTP front."""
        raw = msg if isinstance(msg, bytes) else msg.as_bytes()
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # SMTP wants CRLF lines
        with smtplib.SMTP("127.0.0.1", self.smtp_port) as smtp:
            smtp.sendmail(sender, rcpts, raw)

    def mailbox_config(self, address: str, name: str | None = None, **extra: object) -> dict:
        """A config.yaml mailbox entry pointing at these servers."""
        entry: dict = {
            "name": name or address.split("@")[0],
            "address": address,
            "display_name": name or address.split("@")[0].title(),
            "password_env": "SEQ_TEST_PASSWORD",
            "smtp": {"host": "127.0.0.1", "port": self.smtp_port, "security": "none"},
            "imap": {"host": "127.0.0.1", "port": self.imap_port, "security": "none"},
        }
        entry.update(extra)
        return entry


# ----------------------------------------------------------------------------- PostgreSQL

class Postgres:
    """A private PostgreSQL cluster owned by the postgres user, on a free loopback port."""

    TEMPLATE = "sequencer_template"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.bindir = self._bindir()
        self._counter = itertools.count()

    @staticmethod
    def _bindir() -> Path:
        base = Path("/usr/lib/postgresql")
        versions = sorted(base.glob("*/bin/pg_ctl")) if base.exists() else []
        if versions:
            return versions[-1].parent
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl:
            return Path(pg_ctl).parent
        raise ServerMissing("PostgreSQL is not installed (apt-get install postgresql)")

    def _as_postgres(self, *cmd: str) -> None:
        prefix: list[str] = []
        if os.geteuid() == 0:
            prefix = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*prefix, *cmd], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        data = self.root / "data"
        self._as_postgres(str(self.bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200"
        self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "pg.log"), "-w", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "stop")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def make_template(self) -> None:
        from sequencer.db.session import Database

        self.execute(f"CREATE DATABASE {self.TEMPLATE}")
        db = Database(self.url(self.TEMPLATE))
        db.dispose()

    def fresh_database(self) -> str:
        name = f"t{os.getpid()}_{next(self._counter)}"
        self.execute(f"CREATE DATABASE {name} TEMPLATE {self.TEMPLATE}")
        return self.url(name)


@contextlib.contextmanager
def mail_servers(root: Path, *, max_userip_connections: int | None = None) -> Iterator[MailEnv]:
    smtp_port = free_port()
    dovecot = Dovecot.start(root / "dovecot", smtp_port, max_userip_connections=max_userip_connections)
    relay = SmtpRelay(smtp_port)
    try:
        relay.start(dovecot.lmtp_port)
        yield MailEnv(dovecot, relay)
    finally:
        relay.stop()
        dovecot.stop()
