"""Inbound classification: real-world-shaped samples, then each rule's edges.

The costly mistakes are a machine's message counted as a human reply (a bounce or an
out-of-office stopping a sequence) and a human reply missed; most tests guard one of those.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from sequencer.classify import (
    RULES,
    Verdict,
    classify,
    find_return_date,
    parse_message,
    sender_candidates,
    snippet,
    strip_quoted,
)
from sequencer.cli import main

SAMPLES = Path(__file__).parent / "samples"
OWN = {"sam@rep.example", "sam.rep@gmail.com"}


def load(name: str, **kwargs: object) -> Verdict:
    return classify((SAMPLES / name).read_bytes(), own_addresses=OWN, **kwargs)  # type: ignore[arg-type]


# file, kind, severity, recipients, a ref that must be present (first for bounces), return date
TABLE: list[tuple[str, str, str | None, tuple[str, ...], str | None, date | None]] = [
    # bounces
    ("bounce_postfix_dsn.eml", "bounce", "hard", ("tom.nobody@fabrikam.example",), "<touch.101.1.a8f3@rep.example>", None),
    ("bounce_exim.eml", "bounce", "hard", ("ghost@contoso.example",), "<touch.102.2.77c1@rep.example>", None),
    ("bounce_exchange_ndr.eml", "bounce", "hard", ("nancy.gone@northwind.example",), "<touch.103.1.c0ffee@rep.example>", None),
    ("bounce_gmail.eml", "bounce", "hard", ("ana.inexistente@adventure-works.example",), "<touch.104.1.9e2b@rep.example>", None),
    ("bounce_qmail.eml", "bounce", "hard", ("old.buyer@tailspin.example",), "<touch.105.3.0b7a@rep.example>", None),
    ("bounce_gmail_delay.eml", "bounce", "soft", ("lisa@wingtip.example",), "<touch.106.1.d3la@rep.example>", None),
    ("bounce_mailbox_full.eml", "bounce", "soft", ("kim@litware.example",), "<touch.107.2.f00d@rep.example>", None),
    ("bounce_exim_delay.eml", "bounce", "soft", ("marc@cohowinery.example",), "<touch.108.1.5eed@rep.example>", None),
    # auto-replies
    ("ooo_exchange.eml", "auto_reply", None, (), "<touch.201.1.aa01@rep.example>", date(2026, 3, 13)),
    ("ooo_gmail_vacation.eml", "auto_reply", None, (), "<touch.202.2.bb02@rep.example>", date(2026, 3, 16)),
    ("ooo_zimbra.eml", "auto_reply", None, (), "<touch.203.1.cc03@rep.example>", date(2026, 3, 21)),
    ("ooo_pigeonhole.eml", "auto_reply", None, (), "<touch.204.1.dd04@rep.example>", date(2026, 3, 9)),
    ("ooo_exchange_de.eml", "auto_reply", None, (), "<touch.205.1.ee05@rep.example>", date(2026, 3, 11)),
    ("ooo_fr.eml", "auto_reply", None, (), "<touch.206.1.ff06@rep.example>", date(2026, 3, 9)),
    ("ooo_es.eml", "auto_reply", None, (), "<touch.207.1.ab07@rep.example>", date(2026, 1, 7)),
    ("ooo_subject_only.eml", "auto_reply", None, (), None, date(2026, 3, 9)),
    ("ooo_x_autoreply.eml", "auto_reply", None, (), "<touch.209.1.cd09@rep.example>", date(2026, 3, 12)),
    # human replies
    ("reply_gmail.eml", "reply", None, (), "<touch.301.1.a301@rep.example>", None),
    ("reply_outlook.eml", "reply", None, (), "<touch.302.1.a302@rep.example>", None),
    ("reply_outlook_html_only.eml", "reply", None, (), "<touch.303.1.a303@rep.example>", None),
    ("reply_apple_mail.eml", "reply", None, (), "<touch.304.1.a304@rep.example>", None),
    ("reply_iphone.eml", "reply", None, (), "<touch.304.2.b304@rep.example>", None),
    ("reply_thunderbird.eml", "reply", None, (), "<touch.305.1.a305@rep.example>", None),
    ("reply_no_threading.eml", "reply", None, (), None, None),
    ("reply_long_mentions_remove.eml", "reply", None, (), "<touch.307.1.a307@rep.example>", None),
    ("reply_short_false_positive.eml", "reply", None, (), "<touch.308.1.a308@rep.example>", None),
    # opt-outs
    ("unsubscribe_remove_me.eml", "unsubscribe", None, (), "<touch.401.2.a401@rep.example>", None),
    ("unsubscribe_word.eml", "unsubscribe", None, (), "<touch.402.1.a402@rep.example>", None),
    ("unsubscribe_mailto.eml", "unsubscribe", None, (), None, None),
    ("unsubscribe_de.eml", "unsubscribe", None, (), "<touch.404.1.a404@rep.example>", None),
    # the rest
    ("newsletter.eml", "unrelated", None, (), None, None),
    ("own_sent_copy.eml", "own", None, (), "<touch.201.1.aa01@rep.example>", None),
]


def test_every_sample_is_in_the_table() -> None:
    # real_*/sieve_* (made by real servers) and fmt_* (published formats) have their own tests
    made = ("real_", "fmt_", "sieve_", "wild")
    ours = [p.name for p in SAMPLES.glob("*.eml") if not p.name.startswith(made)]
    assert sorted(ours) == sorted(row[0] for row in TABLE)


@pytest.mark.parametrize(
    ("name", "kind", "severity", "recipients", "ref", "return_date"),
    TABLE,
    ids=[row[0].removesuffix(".eml") for row in TABLE],
)
def test_sample(
    name: str,
    kind: str,
    severity: str | None,
    recipients: tuple[str, ...],
    ref: str | None,
    return_date: date | None,
) -> None:
    verdict = load(name)
    assert (verdict.kind, verdict.severity, verdict.recipients) == (kind, severity, recipients), verdict.reason
    if ref is not None:
        assert ref in verdict.refs
        if kind == "bounce":  # the bounced touch itself leads: attribution tries refs in order
            assert verdict.refs[0] == ref
    if kind not in ("bounce", "own", "unrelated"):
        assert verdict.snippet
    assert verdict.return_date == return_date
    assert verdict.reason.startswith(verdict.rule)


# --- samples: the details the poller and the rep see ------------------------------------------


def test_bounce_with_auto_submitted_and_in_reply_to_is_still_a_bounce() -> None:
    verdict = load("bounce_gmail.eml")
    assert verdict.kind == "bounce"
    assert verdict.rule == "delivery status report"


def test_exchange_out_of_office_despite_x_auto_response_suppress() -> None:
    assert load("ooo_exchange.eml").reason == "auto-submitted header: auto-generated"


def test_bounce_refs_include_the_whole_thread_of_the_returned_touch() -> None:
    verdict = load("bounce_qmail.eml")
    assert verdict.refs == (
        "<touch.105.3.0b7a@rep.example>",
        "<touch.105.2.44f0@rep.example>",
        "<touch.105.1.ab12@rep.example>",
    )


def test_reply_refs_put_in_reply_to_first_then_references_newest_first() -> None:
    assert load("unsubscribe_remove_me.eml").refs == (
        "<touch.401.2.a401@rep.example>",
        "<touch.401.1.z401@rep.example>",
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("reply_gmail.eml", "Hi Sam, Thanks for the quote. Could we do a quick call on Thursday to go through the volume discount? Best, Jane"),
        ("reply_outlook.eml", "Hi Sam, Yes, please send the updated quote with 500 seats. We would like to start in April. Regards, Tom"),
        ("reply_outlook_html_only.eml", "Hallo Herr Rep, danke für das Angebot – wir möchten gern mit 20 Lizenzen starten. Viele Grüße Lena Schmidt"),
        ("reply_apple_mail.eml", "Sounds good. Let's start the pilot next week, I'll loop in our IT lead. Chris"),
        ("reply_iphone.eml", "Yes, Thursday 2pm works."),
        ("reply_thunderbird.eml", "Hi Sam, we reviewed the onboarding plan internally. Two questions: can SSO be set up in week one, and is the data export included? Cheers, Ravi"),
        ("unsubscribe_word.eml", "UNSUBSCRIBE"),
        ("unsubscribe_de.eml", "Bitte nehmen Sie mich aus Ihrem Verteiler. Mit freundlichen Grüßen Jonas Weber"),
    ],
)
def test_snippet_is_only_what_the_sender_wrote(name: str, expected: str) -> None:
    assert load(name).snippet == expected


def test_verdict_carries_sender_subject_and_message_id() -> None:
    verdict = load("ooo_zimbra.eml")
    assert verdict.from_addr == "amelie.durand@coho.example"
    assert verdict.from_domain == "coho.example"
    assert verdict.subject == "Absente du bureau"
    assert verdict.message_id == "<1139274853.41.1772457663123.JavaMail.zimbra@coho.example>"


def test_own_address_matches_case_insensitively() -> None:
    assert load("own_sent_copy.eml").kind == "own"
    assert load("own_sent_copy.eml").from_addr == "sam@rep.example"


def test_without_own_addresses_our_sent_copy_would_look_like_a_reply() -> None:
    raw = (SAMPLES / "own_sent_copy.eml").read_bytes()
    assert classify(raw, own_addresses=set()).kind == "reply"


def test_unsubscribe_mailto_hit_returns_the_token() -> None:
    verdict = load("unsubscribe_mailto.eml")
    assert (verdict.rule, verdict.token) == ("unsubscribe address", "e1f3a9c27b")


def test_quoted_opt_out_words_in_an_html_reply_do_not_count() -> None:
    # the quoted touch in reply_outlook_html_only.eml says "Bitte abmelden"
    assert load("reply_outlook_html_only.eml").kind == "reply"


def test_received_date_overrides_the_date_header_for_year_inference() -> None:
    assert load("ooo_es.eml").return_date == date(2026, 1, 7)  # Date: 22 Dec 2025
    assert load("ooo_es.eml", received=date(2026, 12, 20)).return_date == date(2027, 1, 7)


def test_accepts_a_parsed_message_as_well_as_bytes() -> None:
    raw = (SAMPLES / "bounce_postfix_dsn.eml").read_bytes()
    assert classify(parse_message(raw), own_addresses=OWN) == classify(raw, own_addresses=OWN)


# --- building messages for rule edges ---------------------------------------------------------


def message(
    body: str = "Thanks, sounds good.",
    subject: str = "Re: Quote 4711",
    sender: str = "Jane <jane@fabrikam.example>",
    refs: bool = True,
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "sam@rep.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<m1@fabrikam.example>"
    if refs:
        msg["In-Reply-To"] = "<sq.t1@rep.example>"
        msg["References"] = "<sq.t1@rep.example>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def verdict_of(msg: EmailMessage | bytes, **kwargs: object) -> Verdict:
    return classify(msg, own_addresses={"sam@rep.example"}, **kwargs)  # type: ignore[arg-type]


def test_a_plain_reply_is_a_reply() -> None:
    verdict = verdict_of(message())
    assert (verdict.kind, verdict.reason) == ("reply", "human reply: in thread")


def test_a_reply_without_threading_headers_is_still_a_reply() -> None:
    verdict = verdict_of(message(refs=False))
    assert (verdict.kind, verdict.refs) == ("reply", ())


def test_own_beats_every_other_rule() -> None:
    msg = message(sender="Sam <SAM@rep.example>", Auto_Submitted="auto-replied")
    assert verdict_of(msg).kind == "own"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "auto-submitted header: auto-replied"),
        ({"Auto-Submitted": "auto-generated"}, "auto-submitted header: auto-generated"),
        ({"Auto-Submitted": "auto-notified; owner-email=x@y"}, "auto-submitted header: auto-notified; owner-email=x@y"),
        ({"X-Autoreply": "yes"}, "autoreply header: x-autoreply: yes"),
        ({"X-Autorespond": "Out of office"}, "autoreply header: x-autorespond: Out of office"),
        ({"X-POST-MessageClass": "9; Autoresponder"}, "autoreply header: x-post-messageclass: autoresponder"),
        ({"Precedence": "auto_reply"}, "precedence header: auto_reply"),
        ({"Precedence": "junk"}, "precedence header: junk"),
        ({"Return-Path": "<>"}, "null return path: Return-Path: <>"),
        ({"X-MS-Exchange-Inbox-Rules-Loop": "jane@fabrikam.example"}, "exchange inbox rule: rule of jane@fabrikam.example"),
    ],
)
def test_auto_reply_headers(headers: dict[str, str], reason: str) -> None:
    msg = message()
    for name, value in headers.items():
        msg[name] = value
    verdict = verdict_of(msg)
    assert (verdict.kind, verdict.reason) == ("auto_reply", reason)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("X-Auto-Response-Suppress", "All"),  # Outlook sets it on human mail: not a sign
        ("Auto-Submitted", "no"),
        ("X-MS-Exchange-Inbox-Rules-Loop", "assistant@fabrikam.example"),  # someone else's rule
        ("Precedence", "bulk"),  # in a thread: a reply that went through a list or gateway
        ("List-Id", "<sales.fabrikam.example>"),
    ],
)
def test_headers_that_do_not_make_a_reply_automatic(name: str, value: str) -> None:
    msg = message()
    msg[name] = value
    assert verdict_of(msg).kind == "reply"


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Quote 4711",
        "Out of Office: Quote 4711",
        "Out of office",
        "Autoreply: Quote 4711",
        "Auto-Reply: Re: Quote 4711",
        "Auto: Quote 4711",
        "Abwesenheitsnotiz: Angebot",
        "Automatische Antwort: Angebot",
        "Réponse automatique : Devis",
        "Absence du bureau",
        "Respuesta automática: Presupuesto",
        "Fuera de la oficina",
        "Risposta automatica: Preventivo",
        "Afwezig: Offerte",
        "[Auto-Reply] Quote 4711",
    ],
)
def test_auto_reply_subjects(subject: str) -> None:
    verdict = verdict_of(message(subject=subject))
    assert (verdict.kind, verdict.rule) == ("auto_reply", "auto-reply subject")


@pytest.mark.parametrize(
    "subject", ["Re: Out of office furniture quote", "Re: Automatic reply settings", "Autobahn toll quote"]
)
def test_subject_patterns_are_anchored_so_human_replies_stay_replies(subject: str) -> None:
    assert verdict_of(message(subject=subject)).kind == "reply"


# --- bounces ---


def dsn(*blocks: str, subject: str = "Undelivered Mail Returned to Sender") -> bytes:
    per_recipient = "\n\n".join(blocks)
    return f"""From: MAILER-DAEMON@mail.rep.example (Mail Delivery System)
