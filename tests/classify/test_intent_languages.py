"""Reply intent in the opt-out languages beyond en/de/fr/es: it, pt, nl, sv, da, no, pl, fi, ja, zh.

Every reply is top-posted above a signature (or a phone's "Inviato da iPhone") and our
touch, quoted as that language's Gmail, Outlook or Apple Mail quote it (``intent_mail``).
The touch itself offers a call on Tuesday at 15:00, promises to write again in March and
asks "not interested?", so a quote that leaked into the new text would decide wrongly.
Periods come back on the first business day of the period named (``core.periods``), from
Thursday 2026-12-03; a past mention ("ero via a marzo") is no period and no deferral.
"""

from __future__ import annotations

from datetime import date

import pytest

from sequencer.classify import classify
from sequencer.classify.intent import read_intent, reengage_on
from sequencer.core.periods import find_period, resolve
from tests.classify.intent_mail import OWN, QUOTES, TODAY, intent, reply

D = date
NOT_NOW = [
    # (language, quote, body, come back on)
    ("it", "it-gmail", "Grazie, al momento no. Mi ricontatti a marzo.", D(2027, 3, 1)),
    ("it", "it-outlook", "Per ora no, risentiamoci dopo l'estate.", D(2027, 9, 1)),
    ("it", "it-gmail", "Non è un buon momento, ne riparliamo il mese prossimo.", D(2027, 1, 1)),
    ("it", "it-outlook", "In questo momento non abbiamo budget: ci sentiamo dopo il primo trimestre.", D(2027, 4, 1)),
    ("it", "it-gmail", "Non ora, mi riscriva tra tre settimane.", D(2026, 12, 24)),
    ("pt", "pt-gmail", "Obrigado, agora não. Volte a falar comigo em março.", D(2027, 3, 1)),
    ("pt", "pt-outlook", "Neste momento não, vamos retomar depois do verão.", D(2027, 9, 1)),
    ("pt", "pt-gmail", "Por enquanto não. Entre em contato novamente no próximo ano.", D(2027, 1, 1)),
    ("pt", "pt-outlook", "Não é um bom momento. Fale comigo depois de abril.", D(2027, 5, 3)),  # May 1 is a Saturday
    ("nl", "nl-gmail", "Op dit moment niet, neem in maart gerust weer contact op.", D(2027, 3, 1)),
    ("nl", "nl-outlook", "Nu even niet. Na de zomer graag opnieuw contact.", D(2027, 9, 1)),
    ("nl", "nl-apple", "Voorlopig niet, benader me over twee maanden opnieuw.", D(2027, 2, 3)),
    ("nl", "nl-gmail", "Geen goed moment. Neem na het eerste kwartaal contact met me op.", D(2027, 4, 1)),
    ("sv", "sv-gmail", "Tack, men inte just nu. Hör av dig igen i mars.", D(2027, 3, 1)),
    ("sv", "sv-outlook", "Inte aktuellt för tillfället, kontakta mig efter sommaren.", D(2027, 9, 1)),
    ("sv", "sv-gmail", "Inte nu. Hör av dig nästa månad.", D(2027, 1, 1)),
    ("da", "da-gmail", "Ikke lige nu, men skriv gerne igen i marts.", D(2027, 3, 1)),
    ("da", "da-outlook", "Det er ikke aktuelt. Kontakt mig igen efter sommerferien.", D(2027, 9, 1)),
    ("da", "da-gmail", "Ikke på nuværende tidspunkt. Vend tilbage næste år.", D(2027, 1, 1)),
    ("no", "no-gmail", "Ikke akkurat nå. Ta gjerne kontakt igjen i mars.", D(2027, 3, 1)),
    ("no", "no-outlook", "Ikke aktuelt for øyeblikket, kontakt meg etter sommeren.", D(2027, 9, 1)),
    ("no", "no-gmail", "Ikke nå, men ta kontakt igjen om tre uker.", D(2026, 12, 24)),
    ("pl", "pl-gmail", "Dziękuję, na razie nie. Proszę odezwać się w marcu.", D(2027, 3, 1)),
    ("pl", "pl-outlook", "Teraz nie jest dobry moment, wróćmy do tematu po wakacjach.", D(2027, 9, 1)),
    ("pl", "pl-gmail", "Obecnie nie. Proszę o kontakt w przyszłym miesiącu.", D(2027, 1, 1)),
    ("pl", "pl-outlook", "Nie teraz, wróćmy do tematu po pierwszym kwartale.", D(2027, 4, 1)),
    ("fi", "fi-gmail", "Ei juuri nyt, palataan asiaan maaliskuussa.", D(2027, 3, 1)),
    ("fi", "fi-outlook", "Ei tällä hetkellä. Ottakaa yhteyttä uudelleen kesän jälkeen.", D(2027, 9, 1)),
    ("ja", "ja-gmail", "現時点では予算がありません。3月に改めてご連絡ください。", D(2027, 3, 1)),
    ("ja", "ja-outlook", "今は忙しいので、来月またご連絡ください。", D(2027, 1, 1)),
    ("ja", "ja-gmail", "今のところ検討できる状況ではありません。4月以降に改めてご相談させてください。", D(2027, 4, 1)),
    ("ja", "ja-outlook", "今はタイミングが悪いので、来年の3月にまたご連絡いただけますか。", D(2027, 3, 1)),
    ("zh", "zh-gmail", "谢谢，目前暂时不需要，三月份再联系吧。", D(2027, 3, 1)),
    ("zh", "zh-outlook", "现在不太方便，下个月再说吧。", D(2027, 1, 1)),
    ("zh", "zh-gmail", "今年预算已经用完了，明年再联系。", D(2027, 1, 1)),
    ("zh", "zh-outlook", "目前不考虑，暑假后再联系吧。", D(2027, 9, 1)),
]


