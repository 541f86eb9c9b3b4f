"""Inbound message -> Verdict: is this a reply, an auto-reply, a bounce, an opt-out, or noise?

The poller stops a sequence on a human reply, so the costly mistake is calling a machine's
message a reply (or a reply an out-of-office). Classification is therefore an ordered chain
of small named rules in the style of GNU Mailman: the first rule that fires decides, and the
verdict records which one (``reason``), so a wrong verdict points at one rule and a new
vendor format is one new rule plus one sample in ``tests/samples``.

Order matters and is deliberate:

1. own -- our copies in Sent carry our Message-IDs and must never count as replies.
2. complaint (ARF) and provider notifications (SES, SendGrid, Mailgun, Postmark JSON) -- a
   feedback report is a multipart/report too, and must not be read as a bounce or a reply.
3. bounce -- RFC 3464 per recipient (``dsn``, causes and severity in ``status``), then the
   plain-text notices (``plaintext``): before any auto-reply rule, because real bounces carry
   ``Auto-Submitted: auto-replied``, a null Return-Path and threading headers. A null
   Return-Path alone never makes an auto-reply: bounce evidence is checked first.
   Success reports (delivered/relayed/expanded only) are ``unrelated``; delays are soft.
4. auto-reply -- RFC 3834 and vendor headers, null Return-Path, subject patterns, and
   present-tense "I am away" text (``phrases``) in a message that quotes nothing.
5. unsubscribe -- mail to an opt-out address (List-Unsubscribe mailto), or a short
   "please remove me" reply in any of the languages of ``phrases.OPT_OUT``.
6. unrelated -- list mail (newsletters) that refers to none of our messages.
7. reply -- everything else, even without threading headers: attribution by sender address
   is the poller's job.

Every verdict says which rule decided and on what evidence (``reason``: the header, the
phrase and its language, or the DSN field), the language of the human text (``language``,
py3langid restricted to en de fr es it pt nl sv da no fi pl ja zh), and, for the poller's
trust rule, where each Message-ID was found (``returned_refs`` from the returned message,
``thread_refs`` from In-Reply-To/References).

Modules, one concept each: ``verdict`` (Verdict, RecipientResult, Decision, Rule),
``message`` (never-raising parsing, MIME, the ``Inbound`` view rules read), ``text``
(quote/signature stripping), ``status`` (RFC 3463 codes and diagnostic words -> cause and
severity), ``dsn`` (RFC 3464), ``plaintext`` and ``bounce`` (rule 3), ``complaint`` and
``vendors`` (rule 2), ``autoreply`` (rule 4), ``unsubscribe`` (rule 5), ``phrases`` (the
per-language tables), ``language``, ``dates`` (out-of-office return dates), ``rules`` (the
chain and ``classify``).

Pure: no I/O, no clock. The reference date for an out-of-office's return date is the
``received`` parameter, else the message's own Date header.
"""

from sequencer.classify.dates import find_return_date
from sequencer.classify.language import detect_language
from sequencer.classify.message import Inbound, parse_message
from sequencer.classify.rules import RULES, classify
from sequencer.classify.text import snippet, strip_quoted
from sequencer.classify.verdict import (
    Decision,
    Kind,
    RecipientResult,
    Rule,
    Severity,
    Verdict,
    sender_candidates,
)

__all__ = [
    "RULES",
    "Decision",
    "Inbound",
    "Kind",
    "RecipientResult",
    "Rule",
    "Severity",
    "Verdict",
    "classify",
    "detect_language",
    "find_return_date",
    "parse_message",
    "sender_candidates",
    "snippet",
    "strip_quoted",
]
