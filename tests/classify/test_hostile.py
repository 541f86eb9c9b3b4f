"""Mail nobody should send, which arrives anyway: classification never raises, stays fast,
and a malformed bounce is still read as a bounce where it can be.

One message that raises would stop a poll for every later message in the mailbox, so each
case here runs the whole rule chain, not one parser.
"""

from __future__ import annotations

import time

import pytest

from sequencer.classify import classify

OWN = {"sam@rep.example"}


def _nested(depth: int) -> bytes:
    head = b"From: x@y.example\r\nTo: sam@rep.example\r\nSubject: nest\r\nMIME-Version: 1.0\r\n"
    body = b""
    for level in range(depth):
        body += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
    body += b"Content-Type: text/plain\r\n\r\nhello\r\n"
    for level in reversed(range(depth)):
        body += b"--b%d--\r\n" % level
    return head + body


HOSTILE: dict[str, bytes] = {
    "empty": b"",
    "garbage": bytes(range(256)) * 50,
    "only headers": b"From: \r\nTo:\r\nSubject:\r\n",
    "huge message-id": b"Message-ID: <"
    + b"a" * 200_000
    + b"@x>\r\nFrom: a@b.example\r\n\r\nhi\r\n",
    "huge from": b"From: " + b"x" * 100_000 + b"@y.example\r\n\r\nhi\r\n",
    "a million references": b"References: "
    + b"<r@x> " * 100_000
    + b"\r\nFrom: a@b.example\r\n\r\nhi",
    "thousands of headers": b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)) + b"\r\nbody",
    "deeply nested multipart": _nested(300),
    "broken boundary": b'Content-Type: multipart/report; report-type=delivery-status; boundary="zz"\r\n'
    b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered Mail\r\n\r\n--zz\r\nContent-Type: "
    b"message/delivery-status\r\n\r\nFinal-Recipient: rfc822;\r\nAction: failed\r\nStatus: 9.9.9.9\r\n",
    "report without blocks": b"From: MAILER-DAEMON@x.example\r\nSubject: Undelivered\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="q"\r\n\r\n--q\r\n'
    b"Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--q--\r\n",
    "bad charset": b"From: a@b.example\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\n\xff\xfe hi",
    "bad encoded words": b"From: =?utf-8?b?!!!?= <a@b.example>\r\nSubject: =?x-bad?q?=ZZ?=\r\n\r\nhi",
    "json bomb": b"From: a@b.example\r\nContent-Type: text/plain\r\n\r\n"
    + b"[" * 50_000
    + b"]" * 50_000,
    "huge body": b"From: MAILER-DAEMON@x.example\r\nSubject: failure notice\r\n\r\n"
    + b"<a@b.example>: user unknown " * 200_000,
    "null bytes": b"From: a@b.example\x00\r\nSubject: \x00\x00\r\n\r\n\x00hi\x00",
    "feedback report without fields": b"From: fbl@isp.example\r\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n\r\n--f\r\n'
    b"Content-Type: message/feedback-report\r\n\r\n\r\n--f--\r\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_input_never_raises(name: str) -> None:
    started = time.monotonic()
    verdict = classify(HOSTILE[name], own_addresses=OWN)
    assert verdict.kind in {
        "reply",
        "auto_reply",
        "bounce",
        "complaint",
        "unsubscribe",
        "unrelated",
        "own",
    }
    assert time.monotonic() - started < 20, "one message must not stall a poll"


def test_a_bounce_with_a_broken_report_is_still_a_bounce() -> None:
    verdict = classify(HOSTILE["broken boundary"], own_addresses=OWN)
    assert verdict.kind == "bounce"


def test_oversized_ids_are_kept_whole_for_the_store_to_decide() -> None:
    """Truncating is the store's decision (per database); classify reports what it read."""
    verdict = classify(HOSTILE["huge message-id"], own_addresses=OWN)
    assert verdict.message_id is not None and len(verdict.message_id) > 1000


def test_dmarc_result_is_the_receiving_servers() -> None:
    raw = (
        b"Authentication-Results: mx.rep.example; dmarc=fail (p=reject) header.from=x.example\r\n"
        b"Authentication-Results: forged.example; dmarc=pass\r\n"
        b"From: a@x.example\r\nSubject: Re: hi\r\n\r\nPlease remove me"
    )
    assert classify(raw, own_addresses=OWN).dmarc == "fail"
    assert classify(b"From: a@x.example\r\n\r\nhi", own_addresses=OWN).dmarc is None