@pytest.mark.parametrize(("language", "quote", "body", "on"), NOT_NOW, ids=[f"{x[1]}-{i}" for i, x in enumerate(NOT_NOW)])
def test_not_now_with_a_period_comes_back_on_its_first_business_day(language: str, quote: str, body: str, on: date) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == "not_now", found
    assert found.period is not None, found
    assert resolve(found.period, TODAY) == on
    assert found.period.text in found.reason  # the evidence names the words
    assert found.quote  # the sentence a re-engagement template quotes back


@pytest.mark.parametrize(("quote", "body"), [
    ("it-gmail", "Per il momento no, grazie."),
    ("pt-outlook", "Agora não, obrigado."),
    ("nl-gmail", "Op dit moment niet, bedankt."),
    ("sv-outlook", "Inte just nu, tack."),
    ("da-gmail", "Ikke lige nu, tak."),
    ("no-outlook", "Ikke akkurat nå, takk."),
    ("pl-gmail", "Na razie nie, dziękuję."),
    ("fi-outlook", "Ei juuri nyt, kiitos."),
    ("ja-gmail", "今は検討できません。落ち着いたらまたご連絡します。"),
    ("zh-outlook", "目前暂时不需要，谢谢。"),
    ("ja-outlook", "来年度になったら改めてご連絡ください。"),  # next fiscal year: no calendar date is guessed
])
def test_not_now_without_a_period_uses_the_default_delay(quote: str, body: str) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == "not_now", found
    assert found.period is None
    assert reengage_on(found, TODAY, 90) == D(2027, 3, 3)


PAST = [
    ("it-outlook", "Ero via a marzo, scusi il ritardo. Interessante, mi può mandare il listino?"),
    ("it-gmail", "A marzo ero in ferie, per questo non ho risposto. Ci sentiamo giovedì alle 10?"),
    ("pt-gmail", "Estive fora em março, por isso só respondo agora. Parece interessante."),
    ("nl-gmail", "Ik was in maart weg, vandaar de late reactie. Kun je me meer informatie sturen?"),
    ("nl-outlook", "In maart was ik op vakantie. Klinkt interessant, stuur me meer informatie."),
    ("sv-gmail", "I mars var jag ledig, därför svarar jag först nu. Låter intressant."),
    ("da-outlook", "Jeg var på ferie i marts, derfor det sene svar. Send gerne mere information."),
    ("no-gmail", "Jeg var borte i mars, beklager sent svar. Send gjerne mer informasjon."),
    ("pl-gmail", "W marcu byłam na urlopie, stąd opóźnienie. Proszę przesłać więcej informacji."),
    ("fi-gmail", "Olin lomalla maaliskuussa, anteeksi viive. Kuulostaa hyvältä."),
    ("ja-outlook", "3月は出張で不在でしたので、返信が遅くなりました。資料をお送りいただけますか。"),
    ("zh-gmail", "去年三月我们试用过类似的产品，能发一些详细资料给我吗？"),
]


@pytest.mark.parametrize(("quote", "body"), PAST, ids=[q for q, _ in PAST])
def test_a_past_mention_is_no_period_and_no_deferral(quote: str, body: str) -> None:
    found = intent(body, quote)
    assert found is None or found.intent != "not_now", found
    assert find_period(body) is None, find_period(body)


