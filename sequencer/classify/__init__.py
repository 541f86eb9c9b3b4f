"""Inbound message -> Verdict: is this a reply, an auto-reply, a bounce, an opt-out, or noise?

The poller stops a sequence on a human reply, so the costly mistake is calling a machine's
message a reply (or a reply an out-of-office). Classification is therefore an ordered chain
of small named rules in the style of GNU Mailman: the first rule that fires decides, and the
verdict records which one (``reason``), so a wrong verdict points at one rule and a new
vendor format is one new rule plus one sample in ``tests/samples``.

Order matters and is deliberate:

1. own -- our copies in Sent carry our Message-IDs and must never count as replies.
2. bounce -- before auto-reply, because real bounces carry ``Auto-Submitted: auto-replied``
   and threading headers (Gmail, Exim, Postfix).
3. auto-reply -- RFC 3834 and vendor headers, null Return-Path, subject patterns.
4. unsubscribe -- mail to an opt-out address (List-Unsubscribe mailto), or a short
   "please remove me" reply.
5. unrelated -- list mail (newsletters) that refers to none of our messages.
6. reply -- everything else, even without threading headers: attribution by sender address
   is the poller's job.

Modules, one concept each: ``verdict`` (Verdict, Decision, Rule, ``sender_candidates``),
``message`` (never-raising parsing, headers, MIME, the ``Inbound`` view rules read),
``text`` (quote/signature stripping, snippets), ``bounce`` (rule 2), ``autoreply`` (rule 3),
``unsubscribe`` (rule 4), ``dates`` (out-of-office return dates), ``rules`` (the chain,
rules 1, 5 and 6, and ``classify``).

Pure: no I/O, no clock. The reference date for an out-of-office's return date is the
``received`` parameter, else the message's own Date header.
"""

from sequencer.classify.dates import find_return_date
from sequencer.classify.message import Inbound, parse_message
from sequencer.classify.rules import RULES, classify
from sequencer.classify.text import snippet, strip_quoted
from sequencer.classify.verdict import Decision, Kind, Rule, Severity, Verdict, sender_candidates

__all__ = [
    "RULES",
    "Decision",
    "Inbound",
    "Kind",
    "Rule",
    "Severity",
    "Verdict",
    "classify",
    "find_return_date",
    "parse_message",
    "sender_candidates",
    "snippet",
    "strip_quoted",
]
