"""A private, real Postfix for end-to-end bounce tests, and the refusing "remote" it relays to.

Postfix runs from a generated config dir under a temp dir (its own queue, 127.0.0.1 only, a
free port, no chroot), so the system's postfix service is never involved. Reps submit to it
with SMTP AUTH checked by the test Dovecot (``smtpd_sasl_type = dovecot``), as at a real
provider. Everything not for the rep's domain is relayed to the refusing sink of
``tests/classify/samples/make/sink.py`` (the server that made the saved real-MTA samples):
it refuses by local part like real receiving servers. Postfix's own DSNs go to the
envelope sender over LMTP into the rep's Dovecot INBOX, as a provider's MX would file them.

Queue times are seconds, not days: a greylisted message gets its delay warning after
``DELAY_WARNING`` and expires after ``QUEUE_LIFETIME``; ``flush()`` makes Postfix retry now
(``postqueue -f``) so tests wait on the DSN appearing, never on a fixed sleep.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import DOMAIN, ServerMissing, free_port, wait_port

SINK = Path(__file__).parent / "classify" / "samples" / "make" / "sink.py"
DELAY_WARNING = 2  # seconds in the queue before Postfix warns the sender
QUEUE_LIFETIME = 10  # seconds before a message that keeps getting 4xx is returned as failed

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.sender-isp.example
mydomain = sender-isp.example
myorigin = $myhostname
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
relayhost = [127.0.0.1]:{sink_port}
transport_maps = texthash:{root}/etc/transport
smtp_dns_support_level = disabled
lmtp_dns_support_level = disabled
smtp_host_lookup = native
smtputf8_enable = no
biff = no
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = {auth_socket}
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
delay_warning_time = {delay_warning}s
maximal_queue_lifetime = {lifetime}s
bounce_queue_lifetime = {lifetime}s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
"""

# Postfix 3.7's default services, none chrooted (the chroot would need copies of /etc files).
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def _binary(name: str) -> str:
    """Postfix's commands live in /usr/sbin, often not on a non-root PATH."""
    return shutil.which(name) or f"/usr/sbin/{name}"


def _load_refuser() -> Any:
    """The sink's handler class, loaded from its file (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("sample_sink", SINK)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Refuser


@dataclass
class Postfix:
    """One running private Postfix and its sink; ``port`` is where reps submit."""

    root: Path
    port: int
    sink_port: int
    sink: Any = None

    @classmethod
    def start(cls, root: Path, *, lmtp_port: int, auth_socket: Path) -> Postfix:
        if not Path(_binary("postfix")).exists():
            raise ServerMissing("postfix is not installed (apt-get install postfix)")
        if os.geteuid() != 0:
            raise ServerMissing("a private postfix needs root (its queue is owned by root)")
        from aiosmtpd.controller import Controller

        root.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o755)
        (root / "data").mkdir(exist_ok=True)
        (root / "queue").mkdir(exist_ok=True)
        shutil.chown(root / "data", "postfix")
        server = cls(root=root, port=free_port(), sink_port=free_port())
        (root / "etc").mkdir(exist_ok=True)
        (root / "etc" / "main.cf").write_text(
            MAIN_CF.format(
                root=root,
                sink_port=server.sink_port,
                auth_socket=auth_socket,
                delay_warning=DELAY_WARNING,
                lifetime=QUEUE_LIFETIME,
            )
        )
        (root / "etc" / "master.cf").write_text(MASTER_CF.format(port=server.port))
        # The rep's domain is "local" to this provider: its mail goes to Dovecot's LMTP.
        (root / "etc" / "transport").write_text(f"{DOMAIN} lmtp:inet:127.0.0.1:{lmtp_port}\n")
        server.sink = Controller(
            _load_refuser()(root / "sink"), hostname="127.0.0.1", port=server.sink_port
        )
        server.sink.start()
        try:
            server._postfix("start")
            wait_port(server.port)
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            server.stop()
            raise RuntimeError(f"postfix did not start: {exc}\n{server.log()[-3000:]}") from None
        return server

    def _postfix(self, *args: str) -> None:
        subprocess.run(
            [_binary("postfix"), "-c", str(self.root / "etc"), *args],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def flush(self) -> None:
        """Retry every deferred message now (what a queue run would do later)."""
        subprocess.run([_binary("postqueue"), "-c", str(self.root / "etc"), "-f"], check=True)

    def hold_deferred(self) -> None:
        """Put every queued message on hold: it is neither retried nor expired until released."""
        self._postsuper("-h", "ALL")

    def release_held(self) -> None:
        """Move held messages back to the deferred queue; the next ``flush`` retries them."""
        self._postsuper("-H", "ALL")

    def _postsuper(self, *args: str) -> None:
        subprocess.run(
            [_binary("postsuper"), "-c", str(self.root / "etc"), *args],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._postfix("stop")
        if self.sink:
            self.sink.stop()
            self.sink = None