REFERRALS = [
    ("it-gmail", "Non sono la persona giusta, si rivolga al mio collega Luca Ferrari (luca.ferrari@prospect.example).", "Luca Ferrari", "luca.ferrari@prospect.example"),
    ("it-outlook", "Non mi occupo di questo: contatti la dott.ssa Giulia Romano, giulia.romano@prospect.example.", "Giulia Romano", "giulia.romano@prospect.example"),
    ("pt-gmail", "Não sou a pessoa certa para isso. Fale com o João Pereira, joao.pereira@prospect.example.", "João Pereira", "joao.pereira@prospect.example"),
    ("nl-apple", "Daar ga ik niet over. Neem contact op met mijn collega Sanne Bakker (sanne.bakker@prospect.example).", "Sanne Bakker", "sanne.bakker@prospect.example"),
    ("sv-outlook", "Jag är inte rätt person, kontakta min kollega Åsa Ström (asa.strom@prospect.example).", "Åsa Ström", "asa.strom@prospect.example"),
    ("da-gmail", "Det er ikke mig, der står for indkøb. Kontakt venligst min kollega Lars Nielsen på lars.nielsen@prospect.example.", "Lars Nielsen", "lars.nielsen@prospect.example"),
    ("no-gmail", "Jeg er ikke rett person for dette. Snakk med Ingrid Haugen (ingrid.haugen@prospect.example).", "Ingrid Haugen", "ingrid.haugen@prospect.example"),
    ("pl-gmail", "Nie zajmuję się tym. Proszę skontaktować się z Łukaszem Zielińskim: lukasz.zielinski@prospect.example", "Łukaszem Zielińskim", "lukasz.zielinski@prospect.example"),
    ("fi-outlook", "En vastaa tästä. Ottakaa yhteyttä Mikko Virtaseen (mikko.virtanen@prospect.example).", "Mikko Virtaseen", "mikko.virtanen@prospect.example"),
    ("ja-gmail", "私は担当ではありませんので、購買部の佐藤（sato@prospect.example）にご連絡ください。", "佐藤", "sato@prospect.example"),
    ("ja-outlook", "本件の担当は鈴木です。suzuki@prospect.example までお願いいたします。", "鈴木", "suzuki@prospect.example"),
    ("zh-gmail", "这个不归我负责，请联系我的同事张伟（zhang.wei@prospect.example）。", "张伟", "zhang.wei@prospect.example"),
    ("zh-outlook", "我不负责采购，负责人是李娜，邮箱 li.na@prospect.example。", "李娜", "li.na@prospect.example"),
    # No address: a rep task to find it.
    ("it-gmail", "Non è di mia competenza, parli con Marco Esposito dell'ufficio acquisti.", "Marco Esposito", None),
    ("nl-outlook", "Ik ben niet de juiste persoon. Neem contact op met Pieter Jansen van inkoop.", "Pieter Jansen", None),
    ("pl-outlook", "Nie jestem właściwą osobą, proszę napisać do Katarzyny Lewandowskiej z działu zakupów.", "Katarzyny Lewandowskiej", None),
    ("zh-gmail", "请联系王芳，她负责这一块。", "王芳", None),
]


@pytest.mark.parametrize(("quote", "body", "name", "address"), REFERRALS, ids=[f"{x[0]}-{i}" for i, x in enumerate(REFERRALS)])
def test_referral_names_the_colleague_and_their_address(quote: str, body: str, name: str, address: str | None) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == "referral", found
    assert (found.referrals[0].name, found.referrals[0].address) == (name, address)
    assert name in found.reason


@pytest.mark.parametrize(("quote", "body"), [
    ("it-gmail", "Ho messo in copia il mio collega che si occupa degli acquisti."),
    ("pt-outlook", "Coloquei em cópia a minha colega das compras."),
    ("pl-gmail", "Dodałem w kopii kolegę z działu zakupów."),
    ("zh-outlook", "我已经抄送给我们采购部的同事了。"),
])
def test_referral_by_cc_takes_the_copied_colleague(quote: str, body: str) -> None:
    found = intent(body, quote, cc="Lee Ops <lee@prospect.example>")
    assert found is not None and found.intent == "referral", found
    assert [r.address for r in found.referrals] == ["lee@prospect.example"]


