"""Submit one touch per scenario to the MTA under test, and name the DSNs that come back.

    python send.py submit MTA PORT     # send the touches
    python send.py collect MTA RAWDIR SAMPLES   # rename the sink's files to MTA_scenario.eml

Each touch carries Message-ID <touch.MTA.SCENARIO@rep.example>, so a DSN is matched to its
scenario by the returned message; the first DSN of the greylisted touch is the delay
warning, a later one the failure at queue expiry.
"""

from __future__ import annotations

import re
import smtplib
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

SENDER = "sam@rep.example"
# scenario -> recipients; the right failed recipient is the one not named ok*.
SCENARIOS: dict[str, list[str]] = {
    "unknown": ["nobody.here@fabrikam.example"],
    "full": ["full.box@litware.example"],
    "policy": ["policy.block@contoso.example"],
    "grey": ["grey.list@wingtip.example"],
    "mixed": ["ok.alice@northwind.example", "nobody.bob@northwind.example"],
    "success": ["ok.carol@adventure-works.example"],
    # providers' own words for the same causes (make/sink.py VARIETY), one DSN, many lines
    "variety": [
        f"{local}@variety.example"
        for local in (
            "v-gmail-nouser",
            "v-o365-nouser",
            "v-yahoo-nouser",
            "v-mbx-unavail",
            "v-disabled",
            "v-gmail-quota",
            "v-spamhaus",
            "v-dmarc",
            "v-toobig",
            "v-relay",
        )
    ],
}


def touch(mta: str, scenario: str, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Sam Rep <{SENDER}>"
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"Quick question about your {scenario} process"
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<touch.{mta}.{scenario}@rep.example>"
    msg.set_content(
        "Hi,\n\nI noticed your team is growing. Would a 15-minute call next week make sense?\n\n"
        "Best,\nSam\n"
    )
    return msg


def submit(mta: str, port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.rep.example")
        dsn = smtp.has_extn("dsn")
        for scenario, recipients in SCENARIOS.items():
            options = ["NOTIFY=SUCCESS,FAILURE,DELAY"] if dsn and scenario == "success" else []
            if scenario == "success" and not dsn:
                continue  # this MTA cannot be asked for a success report
            smtp.send_message(
                touch(mta, scenario, recipients),
                from_addr=SENDER,
                to_addrs=recipients,
                rcpt_options=options,
            )
            print(f"{mta}: sent {scenario} to {recipients}", flush=True)


def collect(mta: str, rawdir: Path, samples: Path) -> None:
    seen: dict[str, int] = {}
    for path in sorted(rawdir.glob("*.eml")):
        raw = path.read_bytes().replace(b"Return-Path: <<>>", b"Return-Path: <>")
        match = re.search(rb"touch\.%s\.(\w+)@rep\.example" % re.escape(mta.encode()), raw)
        scenario = match.group(1).decode() if match else "unmatched"
        seen[scenario] = seen.get(scenario, 0) + 1
        suffix = f"_{seen[scenario]}" if seen[scenario] > 1 else ""
        if scenario == "grey":  # a warning while retrying, then the failure at queue expiry
            # OpenSMTPD 6.8 reports its expiry as "Action: delayed ... Envelope expired"
            final = re.search(rb"(?im)^Action: *failed|Envelope expired", raw)
            scenario = "grey_expired" if final else "grey_delay"
            seen[scenario] = seen.get(scenario, 0) + 1
            suffix = f"_{seen[scenario]}" if seen[scenario] > 1 else ""
        target = samples / f"real_{mta}_{scenario}{suffix}.eml"
        target.write_bytes(raw)
        print(f"{path.name} -> {target.name}")


if __name__ == "__main__":
    if sys.argv[1] == "submit":
        submit(sys.argv[2], int(sys.argv[3]))
    else:
        collect(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
