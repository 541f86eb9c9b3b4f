"""A refusing "remote" SMTP server for the real MTAs that make the bounce samples.

Every MTA under test relays all mail (its own bounces included) to this one server, which
answers by the recipient's local part, the way real receiving servers do:

- ``nobody*``  -> 550 5.1.1 at RCPT (unknown user: hard)
- ``full*``    -> 552 5.2.2 at RCPT (mailbox full: soft)
- ``policy*``  -> accepted at RCPT, 554 5.7.1 at DATA (content policy block)
- ``grey*``    -> 451 4.7.1 at RCPT, for ever (greylisting until the queue expires: delay
  warning, then a failure)
- anything at ``rep.example`` (our sender's domain) is accepted and saved: those are the
  DSNs the MTA sends back to us.
- anything else is accepted and dropped (a recipient that works).

Run: python sink.py OUTDIR [PORT]. Stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

OUR_DOMAIN = "rep.example"

# ``v-NAME`` recipients (the "variety" touch) get the wording big receiving servers use for
# the same causes, so severity is tested on real providers' words as each MTA wraps them.
VARIETY: dict[str, str] = {
    "v-gmail-nouser": "550 5.1.1 The email account that you tried to reach does not exist. Please try"
    " double-checking the recipient's email address for typos or unnecessary spaces. - gsmtp",
    "v-o365-nouser": "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    "v-yahoo-nouser": "554 delivery error: dd This user doesn't have an account [-5] - mta.example",
    "v-mbx-unavail": "550 Requested action not taken: mailbox unavailable",
    "v-disabled": "550 5.2.1 The email account that you tried to reach is disabled.",
    "v-gmail-quota": "552 5.2.2 The email account that you tried to reach is over quota and inactive.",
    "v-spamhaus": "554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    "v-dmarc": "550 5.7.26 Unauthenticated email is not accepted due to the sender's DMARC policy",
    "v-toobig": "552 5.3.4 Message size exceeds fixed maximum message size",
    "v-relay": "554 5.7.1 <v-relay@x>: Relay access denied",
}


class Refuser:
    def __init__(self, outdir: Path) -> None:
        self.outdir = outdir
        self.count = 0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        local = address.split("@", 1)[0].lower()
        if local in VARIETY:
            return VARIETY[local]
        if local.startswith("nobody"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        if local.startswith("full"):
            return f"552 5.2.2 <{address}>: Mailbox full: user is over quota"
        if local.startswith("grey"):
            return f"451 4.7.1 <{address}>: Recipient address rejected: Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if any(r.split("@", 1)[0].lower().startswith("policy") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected: content matches our spam policy (SPAM-1234)"
        ours = [r for r in envelope.rcpt_tos if r.lower().endswith("@" + OUR_DOMAIN)]
        if ours:
            self.count += 1
            name = self.outdir / f"{self.count:03d}.eml"
            # What the final delivery agent (Dovecot LMTP) adds, so the sample reads as in IMAP.
            sender = (envelope.mail_from or "").strip("<>")
            stamp = f"Return-Path: <{sender}>\r\nDelivered-To: {ours[0]}\r\n"
            name.write_bytes(stamp.encode() + (envelope.original_content or envelope.content))
            print(f"saved {name} from <{envelope.mail_from}> to {ours}", flush=True)
        return "250 2.0.0 Ok: queued"


def main() -> None:
    outdir = Path(sys.argv[1])
    outdir.mkdir(parents=True, exist_ok=True)
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 2526
    controller = Controller(Refuser(outdir), hostname="127.0.0.1", port=port)
    controller.start()
    print(f"sink listening on 127.0.0.1:{port}", flush=True)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.run_until_complete(stop.wait())
    controller.stop()


if __name__ == "__main__":
    main()