To: sam@rep.example
Subject: {subject}
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Delivery report.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.rep.example

{per_recipient}

--B
Content-Type: text/rfc822-headers

Message-ID: <sq.t9@rep.example>
To: someone@example.org

--B--
""".encode()


def block(recipient: str, action: str, status: str = "", diagnostic: str = "") -> str:
    lines = [f"Final-Recipient: rfc822; {recipient}", f"Action: {action}"]
    lines += [f"Status: {status}"] if status else []
    lines += [f"Diagnostic-Code: smtp; {diagnostic}"] if diagnostic else []
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "severity"),
    [
        ("failed", "5.1.1", "550 5.1.1 user unknown", "hard"),
        ("failed", "5.7.1", "550 5.7.1 rejected by policy", "soft"),  # the address is fine
        ("failed", "5.7.1", "554 5.7.1 Client host blocked using zen.spamhaus.org", "soft"),
        ("failed", "4.7.1", "451 4.7.1 Greylisted, please try again later", "soft"),
        ("failed", "5.1.2", "550 5.1.2 Host or domain name not found", "hard"),
        ("failed", "5.0.0", "550 Requested action not taken: mailbox unavailable", "hard"),
        ("delayed", "5.1.1", "550 5.1.1 user unknown", "soft"),  # a delay is never hard
        ("failed", "5.2.2", "552 5.2.2 mailbox full", "soft"),
        ("failed", "5.0.0", "552 Requested action aborted: mailbox over quota", "soft"),
        ("failed", "4.4.7", "delivery time expired", "soft"),
        ("delayed", "4.4.1", "connection timed out", "soft"),
        ("failed", "", "550 5.1.1 user unknown", "hard"),
        ("failed", "", "452 4.2.2 inbox out of storage space", "soft"),
        ("error", "5.1.1", "", "hard"),  # OpenSMTPD's non-standard action
    ],
)
def test_dsn_severity(action: str, status: str, diagnostic: str, severity: str) -> None:
    verdict = verdict_of(dsn(block("x@example.org", action, status, diagnostic)))
    assert (verdict.kind, verdict.severity, verdict.recipients) == ("bounce", severity, ("x@example.org",))


def test_a_mixed_report_is_hard_and_names_only_the_hard_recipients() -> None:
    raw = dsn(block("full@example.org", "failed", "5.2.2"), block("gone@example.org", "failed", "5.1.1"))
    verdict = verdict_of(raw)
    assert (verdict.severity, verdict.recipients) == ("hard", ("gone@example.org",))


def test_original_recipient_is_preferred_over_the_rewritten_final_recipient() -> None:
    raw = dsn("Original-Recipient: rfc822; Sales@Example.org\n" + block("alias.target@internal.example.org", "failed", "5.1.1"))
    assert verdict_of(raw).recipients == ("sales@example.org",)


def test_a_delivery_receipt_is_unrelated_not_a_bounce() -> None:
    verdict = verdict_of(dsn(block("x@example.org", "delivered", "2.0.0"), subject="Delivery Status Notification (Success)"))
    assert verdict.kind == "unrelated"


def test_bounce_refs_come_from_the_returned_headers() -> None:
    assert verdict_of(dsn(block("x@example.org", "failed", "5.1.1"))).refs == ("<sq.t9@rep.example>",)


def test_a_postmaster_writing_by_hand_is_not_a_bounce() -> None:
    msg = message(sender="Postmaster <postmaster@fabrikam.example>", body="Hi, which address should I whitelist?")
    assert verdict_of(msg).kind == "reply"


def test_daemon_failure_subject_without_parsable_recipient_falls_back_to_returned_to() -> None:
    raw = b"""From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: sam@rep.example
