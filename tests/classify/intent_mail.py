"""Replies as the mail clients of the opt-out languages write them, for the intent tests.

Each body is top-posted above a signature and the touch we sent, quoted the way Gmail,
Outlook or Apple Mail quote in that language ("Il giorno ... ha scritto:", "Em ...
escreveu:", "Op ... schreef ...:", "Den ... skrev ...:", "W dniu ... napisał(a):", the
Japanese and Chinese headers). Our touch in each language deliberately offers a call on
Tuesday at 15:00, says we will write again in March and asks "not interested?": if quote
stripping failed, our own words would decide the intent.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

from sequencer.classify import classify
from sequencer.classify.intent import Intent

OWN = {"sam@rep.example"}
TOUCH = "<touch.900.1.aa@rep.example>"
TODAY = date(2026, 12, 3)  # a Thursday, as in test_intent
SAM = "Sam Rep <sam@rep.example>"

TOUCHES = {
    "it": "Buongiorno Paola,\nle andrebbe una breve chiamata martedì alle 15? Se non è il momento giusto, "
    "le riscrivo a marzo. Non le interessa? Me lo dica pure.\nSam",
    "pt": "Olá Ana,\npodemos marcar uma chamada na terça às 15h? Se não for um bom momento, volto a "
    "escrever em março. Não tem interesse? É só dizer.\nSam",
    "nl": "Hallo Joost,\nzullen we dinsdag om 15 uur even bellen? Als het nu niet uitkomt, mail ik u in "
    "maart opnieuw. Geen interesse? Laat het me weten.\nSam",
    "sv": "Hej Erik,\nhar du tid för ett kort samtal på tisdag kl 15? Om det inte passar nu hör jag av "
    "mig i mars. Inte intresserad? Säg bara till.\nSam",
    "da": "Hej Mette,\nhar du tid til et kort opkald tirsdag kl. 15? Hvis det ikke passer nu, skriver "
    "jeg igen i marts. Ikke interesseret? Så sig endelig til.\nSam",
    "no": "Hei Kari,\nhar du tid til en kort samtale tirsdag kl. 15? Hvis det ikke passer nå, tar jeg "
    "kontakt igjen i mars. Ikke interessert? Bare si ifra.\nSam",
    "pl": "Dzień dobry Pani Anno,\nczy pasuje Pani krótka rozmowa we wtorek o 15:00? Jeśli to nie jest "
    "dobry moment, odezwę się w marcu. Nie jest Pani zainteresowana? Proszę dać znać.\nSam",
    "fi": "Hei Mikko,\nsopisiko lyhyt puhelu tiistaina klo 15? Jos nyt ei ole hyvä hetki, palaan "
    "asiaan maaliskuussa. Ei kiinnosta? Kerro vain.\nSam",
    "ja": "田中様\n火曜日の15時に短いお打ち合わせはいかがでしょうか。今がタイミングでなければ、3月に改めて"
    "ご連絡いたします。ご興味がなければお知らせください。\nSam",
    "zh": "王经理您好，\n周二下午3点方便通个电话吗？如果现在时机不合适，我三月份再联系您。不感兴趣的话也请告诉我。\nSam",
}


def _quoted(language: str) -> str:
    return "\n".join("> " + line for line in TOUCHES[language].split("\n"))


def _outlook(language: str, header: str) -> str:
    return "\n\n" + header.format(sam=SAM) + "\n\n" + TOUCHES[language]


QUOTES = {
    "it-gmail": lambda: f"\n\nIl giorno mar 1 dic 2026 alle ore 09:00 {SAM} ha scritto:\n" + _quoted("it"),
    "it-outlook": lambda: _outlook("it", "Da: {sam}\nInviato: martedì 1 dicembre 2026 09:00\n"
                                   "A: Paola Bianchi <p@prospect.example>\nOggetto: Domanda veloce"),
    "pt-gmail": lambda: f"\n\nEm ter., 1 de dez. de 2026 às 09:00, {SAM} escreveu:\n" + _quoted("pt"),
    "pt-outlook": lambda: _outlook("pt", "De: {sam}\nEnviado: terça-feira, 1 de dezembro de 2026 09:00\n"
                                   "Para: Ana Souza <p@prospect.example>\nAssunto: Pergunta rápida"),
    "nl-gmail": lambda: f"\n\nOp di 1 dec 2026 om 09:00 schreef {SAM}:\n" + _quoted("nl"),
    "nl-outlook": lambda: _outlook("nl", "Van: {sam}\nVerzonden: dinsdag 1 december 2026 09:00\n"
                                   "Aan: Joost de Vries <p@prospect.example>\nOnderwerp: Korte vraag"),
    "nl-apple": lambda: f"\n\n> Op 1 dec 2026 om 09:00 heeft {SAM} het volgende geschreven:\n>\n" + _quoted("nl"),
    "sv-gmail": lambda: f"\n\nDen tis 1 dec. 2026 kl 09:00 skrev {SAM}:\n" + _quoted("sv"),
    "sv-outlook": lambda: _outlook("sv", "Från: {sam}\nSkickat: den 1 december 2026 09:00\n"
                                   "Till: Erik Lindqvist <p@prospect.example>\nÄmne: Kort fråga"),
    "da-gmail": lambda: f"\n\nDen tir. 1. dec. 2026 kl. 09.00 skrev {SAM}:\n" + _quoted("da"),
    "da-outlook": lambda: _outlook("da", "Fra: {sam}\nSendt: 1. december 2026 09:00\n"
                                   "Til: Mette Jensen <p@prospect.example>\nEmne: Kort spørgsmål"),
    "no-gmail": lambda: f"\n\ntir. 1. des. 2026 kl. 09:00 skrev {SAM}:\n" + _quoted("no"),
    "no-outlook": lambda: _outlook("no", "Fra: {sam}\nSendt: tirsdag 1. desember 2026 09:00\n"
                                   "Til: Kari Nordmann <p@prospect.example>\nEmne: Kort spørsmål"),
    "pl-gmail": lambda: f"\n\nW dniu wt., 1.12.2026 o 09:00 {SAM} napisał(a):\n" + _quoted("pl"),
    "pl-outlook": lambda: _outlook("pl", "Od: {sam}\nWysłano: wtorek, 1 grudnia 2026 09:00\n"
                                   "Do: Anna Nowak <p@prospect.example>\nTemat: Krótkie pytanie"),
    "fi-gmail": lambda: "\n\nti 1.12.2026 klo 9.00 Sam Rep (sam@rep.example) kirjoitti:\n" + _quoted("fi"),
    "fi-outlook": lambda: _outlook("fi", "Lähettäjä: {sam}\nLähetetty: tiistai 1. joulukuuta 2026 9.00\n"
                                   "Vastaanottaja: Mikko Virtanen <p@prospect.example>\nAihe: Lyhyt kysymys"),
    "ja-gmail": lambda: f"\n\n2026年12月1日(火) 9:00 {SAM}:\n" + _quoted("ja"),
    "ja-outlook": lambda: _outlook("ja", "差出人: {sam}\n送信日時: 2026年12月1日 9:00\n"
                                   "宛先: 田中 花子 <p@prospect.example>\n件名: ご相談"),
    "zh-gmail": lambda: f"\n\n{SAM} 于2026年12月1日周二 09:00写道：\n" + _quoted("zh"),
    "zh-outlook": lambda: _outlook("zh", "发件人: {sam}\n发送时间: 2026年12月1日 9:00\n"
                                   "收件人: 李娜 <p@prospect.example>\n主题: 简短的问题"),
}
SIGNATURES = {
    "it": "\n\nCordiali saluti\nPaola Bianchi\nUfficio Acquisti | Prospect S.r.l.\n+39 02 1234567",
    "pt": "\n\nAtenciosamente,\nAna Souza\nCompras | Prospect Ltda.\n+55 11 91234-5678",
    "nl": "\n\nMet vriendelijke groet,\nJoost de Vries\nInkoop | Prospect B.V.\n+31 20 123 4567",
    "sv": "\n\nMed vänliga hälsningar\nErik Lindqvist\nInköp | Prospect AB\n+46 8 123 456",
    "da": "\n\nMed venlig hilsen\nMette Jensen\nIndkøb | Prospect ApS\n+45 12 34 56 78",
    "no": "\n\nMed vennlig hilsen\nKari Nordmann\nInnkjøp | Prospect AS\n+47 22 12 34 56",
    "pl": "\n\nZ poważaniem\nAnna Nowak\nDział zakupów | Prospect Sp. z o.o.\n+48 22 123 45 67",
    "fi": "\n\nYstävällisin terveisin\nMikko Virtanen\nHankinta | Prospect Oy\n+358 9 123 4567",
    "ja": "\n\nよろしくお願いいたします。\n田中 花子\n株式会社プロスペクト 購買部\n03-1234-5678",
    "zh": "\n\n谢谢！\n李娜\n采购部 | 前景科技有限公司\n+86 10 1234 5678",
}
MOBILE = {"it": "Inviato da iPhone", "pt": "Enviado do meu iPhone", "nl": "Verzonden vanaf mijn iPhone",
          "sv": "Skickat från min iPhone", "da": "Sendt fra min iPhone", "no": "Sendt fra min iPhone",
          "pl": "Wysłane z iPhone'a", "fi": "Lähetetty iPhonesta", "ja": "iPhoneから送信",
          "zh": "发自我的iPhone"}


def reply(body: str, quote: str, *, cc: str | None = None, mobile: bool = False) -> EmailMessage:
    """A reply to our touch in the language of ``quote`` ("it-gmail"), signed or sent from a phone."""
    language = quote.split("-")[0]
    msg = EmailMessage()
    msg["From"] = "Pat Prospect <p@prospect.example>"
    msg["To"] = "sam@rep.example"
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "Re: Quick question"
    msg["Message-ID"] = "<r.1@prospect.example>"
    msg["In-Reply-To"] = TOUCH
    msg["Date"] = "Thu, 03 Dec 2026 10:00:00 +0100"
    sign = "\n\n" + MOBILE[language] if mobile else SIGNATURES[language]
    msg.set_content(body + sign + QUOTES[quote]())
    return msg


def intent(body: str, quote: str, **kwargs: object) -> Intent | None:
    verdict = classify(reply(body, quote, **kwargs), own_addresses=OWN)  # type: ignore[arg-type]
    assert verdict.kind == "reply", verdict.reason
    return verdict.intent
