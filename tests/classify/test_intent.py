"""Reply intent in English, German, French and Spanish, as replies really arrive.

Each reply carries the touch we sent quoted below it, in the quoting style of a real mail
client (Outlook's header block, Gmail's "On ... wrote:", Apple Mail, Thunderbird), and a
signature. The quoted touch deliberately says "call on Tuesday at 3pm", "in March" and
"not interested?": if quote stripping failed, our own words would decide the intent.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

import pytest

from sequencer.classify import classify
from sequencer.core.periods import resolve

OWN = {"sam@rep.example"}
TOUCH = "<touch.900.1.aa@rep.example>"
OUR_TOUCH = (
    "Hi Pat,\nwould a quick call on Tuesday at 3pm make sense? If the timing is bad, I can "
    "write again in March. Not interested? Just tell me.\nSam"
)
QUOTES = {
    "gmail": "\n\nOn Tue, Dec 1, 2026 at 9:00 AM Sam Rep <sam@rep.example> wrote:\n"
    + "\n".join("> " + line for line in OUR_TOUCH.split("\n")),
    "outlook": "\n\n________________________________\nFrom: Sam Rep <sam@rep.example>\n"
    "Sent: Tuesday, December 1, 2026 9:00 AM\nTo: Pat <p@prospect.example>\n"
    "Subject: Quick question\n\n" + OUR_TOUCH,
    "outlook_de": "\n\nVon: Sam Rep <sam@rep.example>\nGesendet: Dienstag, 1. Dezember 2026 09:00\n"
    "An: Pat <p@prospect.example>\nBetreff: Kurze Frage\n\n" + OUR_TOUCH,
    "apple": "\n\n> On 1 Dec 2026, at 09:00, Sam Rep <sam@rep.example> wrote:\n>\n"
    + "\n".join("> " + line for line in OUR_TOUCH.split("\n")),
    "thunderbird": "\n\nOn 12/1/26 9:00 AM, Sam Rep wrote:\n"
    + "\n".join("> " + line for line in OUR_TOUCH.split("\n")),
    "gmail_fr": "\n\nLe mar. 1 déc. 2026 à 09:00, Sam Rep <sam@rep.example> a écrit :\n"
    + "\n".join("> " + line for line in OUR_TOUCH.split("\n")),
    "gmail_es": "\n\nEl mar, 1 dic 2026 a las 9:00, Sam Rep (<sam@rep.example>) escribió:\n"
    + "\n".join("> " + line for line in OUR_TOUCH.split("\n")),
}
SIGNATURE = "\n\nBest regards\nPat Prospect\nHead of Operations | Prospect GmbH\n+49 30 1234567"
TODAY = date(2026, 12, 3)  # a Thursday


def reply(body: str, quote: str = "gmail", *, cc: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Pat Prospect <p@prospect.example>"
    msg["To"] = "sam@rep.example"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "Re: Quick question"
    msg["Message-ID"] = "<r.1@prospect.example>"
    msg["In-Reply-To"] = TOUCH
    msg["Date"] = "Thu, 03 Dec 2026 10:00:00 +0100"
    msg.set_content(body + SIGNATURE + QUOTES[quote])
    return msg


def intent(body: str, quote: str = "gmail", **kwargs: str):  # type: ignore[no-untyped-def]
    verdict = classify(reply(body, quote, **kwargs), own_addresses=OWN)
    assert verdict.kind == "reply", verdict.reason
    return verdict.intent


NOT_NOW = [
    ("en", "gmail", "Thanks Sam. Not this quarter, we're deep in budget planning. Try me again in March.", date(2027, 3, 1)),
    ("en", "outlook", "Hi Sam, bad timing for us. Let's reconnect after Q1.", date(2027, 4, 1)),
    ("en", "thunderbird", "Not right now, sorry. Circle back next month?", date(2027, 1, 1)),
    ("en", "apple", "We're busy until the release. Reach out again after the 15th.", date(2026, 12, 16)),
    ("de", "outlook_de", "Hallo Herr Rep, im Moment passt es leider nicht. Melden Sie sich gerne im Februar wieder.", date(2027, 2, 1)),
    ("de", "gmail", "Danke für die Nachricht. Derzeit haben wir keinen Bedarf, kommen Sie nach den Sommerferien gerne wieder auf uns zu.", date(2027, 9, 1)),
    ("fr", "gmail_fr", "Bonjour Sam, ce n'est pas le bon moment pour nous. Recontactez-moi en janvier.", date(2027, 1, 1)),
    ("fr", "outlook", "Merci, pas pour le moment. Revenez vers moi après le T1.", date(2027, 4, 1)),
    ("es", "gmail_es", "Gracias Sam, ahora mismo no es buen momento. Escríbame de nuevo en abril.", date(2027, 4, 1)),
    ("es", "outlook", "De momento no, estamos cerrando el año. Contácteme el mes que viene.", date(2027, 1, 1)),
]


@pytest.mark.parametrize(("language", "quote", "body", "on"), NOT_NOW, ids=[f"{x[0]}-{x[1]}" for x in NOT_NOW])
def test_not_now_with_a_period_gives_its_first_business_day(language: str, quote: str, body: str, on: date) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == "not_now", found
    assert found.period is not None
    assert resolve(found.period, TODAY) == on
    assert found.reason.startswith("not now: ")
    assert found.period.text in found.reason  # the evidence names the words


@pytest.mark.parametrize("body", [
    "Not now, sorry.",
    "Im Moment leider nicht.",
    "Pas pour le moment, merci.",
    "Ahora no, gracias.",
])
def test_not_now_without_a_period_names_no_date(body: str) -> None:
    found = intent(body)
    assert found is not None and found.intent == "not_now"
    assert found.period is None


@pytest.mark.parametrize("body", [
    "I was away in March, sorry for the late answer. What does the pricing look like?",
    "Wir waren im März auf der Messe. Was kostet das?",
    "Thanks, got it.",
])
def test_a_past_mention_is_not_not_now(body: str) -> None:
    found = intent(body, "outlook")
    assert found is None or found.intent != "not_now", found.reason


REFERRALS = [
    ("gmail", "I'm not the right person for this. Please talk to Jane Doe (jane.doe@prospect.example) in purchasing.", "Jane Doe", "jane.doe@prospect.example"),
    ("outlook_de", "Dafür bin ich nicht zuständig. Wenden Sie sich bitte an meine Kollegin Anna Schmidt, anna.schmidt@prospect.example.", "Anna Schmidt", "anna.schmidt@prospect.example"),
    ("gmail_fr", "Je ne suis pas la bonne personne. Contactez Marie Dupont : marie.dupont@prospect.example", "Marie Dupont", "marie.dupont@prospect.example"),
    ("gmail_es", "No soy la persona adecuada, hable con Carlos Ruiz (carlos.ruiz@prospect.example).", "Carlos Ruiz", "carlos.ruiz@prospect.example"),
    ("outlook", "Not my area - talk to Jane in purchasing, she handles vendors.", "Jane", None),
]


@pytest.mark.parametrize(("quote", "body", "name", "address"), REFERRALS, ids=[x[1][:20] for x in REFERRALS])
def test_referral_names_the_colleague_and_their_address(quote: str, body: str, name: str, address: str | None) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == "referral", found
    assert (found.referrals[0].name, found.referrals[0].address) == (name, address)
    assert name in found.reason


def test_referral_by_cc_takes_the_copied_colleague() -> None:
    found = intent("I've cc'd my colleague who runs procurement.", cc="Lee Ops <lee@prospect.example>")
    assert found is not None and found.intent == "referral"
    assert [r.address for r in found.referrals] == ["lee@prospect.example"]


SIMPLE = [
    ("wrong_person", "en", "outlook", "Sorry, I'm no longer with the company."),
    ("wrong_person", "de", "outlook_de", "Ich bin dafür leider nicht zuständig."),
    ("wrong_person", "fr", "gmail_fr", "Je ne suis pas la bonne personne pour ce sujet."),
    ("wrong_person", "es", "gmail_es", "No soy la persona adecuada para esto."),
    ("not_interested", "en", "gmail", "Thanks, but we're not interested."),
    ("not_interested", "de", "outlook_de", "Kein Interesse, danke."),
    ("not_interested", "fr", "gmail_fr", "Non merci, ça ne nous intéresse pas."),
    ("not_interested", "es", "gmail_es", "No nos interesa, gracias."),
    ("meeting", "en", "apple", "Sure - can we set up a call Thursday at 10am?"),
    ("meeting", "de", "outlook_de", "Gerne, haben Sie am Donnerstag um 10 Uhr Zeit für ein kurzes Gespräch?"),
    ("meeting", "fr", "gmail_fr", "Avec plaisir, êtes-vous disponible jeudi à 10h ?"),
    ("meeting", "es", "gmail_es", "Claro, ¿le viene bien una llamada el jueves a las 10?"),
    ("interested", "en", "thunderbird", "Sounds interesting, tell me more."),
    ("interested", "de", "outlook_de", "Klingt interessant, ich würde gerne mehr erfahren."),
    ("interested", "fr", "gmail_fr", "Ça m'intéresse, pouvez-vous m'en dire plus ?"),
    ("interested", "es", "gmail_es", "Me interesa, envíeme más información."),
]


@pytest.mark.parametrize(("expected", "language", "quote", "body"), SIMPLE, ids=[f"{x[0]}-{x[1]}" for x in SIMPLE])
def test_each_intent_in_each_language(expected: str, language: str, quote: str, body: str) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == expected, found
    assert found.language == language


def test_a_reply_with_no_readable_intent_has_none_even_when_our_quote_has_one() -> None:
    for quote in QUOTES:
        assert intent("Thanks, got it.", quote) is None, quote


def test_an_opt_out_is_unsubscribe_and_machine_mail_has_no_intent() -> None:
    msg = reply("Please remove me from your mailing list.")
    assert classify(msg, own_addresses=OWN).intent.intent == "unsubscribe"  # type: ignore[union-attr]
    auto = reply("I am out of the office until Monday.")
    auto["Auto-Submitted"] = "auto-replied"
    assert classify(auto, own_addresses=OWN).intent is None


ICS = """BEGIN:VCALENDAR\r
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r
VERSION:2.0\r
METHOD:{method}\r
BEGIN:VEVENT\r
ORGANIZER;CN=Pat Prospect:mailto:p@prospect.example\r
ATTENDEE;CN=Sam Rep;PARTSTAT={partstat};RSVP=TRUE:mailto:sam@rep.example\r
DTSTART;TZID=Europe/Berlin:20261210T100000\r
DTEND;TZID=Europe/Berlin:20261210T103000\r
SUMMARY:Intro call\r
UID:abc-123\r
END:VEVENT\r
END:VCALENDAR\r
"""


def invitation(method: str, partstat: str = "NEEDS-ACTION") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Pat Prospect <p@prospect.example>"
    msg["To"] = "sam@rep.example"
    msg["Subject"] = "Intro call" if method == "REQUEST" else "Accepted: Intro call"
    msg["Message-ID"] = "<inv.1@prospect.example>"
    msg.set_content("Looking forward to it.")
    msg.add_alternative(ICS.format(method=method, partstat=partstat), subtype="calendar",
                        params={"method": method})
    return msg


def test_a_calendar_request_is_a_meeting_with_its_time() -> None:
    verdict = classify(invitation("REQUEST"), own_addresses=OWN)
    assert verdict.kind == "reply", verdict.reason
    assert verdict.intent is not None and verdict.intent.intent == "meeting"
    assert verdict.intent.calendar == "REQUEST"
    assert verdict.intent.meeting_at == "2026-12-10T09:00:00+00:00"


def test_an_accepted_reply_is_a_meeting_a_declined_one_is_not() -> None:
    accepted = classify(invitation("REPLY", "ACCEPTED"), own_addresses=OWN)
    assert accepted.kind == "reply", accepted.reason
    assert accepted.intent is not None and accepted.intent.calendar == "REPLY ACCEPTED"
    declined = classify(invitation("REPLY", "DECLINED"), own_addresses=OWN)
    assert declined.intent is None or declined.intent.intent != "meeting"


def test_cli_json_adds_intent_reengage_on_and_referrals(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from sequencer.cli.base import main

    files = {
        "later.eml": reply("Not this quarter. Try me again in March.", "outlook"),
        "refer.eml": reply("Not my area, talk to Jane Doe (jane.doe@prospect.example).", "gmail"),
        "none.eml": reply("Thanks, got it.", "apple"),
    }
    for name, msg in files.items():
        (tmp_path / name).write_bytes(msg.as_bytes())
    result = CliRunner().invoke(main, ["classify", *(str(tmp_path / n) for n in files), "--json", "--own", "sam@rep.example"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert {"kind", "reason", "return_date", "intent", "reengage_on", "referrals"} <= set(rows[0])
    assert (rows[0]["intent"], rows[0]["reengage_on"], rows[0]["referrals"]) == ("not_now", "2027-03-01", [])
    assert (rows[1]["intent"], rows[1]["referrals"]) == ("referral", ["jane.doe@prospect.example"])
    assert (rows[2]["intent"], rows[2]["reengage_on"], rows[2]["referrals"]) == (None, None, [])
    text = CliRunner().invoke(main, ["classify", str(tmp_path / "later.eml"), "--own", "sam@rep.example"])
    assert "intent:      not_now (not now: en 'Not this quarter', period 'in March')" in text.output
    assert "come back:   2027-03-01" in text.output


@pytest.mark.parametrize("text", [
    "in March " * 20000, "talk to Jane Doe " * 10000, "a" * 200000, "not " * 30000,
    "Try me in " + "Q1 after the 15th " * 8000,
])
def test_hostile_reply_text_is_read_in_bounded_time(text: str) -> None:
    """A 100-200 KB reply of repeated cues must not stall a poll (quadratic look-backs)."""
    import signal

    fired: list[int] = []

    def stuck(*_: object) -> None:
        fired.append(1)  # the rule chain swallows exceptions: record, then break out
        raise TimeoutError("intent reading took over 5 s")

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(5)
    try:
        found = classify(reply(text), own_addresses=OWN)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert not fired, "a hostile reply stalled the intent rules"
    assert found.kind == "reply"


def test_an_html_outlook_reply_is_read_from_its_new_text_only() -> None:
    msg = EmailMessage()
    msg["From"] = "Pat Prospect <p@prospect.example>"
    msg["To"] = "sam@rep.example"
    msg["Subject"] = "AW: Kurze Frage"
    msg["Message-ID"] = "<r.2@prospect.example>"
    msg["In-Reply-To"] = TOUCH
    msg["Date"] = "Thu, 03 Dec 2026 10:00:00 +0100"
    msg.set_content("Derzeit leider nicht. Gerne wieder nach den Sommerferien.")
    msg.add_alternative(
        "<html><body><p>Derzeit leider nicht. Gerne wieder nach den Sommerferien.</p>"
        "<p>Viele Grüße<br>Pat</p><div id=\"divRplyFwdMsg\"><b>Von:</b> Sam Rep<br><b>Gesendet:</b> Dienstag"
        "</div><div>Would a call on Tuesday at 3pm make sense? Not interested? Just tell me.</div></body></html>",
        subtype="html",
    )
    found = classify(msg, own_addresses=OWN).intent
    assert found is not None and found.intent == "not_now"
    assert found.period is not None and resolve(found.period, TODAY) == date(2027, 9, 1)


@pytest.mark.parametrize(("body", "expected"), [
    ("Not interested right now, maybe next year.", "not_now"),
    ("I'm not the right person - talk to Jane, she handles purchasing.", "referral"),
    ("Not interested. We signed with another vendor last March.", "not_interested"),
    ("Happy to talk - does Tuesday at 2pm work for you?", "meeting"),
])
def test_the_rule_order_decides_mixed_replies(body: str, expected: str) -> None:
    found = intent(body, "outlook")
    assert found is not None and found.intent == expected, found