Subject: Undeliverable: Quote 4711

Your message could not be delivered. 550 Mailbox unavailable.

------ Original message follows ------
To: Jane <jane@fabrikam.example>
Message-ID: <sq.t5@rep.example>
Subject: Quote 4711
"""
    verdict = verdict_of(raw)
    assert (verdict.kind, verdict.severity) == ("bounce", "hard")
    assert verdict.recipients == ("jane@fabrikam.example",)
    assert verdict.refs == ("<sq.t5@rep.example>",)


def test_ip_addresses_in_the_pasted_original_are_not_status_codes() -> None:
    # bounce_postfix_dsn.eml's returned copy has "Received: from [10.4.3.21]"; the Exim one too
    assert load("bounce_exim.eml").severity == "hard"


# --- opt-outs ---


@pytest.mark.parametrize(
    "body",
    [
        "unsubscribe",
        "Unsubscribe me please",
        "STOP",
        "Remove",
        "Please remove me from your list.",
        "Take me off your mailing list",
        "Please stop emailing me.",
        "Stop sending me these emails",
        "Please don't contact me again.",
        "Do not email me.",
        "I'd like to opt out, thanks",
        "Please remove my email address from your database",
        "I no longer wish to receive these emails",
        "Bitte abmelden.",
        "Bitte keine weiteren E-Mails.",
        "Merci de me désabonner.",
        "Merci de ne plus me contacter.",
        "Por favor, darme de baja.",
        "No me contacten más, gracias.",
        "How do I unsubscribe?",
        "Unsubscribe me from this list, please.",
        "Unsubscribe from all of these, thanks.",
    ],
)
def test_short_opt_out_replies(body: str) -> None:
    verdict = verdict_of(message(body=body))
    assert (verdict.kind, verdict.rule) == ("unsubscribe", "unsubscribe request"), body


@pytest.mark.parametrize(
    "body",
    [
        "I can't remove the old vendor until April, let's talk then.",
        "Can you remove my colleague from the cc and send the quote?",
        "Don't email me the contract, just send it via DocuSign.",
        "Don't email me, call me at 555-0100.",
        "I'm not going to unsubscribe, but please slow down :)",
        "Stop by our booth at the trade fair!",
        "Please remove the discount line and resend.",
        "We need to get the old system off the list of approved tools first.",
        "Ich habe keine E-Mails mit dem Angebot bekommen.",
        "Not interested right now, maybe next quarter.",
        # A question about the word, not a request: the writer wants the quote.
        "Unsubscribe from what? I never signed up for anything. But yes, send me the quote.",
        "Unsubscribe from which list? I only spoke to your colleague. Happy to see the pricing.",
    ],
)
def test_short_replies_that_only_look_like_opt_outs(body: str) -> None:
    assert verdict_of(message(body=body)).kind == "reply", body


def test_a_long_reply_mentioning_unsubscribe_is_a_reply() -> None:
    body = (
        "Hi Sam, thanks for the follow-up. We looked at the proposal with the team and we like it. "
        "One thing: our current tool makes it hard for customers to unsubscribe, and yours seems to "
        "handle that well. Can you show us how the unsubscribe flow works on a call next week? "
        "Tuesday or Wednesday afternoon would suit us best."
    )
    assert verdict_of(message(body=body)).kind == "reply"


def test_opt_out_words_only_in_the_quoted_touch_do_not_count() -> None:
    body = "Sounds good, send it over.\n\nOn Mon, Mar 2, 2026 at 10:04 AM Sam wrote:\n> Reply 'remove me' to opt out."
    assert verdict_of(message(body=body)).kind == "reply"


@pytest.mark.parametrize(
    ("to", "unsubscribe_addresses", "token"),
    [
        ("optout@rep.example", {"optout@rep.example"}, None),
        ("optout+abc123@rep.example", {"optout@rep.example"}, "abc123"),
        ("unsubscribe+abc123@rep.example", set(), "abc123"),  # at one of our own domains
        ("sam+unsubscribe-abc123@rep.example", set(), "abc123"),
    ],
)
def test_mail_to_an_opt_out_address(to: str, unsubscribe_addresses: set[str], token: str | None) -> None:
    msg = message(refs=False, subject="hello")
    msg.replace_header("To", to)
    verdict = verdict_of(msg, unsubscribe_addresses=unsubscribe_addresses)
    assert (verdict.kind, verdict.rule, verdict.token) == ("unsubscribe", "unsubscribe address", token)


def test_unsubscribe_plus_address_at_a_foreign_domain_is_not_ours() -> None:
    msg = message(subject="hello")
    msg.replace_header("To", "unsubscribe+abc@newsletter.example")
    assert verdict_of(msg).kind == "reply"


def test_a_newsletter_saying_unsubscribe_is_unrelated_not_an_opt_out() -> None:
    msg = message(refs=False, body="Big news!\nUnsubscribe: https://x.example/u", subject="News")
    msg["List-Unsubscribe"] = "<https://x.example/u>"
    assert verdict_of(msg).kind == "unrelated"


# --- return dates ---

REF = date(2026, 3, 2)  # a Monday


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("I'll be back on 3 March.", REF, date(2026, 3, 3)),
        ("back on 3rd March", REF, date(2026, 3, 3)),
        ("returning Monday, March 9", REF, date(2026, 3, 9)),
        ("I am out of the office until 12/03/2026.", REF, date(2026, 3, 12)),
        ("out until 2026-03-12", None, date(2026, 3, 12)),
        ("out through March 6", REF, date(2026, 3, 7)),
        ("I'm out of the office from March 2 to March 6.", REF, date(2026, 3, 6)),
        ("I'm back Monday.", REF, date(2026, 3, 9)),  # a bare weekday is the next one
        ("I'm back on Wednesday", REF, date(2026, 3, 4)),
        ("Ich bin am 3. März zurück. Zurück am 3. März", REF, date(2026, 3, 3)),
        ("zurück am 3. März", REF, date(2026, 3, 3)),
        ("Ab Montag, 9. März 2026 bin ich wieder im Büro.", REF, date(2026, 3, 9)),
        ("Ich bin ab 2. März im Urlaub.", REF, None),  # "ab" starts the absence here
        ("Ich bin vom 2. bis 6. März im Urlaub.", REF, date(2026, 3, 6)),
        ("bis einschließlich 06.03.2026 abwesend", REF, date(2026, 3, 7)),
        ("de retour le 3 mars", REF, date(2026, 3, 3)),
        ("Je serai absent du 2 au 6 mars.", REF, date(2026, 3, 6)),
        ("absente jusqu’au 1er avril", REF, date(2026, 4, 1)),
        ("volveré el 3 de marzo", REF, date(2026, 3, 3)),
        ("Estaré fuera del 2 al 6 de marzo.", REF, date(2026, 3, 6)),
        ("hasta el lunes 9 de marzo de 2026", REF, date(2026, 3, 9)),
        ("back on 5 January", date(2025, 12, 20), date(2026, 1, 5)),  # year rolls over
        ("back on 3 March", None, None),  # no year and nothing to infer it from
        ("back Monday", None, None),
        ("away until 03/04/2026", REF, None),  # 3 April or March 4: too close to call
        ("back on 3 March 2031", REF, None),  # implausibly far: probably not a return date
        ("I'll get back to you as soon as possible.", REF, None),
        ("Thanks for your message.", REF, None),
    ],
)
def test_return_date(text: str, reference: date | None, expected: date | None) -> None:
    assert find_return_date(text, reference) == expected


def test_return_date_is_only_read_from_auto_replies() -> None:
    msg = message(body="Great, I'm back on 16 March, let's talk then.", Date="Mon, 2 Mar 2026 10:00:00 +0000")
    assert verdict_of(msg).return_date is None
    msg["Auto-Submitted"] = "auto-replied"
    assert verdict_of(msg).return_date == date(2026, 3, 16)


# --- text helpers ---


def test_strip_quoted_cuts_outlook_blocks_in_german() -> None:
    text = "Passt, danke.\n\nVon: Sam Rep <sam@rep.example>\nGesendet: Montag, 2. März 2026 10:04\nAn: x\n\nAlt"
    assert strip_quoted(text) == "Passt, danke."


def test_strip_quoted_handles_a_wrapped_gmail_attribution() -> None:
    text = "Yes!\n\nOn Mon, Mar 2, 2026 at 10:04 AM Sam Rep <\nsam@rep.example> wrote:\n\n> old"
    assert strip_quoted(text) == "Yes!"


def test_strip_quoted_cuts_original_message_separator_and_signature() -> None:
    assert strip_quoted("Ok.\n-----Original Message-----\nFrom: a") == "Ok."
    assert strip_quoted("Ok.\n-- \nJane Doe\nCEO") == "Ok."


def test_snippet_is_collapsed_and_capped() -> None:
    long = "word " * 200
    cut = snippet(long)
    assert len(cut) <= 301 and cut.endswith("…") and "  " not in cut
    assert snippet("a\n\n b\t c") == "a b c"


# --- robustness ---


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe garbage without headers",
        b"From: <<<>>>\nMessage-ID: <<broken\nReferences: ((( <a@b\nSubject: =?utf-8?q?broken\n\nbody",
        b"From: j\xe9r\xf4me@example.org\nSubject: \xff\xfe\nContent-Type: multipart/mixed\n\nno boundary",
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=X\n\n--X\nContent-Type: message/delivery-status\n\nAction: failed\n",
        b"From: a@b\nContent-Type: text/plain; charset=klingon-8\nContent-Transfer-Encoding: base64\n\n!!!notbase64",
    ],
)
def test_broken_mail_never_raises(raw: bytes) -> None:
    verdict = verdict_of(raw)
    assert verdict.kind in ("reply", "bounce", "auto_reply", "unrelated")
    json.dumps({"s": verdict.subject, "f": verdict.from_addr, "n": verdict.snippet})  # printable


def test_in_reply_to_without_angle_brackets_is_still_a_ref() -> None:
    msg = message(refs=False)
    msg["In-Reply-To"] = "sq.t1@rep.example"
    assert verdict_of(msg).refs == ("<sq.t1@rep.example>",)


def test_verdict_is_immutable() -> None:
    with pytest.raises(FrozenInstanceError):
        verdict_of(message()).kind = "bounce"  # type: ignore[misc]


def test_rules_have_unique_names_and_say_why() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))
    assert all(rule.description for rule in RULES)
    assert names[0] == "own address" and names[-1] == "human reply"


# --- sender candidates ---


def test_sender_candidates() -> None:
    assert sender_candidates(load("bounce_gmail.eml")) == ["ana.inexistente@adventure-works.example"]
    assert sender_candidates(load("own_sent_copy.eml")) == []
    assert sender_candidates(load("newsletter.eml")) == []
    msg = message(sender="Jane <jane@shared.example>")
    msg["Reply-To"] = "Jane Personal <Jane@fabrikam.example>"
    assert sender_candidates(verdict_of(msg)) == ["jane@shared.example", "jane@fabrikam.example"]


# --- CLI ---


def test_cli_prints_kind_severity_recipients_refs_and_reason() -> None:
    result = CliRunner().invoke(main, ["classify", str(SAMPLES / "bounce_gmail.eml"), "--own", "sam.rep@gmail.com"])
    assert result.exit_code == 0, result.output
    assert "bounce (hard)" in result.output
    assert "ana.inexistente@adventure-works.example" in result.output
    assert "<touch.104.1.9e2b@rep.example>" in result.output
    assert "reason:      delivery status report" in result.output


def test_cli_json() -> None:
    files = [str(SAMPLES / "ooo_zimbra.eml"), str(SAMPLES / "own_sent_copy.eml")]
    result = CliRunner().invoke(main, ["classify", *files, "--json", "--own", "sam@rep.example"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {"kind", "severity", "recipients", "refs", "reason", "file", "return_date"} <= set(rows[0])
    assert (rows[0]["kind"], rows[0]["severity"], rows[0]["return_date"]) == ("auto_reply", None, "2026-03-21")
    assert rows[1]["kind"] == "own"


def test_cli_unreadable_file_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(main, ["classify", "does-not-exist.eml", str(SAMPLES / "bounce_gmail.eml")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: does-not-exist.eml: cannot read (No such file or directory)"]