SIMPLE = [
    ("wrong_person", "it", "it-outlook", "Mi dispiace, non lavoro più in questa azienda."),
    ("wrong_person", "pt", "pt-gmail", "Não sou a pessoa indicada para este assunto."),
    ("wrong_person", "nl", "nl-outlook", "Ik ben hier niet verantwoordelijk voor."),
    ("wrong_person", "sv", "sv-gmail", "Jag jobbar inte kvar på företaget."),
    ("wrong_person", "da", "da-outlook", "Jeg arbejder ikke længere i virksomheden."),
    ("wrong_person", "no", "no-gmail", "Jeg jobber ikke her lenger."),
    ("wrong_person", "pl", "pl-outlook", "Już nie pracuję w tej firmie."),
    ("wrong_person", "fi", "fi-gmail", "En työskentele enää yrityksessä."),
    ("wrong_person", "ja", "ja-outlook", "申し訳ありませんが、私は担当ではございません。"),
    ("wrong_person", "zh", "zh-gmail", "不好意思，我已经离职了。"),
    ("not_interested", "it", "it-gmail", "Grazie, ma non siamo interessati."),
    ("not_interested", "pt", "pt-outlook", "Não temos interesse, obrigado."),
    ("not_interested", "nl", "nl-gmail", "Geen interesse, bedankt."),
    ("not_interested", "sv", "sv-outlook", "Nej tack, vi är inte intresserade."),
    ("not_interested", "da", "da-outlook", "Vi er ikke interesseret, tak."),
    ("not_interested", "no", "no-outlook", "Nei takk, vi er ikke interessert."),
    ("not_interested", "pl", "pl-outlook", "Nie jesteśmy zainteresowani, dziękuję."),
    ("not_interested", "fi", "fi-outlook", "Ei kiinnosta, kiitos."),
    ("not_interested", "ja", "ja-outlook", "大変恐縮ですが、今回は見送らせていただきます。"),
    ("not_interested", "zh", "zh-outlook", "我们不感兴趣，谢谢。"),
    ("meeting", "it", "it-gmail", "Volentieri, possiamo sentirci giovedì alle 11?"),
    ("meeting", "pt", "pt-outlook", "Podemos marcar uma reunião na quinta às 10h?"),
    ("meeting", "nl", "nl-outlook", "Prima, past het u donderdag om 14 uur?"),
    ("meeting", "sv", "sv-gmail", "Låter intressant! Passar det på torsdag kl 10?"),
    ("meeting", "da", "da-gmail", "Ja tak, passer det torsdag kl. 10?"),
    ("meeting", "no", "no-gmail", "Høres interessant ut. Kan vi ta en samtale på torsdag kl. 13?"),
    ("meeting", "pl", "pl-gmail", "Chętnie. Czy pasuje Panu spotkanie w czwartek o 10:00?"),
    ("meeting", "fi", "fi-gmail", "Sopisiko torstaina klo 10?"),
    ("meeting", "ja", "ja-gmail", "ぜひ一度お話を伺いたいです。来週木曜日の10時はいかがでしょうか。"),
    ("meeting", "zh", "zh-outlook", "可以，周四上午10点开个会吧。"),
    ("interested", "it", "it-outlook", "Interessante, mi può mandare maggiori informazioni?"),
    ("interested", "pt", "pt-gmail", "Parece interessante, pode me enviar mais informações?"),
    ("interested", "nl", "nl-gmail", "Klinkt goed, stuur me gerust meer informatie."),
    ("interested", "sv", "sv-outlook", "Intressant, skicka gärna mer information."),
    ("interested", "da", "da-gmail", "Det lyder interessant, send gerne mere information."),
    ("interested", "no", "no-outlook", "Dette høres bra ut, send gjerne mer informasjon."),
    ("interested", "pl", "pl-gmail", "Brzmi ciekawie, proszę przesłać więcej informacji."),
    ("interested", "fi", "fi-outlook", "Kuulostaa hyvältä, lähettäkää lisätietoja."),
    ("interested", "ja", "ja-outlook", "興味があります。資料をお送りいただけますか。"),
    ("interested", "zh", "zh-gmail", "听起来不错，能发一些详细资料给我吗？"),
]


@pytest.mark.parametrize(("expected", "language", "quote", "body"), SIMPLE, ids=[f"{x[0]}-{x[1]}" for x in SIMPLE])
def test_each_intent_in_each_language(expected: str, language: str, quote: str, body: str) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == expected, found
    assert found.language == language, found.reason


@pytest.mark.parametrize(("quote", "body"), [
    ("it-gmail", "Non è il momento giusto per parlare del rinnovo, ma sì, mi mandi pure il preventivo."),
    ("pt-outlook", "Agora não é um bom momento para falar do contrato, mas me envie a proposta, por favor."),
    ("nl-gmail", "Nu niet over de verlenging, maar stuur me gerust de offerte."),
    ("sv-gmail", "Inte just nu vad gäller avtalet, men skicka gärna en offert."),
    ("pl-outlook", "Teraz nie rozmawiamy o odnowieniu umowy, ale proszę przesłać ofertę."),
    ("ja-gmail", "今は契約更新の話はできませんが、お見積りはぜひお送りください。"),
])
def test_not_now_for_one_thing_but_yes_to_the_quote_is_interested(quote: str, body: str) -> None:
    found = intent(body, quote)
    assert found is not None and found.intent == "interested", found


