"""Opt-outs and out-of-office notes in the languages sales teams meet, and the language each
verdict reports.

A French "Merci de me retirer de votre liste de diffusion" must unsubscribe like an English
"please remove me"; a Polish out-of-office must not stop a sequence; and a person who
writes "I was out of office last week" is still a person replying.
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from sequencer.classify import classify
from sequencer.classify.language import detect_language

OWN = {"sam@rep.example"}
TOUCH = "<touch.900.1.aa@rep.example>"


def reply(body: str, subject: str = "Re: Quick question", *, quote: bool = True) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Prospect <p@prospect.example>"
    msg["To"] = "sam@rep.example"
    msg["Subject"] = subject
    msg["Message-ID"] = "<r.1@prospect.example>"
    msg["In-Reply-To"] = TOUCH
    quoted = "\n\nOn Tue, Mar 10, 2026 at 9:00 AM Sam Rep <sam@rep.example> wrote:\n> Hi, would a call make sense?\n"
    msg.set_content(body + (quoted if quote else "\n"))
    return msg


OPT_OUTS = [
    ("en", "Please remove me from your mailing list."),
    ("de", "Bitte entfernen Sie mich aus Ihrem Verteiler."),
    ("fr", "Merci de me retirer de votre liste de diffusion"),
    ("es", "Por favor, eliminarme de su lista de correo."),
    ("it", "Vi prego di cancellarmi, non voglio più ricevere queste email."),
    ("pt", "Por favor, remova-me da sua lista de e-mails."),
    ("nl", "Haal mij alstublieft van uw mailinglijst af."),
    ("sv", "Ta bort mig från er lista, tack."),
    ("da", "Fjern mig venligst fra jeres liste."),
    ("no", "Vennligst fjern meg fra listen deres."),
    ("fi", "Poistakaa minut postituslistaltanne, kiitos."),
    ("pl", "Proszę o usunięcie mojego adresu z listy mailingowej."),
    ("ja", "今後このようなメールは不要です。配信停止をお願いします。"),
    ("zh", "请把我从你们的邮件列表中删除，不要再发邮件给我。"),
]


# Second wordings per language: how people actually phrase it when the first form is not the one
# they reach for (polite infinitives, "my address" as the object, "no more" constructions).
OPT_OUTS += [
    ("it", "Vi prego di cancellarmi dalla vostra mailing list."),
    ("it", "Per favore eliminatemi dalla vostra lista."),
    ("pt", "Por favor, remova o meu e-mail da vossa lista."),
    ("pt", "Retirem o meu endereço da lista, obrigado."),
    ("fr", "Merci de ne plus m'envoyer de messages."),
    ("nl", "Graag mijn e-mailadres uit uw bestand verwijderen."),
    ("pl", "Proszę usunąć mój adres z listy."),
    ("pl", "Proszę o wypisanie z listy mailingowej."),
    ("da", "Jeg ønsker ikke at modtage flere mails."),
    ("no", "Jeg ønsker ikke å motta flere e-poster fra dere."),
    ("sv", "Jag önskar inte få fler utskick från er."),
    ("zh", "请停止给我发送邮件"),
    ("zh", "我不想再收到你们的邮件。"),
]


@pytest.mark.parametrize(("language", "body"), OPT_OUTS, ids=[lang for lang, _ in OPT_OUTS])
def test_opt_out_in_every_language(language: str, body: str) -> None:
    verdict = classify(reply(body), own_addresses=OWN)
    assert verdict.kind == "unsubscribe", verdict.reason
    assert verdict.language == language
    assert verdict.reason.startswith("unsubscribe request: ")


OUT_OF_OFFICE = [
    (
        "en",
        "Thank you for your email. I am currently out of the office until March 16 with limited access to email.",
    ),
    (
        "de",
        "Vielen Dank für Ihre Nachricht. Ich bin bis zum 16.03. nicht im Büro und habe keinen Zugriff auf meine E-Mails.",
    ),
    (
        "fr",
        "Merci pour votre message. Je suis absente jusqu'au 16 mars. En cas d'urgence, contactez mon équipe.",
    ),
    ("es", "Gracias por su correo. Estoy fuera de la oficina hasta el 16 de marzo."),
    ("it", "Grazie per la sua email. Sono fuori ufficio fino al 16 marzo, rientrerò il 17."),
    ("pt", "Obrigado pelo seu e-mail. Estou de férias até 16 de março e retornarei no dia 17."),
    (
        "nl",
        "Bedankt voor uw bericht. Ik ben afwezig tot en met 16 maart en ben daarna weer bereikbaar.",
    ),
    (
        "sv",
        "Tack för ditt mejl. Jag är på semester till och med den 16 mars och har begränsad tillgång till e-post.",
    ),
    ("da", "Tak for din mail. Jeg er på ferie indtil den 16. marts og læser ikke mails."),
    ("no", "Takk for e-posten din. Jeg er på ferie til 16. mars og leser ikke e-post."),
    ("fi", "Kiitos viestistäsi. Olen lomalla 16.3. asti ja palaan toimistolle 17.3."),
    ("pl", "Dziękuję za wiadomość. Jestem na urlopie do 16 marca, wracam 17 marca."),
    ("ja", "ご連絡ありがとうございます。3月16日まで休暇をいただいており不在にしております。"),
    ("zh", "感谢您的来信。我目前在休假，不在办公室，将于3月16日返回。"),
]


# Second wordings: the reflexive "I find myself" forms (de/es/pt/pl) and the leave and travel words.
OUT_OF_OFFICE += [
    ("en", "Please note I am currently on parental leave. Your email will not be forwarded."),
    ("de", "Ich befinde mich bis einschließlich 8. Dezember nicht im Büro."),
    ("es", "Me encuentro fuera de la oficina hasta el lunes 14 de diciembre."),
    ("pt", "Encontro-me ausente do escritório até dia 14 de dezembro."),
    ("nl", "Ik ben met vakantie tot en met 4 januari. Uw e-mail wordt niet doorgestuurd."),
    ("pl", "Przebywam na urlopie do 4 stycznia. W pilnych sprawach proszę kontaktować się z biurem."),
]


@pytest.mark.parametrize(
    ("language", "body"), OUT_OF_OFFICE, ids=[lang for lang, _ in OUT_OF_OFFICE]
)
def test_out_of_office_in_every_language_without_any_header(language: str, body: str) -> None:
    """No Auto-Submitted, no telling subject: only the words say it is a responder."""
    verdict = classify(reply(body, subject="Re: Quick question", quote=False), own_addresses=OWN)
    assert verdict.kind == "auto_reply", verdict.reason
    assert verdict.language == language
    assert verdict.reason.startswith("out-of-office text: ")


@pytest.mark.parametrize(
    "subject",
    [
        "Automatische Antwort: Quick question",
        "Réponse automatique : Quick question",
        "Risposta automatica: Quick question",
        "Automatisch antwoord: Quick question",
        "Automatiskt svar: Quick question",
        "Automaattinen vastaus: Quick question",
        "Odpowiedź automatyczna: Quick question",
        "自動返信: Quick question",
        "自动回复: Quick question",
    ],
)
def test_localized_responder_subjects(subject: str) -> None:
    verdict = classify(reply("Thanks.", subject=subject, quote=False), own_addresses=OWN)
    assert verdict.kind == "auto_reply", verdict.reason


@pytest.mark.parametrize(
    "body",
    [
        "I was out of office last week, sorry for the delay. Yes, let's talk on Thursday.",
        "Sorry, I was on vacation. Sounds interesting, can you send the pricing?",
        "Ich war letzte Woche im Urlaub. Gerne können wir am Donnerstag sprechen.",
        "J'étais en congés la semaine dernière. Oui, parlons-en jeudi.",
        "I'll be out of the office next week, so could we do a call tomorrow instead?",
        "Ich befand mich letzte Woche auf Dienstreise. Passt Ihnen Donnerstag?",
        "Me encontraba de vacaciones, perdón. ¿Hablamos el jueves?",
        "I was on parental leave until November. Happy to talk now, how about Thursday?",
    ],
)
def test_human_replies_that_mention_being_away_are_replies(body: str) -> None:
    assert classify(reply(body), own_addresses=OWN).kind == "reply"


@pytest.mark.parametrize(
    "body",
    [
        "We removed the old vendor last month, so the timing is good. Call on Tuesday?",
        "Nous avons retiré l'ancien fournisseur. Appelons-nous mardi ?",
        "Can you remove the setup fee from the quote? Then we can sign.",
        "Por favor retire o meu nome da proposta final.",  # pt: my name off the proposal
        "Proszę usunąć moje zamówienie z systemu i wystawić nowe.",  # pl: delete my order
        "Non inviarmi più il listino vecchio, mandami quello nuovo.",  # it: not the old price list
        "Merci de ne plus m'écrire à cette adresse mais à jean@new.example.",  # fr: a new address
        "Kunt u mijn oude adres uit de offerte verwijderen? Het nieuwe staat hieronder.",  # nl
    ],
)
def test_replies_that_only_look_like_opt_outs_are_replies(body: str) -> None:
    assert classify(reply(body), own_addresses=OWN).kind == "reply"


def test_language_is_none_for_too_little_text() -> None:
    assert detect_language("ok") is None
    assert detect_language("👍") is None


def test_language_of_a_reply_is_reported() -> None:
    verdict = classify(
        reply("Ja, das klingt gut. Können wir am Donnerstag telefonieren?"), own_addresses=OWN
    )
    assert (verdict.kind, verdict.language) == ("reply", "de")


@pytest.mark.parametrize(
    "body",
    [
        "Muszę jeszcze wypisać fakturę, odezwę się jutro.",  # pl: write out an invoice
        "Wir müssen den Wettbewerb noch austragen, dann melde ich mich.",  # de: hold a contest
        "Ik moet me morgen afmelden bij de receptie, daarna bel ik je.",  # nl: sign out at desk
    ],
)
def test_everyday_verbs_that_resemble_opt_outs_are_replies(body: str) -> None:
    assert classify(reply(body), own_addresses=OWN).kind == "reply"


@pytest.mark.parametrize(
    "body",
    [
        "Thanks, Tuesday works.\n\nIf you no longer wish to receive emails from Acme, unsubscribe here.",
        "Sounds good.\nAcme Corp | You can unsubscribe from our newsletter at any time.",
        "Gerne. Wenn Sie keine weiteren E-Mails erhalten möchten, abmelden hier.",
    ],
)
def test_an_opt_out_offer_in_a_signature_is_not_an_opt_out(body: str) -> None:
    assert classify(reply(body), own_addresses=OWN).kind == "reply"


@pytest.mark.parametrize(
    ("body", "typed"),
    [
        (
            "Ja, gärna!\n\nDen tis 10 mars 2026 kl 09:00 skrev Sam Rep <sam@rep.example>:\n> Reply stop to opt out",
            "Ja, gärna!",
        ),
        (
            "Sim, claro.\n\nEm ter., 10 de mar. de 2026 às 09:00, Sam Rep <sam@rep.example> escreveu:\n> hi",
            "Sim, claro.",
        ),
        (
            "Tak.\n\nFra: Sam Rep <sam@rep.example>\nSendt: 10. marts 2026 09:00\nTil: x\n\nopt out",
            "Tak.",
        ),
        (
            "Kiitos.\n\nLähettäjä: Sam Rep\nLähetetty: tiistai 10. maaliskuuta 2026 9.00\n",
            "Kiitos.",
        ),
        (
            "Dzięki.\n\nW dniu 10.03.2026 o 09:00, Sam Rep <sam@rep.example> napisał:\n> hi",
            "Dzięki.",
        ),
        ("はい、ぜひ。\n\n2026年3月10日(火) 9:00 Sam Rep <sam@rep.example>:\n> hi", "はい、ぜひ。"),
        ("好的。\n\n发件人: Sam Rep\n发送时间: 2026年3月10日 9:00\n", "好的。"),
    ],
)
def test_quotes_are_cut_in_every_language(body: str, typed: str) -> None:
    """Our quoted touch (with its opt-out line) must never decide what the prospect said."""
    from sequencer.classify import strip_quoted

    assert strip_quoted(body) == typed
