"""DSNs made by real MTAs run here (tests/classify/samples/make.sh): Postfix, Exim, OpenSMTPD
and Sendmail, each refused by a sink that answers like real receiving servers.

For every MTA: an unknown user is a hard bounce, a full mailbox, a spam/policy block at DATA
and a greylisting that lasts until the queue expires are soft bounces, a delay warning is a
soft bounce that is never hard, and a success ("relayed"/"delivered") report stops nothing.
Each names the right recipient (the one refused, not its accepted neighbour) and carries
the bounced touch's Message-ID, which the poller's trust rule needs.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sequencer.classify import classify

SAMPLES = Path(__file__).parent / "samples"

# scenario -> (kind, severity, recipients, action of the recipient line)
EXPECTED: dict[str, tuple[str, str | None, tuple[str, ...], str | None]] = {
    "unknown": ("bounce", "hard", ("nobody.here@fabrikam.example",), "failed"),
    "full": ("bounce", "soft", ("full.box@litware.example",), "failed"),
    "policy": ("bounce", "soft", ("policy.block@contoso.example",), "failed"),
    "grey_delay": ("bounce", "soft", ("grey.list@wingtip.example",), "delayed"),
    "grey_expired": ("bounce", "soft", ("grey.list@wingtip.example",), None),
    "mixed": ("bounce", "hard", ("nobody.bob@northwind.example",), "failed"),
    "success": ("unrelated", None, (), None),
    "variety": (
        "bounce",
        "hard",
        tuple(
            f"v-{name}@variety.example"
            for name in ("gmail-nouser", "o365-nouser", "yahoo-nouser", "mbx-unavail", "disabled")
        ),
        "failed",
    ),
}
# The variety touch: providers' wording for each cause (make/sink.py VARIETY) -> severity.
VARIETY = {
    "v-gmail-nouser": ("hard", "user_unknown"),
    "v-o365-nouser": ("hard", "user_unknown"),
    "v-yahoo-nouser": ("hard", "user_unknown"),
    "v-mbx-unavail": ("hard", "user_unknown"),
    "v-disabled": ("hard", "user_unknown"),
    "v-gmail-quota": ("soft", "mailbox_full"),
    "v-spamhaus": ("soft", "spam_blocked"),
    "v-dmarc": ("soft", "policy_blocked"),
    "v-toobig": ("soft", "too_big"),
    "v-relay": ("soft", "policy_blocked"),
}
MTAS = ("postfix", "exim", "opensmtpd", "sendmail")
REAL = sorted(SAMPLES.glob("real_*.eml"))


def _scenario(path: Path) -> tuple[str, str]:
    mta, _, scenario = path.stem.removeprefix("real_").partition("_")
    return mta, re.sub(r"_\d+$", "", scenario)  # a repeated warning is saved as ..._delay_2


def test_every_mta_has_every_scenario() -> None:
    made = {_scenario(p) for p in REAL}
    missing = [
        (mta, s) for mta in MTAS for s in EXPECTED if (mta, s) not in made and s != "grey_expired"
    ]
    assert not missing, f"regenerate with tests/classify/samples/make.sh: {missing}"


@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_dsn(path: Path) -> None:
    mta, scenario = _scenario(path)
    kind, severity, recipients, action = EXPECTED[scenario]
    verdict = classify(path.read_bytes(), own_addresses={"sam@rep.example"})
    # MTAs list a report's recipients in their own order (Postfix sorts them)
    got = (verdict.kind, verdict.severity, sorted(verdict.recipients))
    assert got == (kind, severity, sorted(recipients)), verdict.reason
    touch = f"<touch.{mta}.{scenario.split('_')[0]}@rep.example>"
    assert verdict.returned_refs[:1] == (touch,)
    assert verdict.refs[0] == touch
    assert verdict.language is None  # machine text has no language to report
    if action is not None:
        assert {r.action for r in verdict.results if r.address in recipients} == {action}
    if scenario == "variety":
        lines = {r.address.split("@")[0]: (r.severity, r.category) for r in verdict.results}
        assert lines == VARIETY
    elif kind == "bounce":
        assert verdict.failed == recipients
        assert verdict.reason.startswith(verdict.rule)
    else:
        assert verdict.failed == () and verdict.results  # the success lines are kept


SIEVE = sorted(SAMPLES.glob("sieve_vacation_*.eml"))


@pytest.mark.parametrize("path", SIEVE, ids=[p.stem for p in SIEVE])
def test_real_pigeonhole_vacation_reply(path: Path) -> None:
    """Made by make/vacation.py: Dovecot's Sieve vacation answering one of our touches."""
    language = path.stem.rsplit("_", 1)[1]
    verdict = classify(path.read_bytes(), own_addresses={"sam@rep.example"})
    assert (verdict.kind, verdict.language) == ("auto_reply", language), verdict.reason
    assert verdict.thread_refs == (f"<touch.sieve.{language}@rep.example>",)
    assert verdict.return_date is not None or language == "ja"