@pytest.mark.parametrize("quote", sorted(QUOTES))
def test_a_thank_you_has_no_intent_even_when_our_quote_has_one(quote: str) -> None:
    thanks = {"it": "Grazie, ricevuto.", "pt": "Obrigado, recebido.", "nl": "Dank je, ontvangen.",
              "sv": "Tack, mottaget.", "da": "Tak, modtaget.", "no": "Takk, mottatt.",
              "pl": "Dziękuję, otrzymałem.", "fi": "Kiitos, vastaanotettu.", "ja": "承知しました。",
              "zh": "收到，谢谢。"}
    assert intent(thanks[quote.split("-")[0]], quote) is None
    assert intent(thanks[quote.split("-")[0]], quote, mobile=True) is None


def test_next_years_month_in_japanese_and_chinese_is_that_month_of_next_year() -> None:
    """In January "来年の3月" is March of the year after, not the coming March."""
    found = read_intent("今は難しいので、来年の3月に改めてご連絡ください。")
    assert found is not None and found.period is not None
    assert resolve(found.period, D(2027, 1, 12)) == D(2028, 3, 1)
    assert resolve(find_period("明年三月再联系吧"), D(2027, 1, 12)) == D(2028, 3, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "佐藤" * 50000, "佐" + " " * 100000 + "にご連絡", "3月に" * 30000, "请联系" * 30000, "担当は" * 40000,
    "a marzo ero via " * 10000, "kontakt Lars " * 10000, "na maart " * 20000, "Non ora, ma " * 20000,
])
def test_hostile_text_in_the_new_languages_is_read_in_bounded_time(text: str) -> None:
    """Long runs of the new cues (ideographs, names, periods) must not stall a poll."""
    import signal

    fired: list[int] = []

    def stuck(*_: object) -> None:
        fired.append(1)
        raise TimeoutError("intent reading took over 5 s")

    old = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(5)
    try:
        found = classify(reply(text, "ja-gmail"), own_addresses=OWN)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert not fired, "a hostile reply stalled the intent rules"
    assert found.kind == "reply"


@pytest.mark.parametrize(("quote", "body"), [
    ("zh-outlook", "我们已经有类似的系统了，暂时不考虑，谢谢。"),
    ("it-gmail", "Abbiamo già un fornitore, per ora no."),
    ("sv-outlook", "Vi har redan en lösning, så inte just nu."),
    ("pl-gmail", "Mamy już system do tego, na razie nie."),
])
def test_we_already_have_one_and_not_for_now_is_a_no(quote: str, body: str) -> None:
    """A reason that closes the door plus "for now" with no period named is a polite no."""
    found = intent(body, quote)
    assert found is not None and found.intent == "not_interested", found


def test_we_already_have_one_but_try_me_next_year_still_comes_back() -> None:
    found = intent("Abbiamo già un fornitore, ma il contratto scade: mi ricontatti l'anno prossimo.", "it-outlook")
    assert found is not None and found.intent == "not_now" and found.period is not None
    assert resolve(found.period, TODAY) == D(2027, 1, 1)


@pytest.mark.parametrize(("sample", "expected", "language"), [
    ("wild3_r_not_now_no.eml", "not_now", "no"),  # "ikke akkurat nå, men ta kontakt igjen i mars"
    ("wild_reply_ja.eml", "meeting", "ja"),  # "来週お打ち合わせ可能です。火曜日はいかがでしょうか"
    ("wild2_reply_ja_quoted.eml", "interested", "ja"),  # "ぜひお話を伺いたいです", above its quote
    ("wild_reply_nl.eml", "meeting", "nl"),  # "klinkt interessant. Kunnen we volgende week bellen?"
])
def test_the_sample_replies_in_the_new_languages_are_read(sample: str, expected: str, language: str) -> None:
    from pathlib import Path

    raw = (Path(__file__).parent / "samples" / sample).read_bytes()
    verdict = classify(raw, own_addresses={"sam@rep.example"})
    assert verdict.kind == "reply"
    assert verdict.intent is not None and verdict.intent.intent == expected, verdict.intent
    assert verdict.intent.language == language
    if expected == "not_now":
        assert verdict.intent.period is not None and verdict.intent.period.month == 3
