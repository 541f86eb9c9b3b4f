"""The blind set: replies in the opt-out languages written before the rules were tuned on them.

``BLIND`` was written in one go before the rules for these languages, and run once against
them: 42/49 right (32/49 on the very first run, when a script slip had written the
interested phrases over the not-interested table). ``BLIND_2`` was written after the rules
and all other tests, in phrasings used nowhere else: 29/41 on its first run (zh 1/5, ja 3/5,
referrals phrased around a role, "我们已经有..., 暂时不考虑"). The misses were then fixed;
every message is pinned here so a later change that breaks one shows. ``expected`` is the
intent, or "!not_now" for a near miss that must not be read as a deferral (a past mention,
a "not the right time for X, but yes send the quote"). ``detail`` is the come-back day of a
``not_now`` (None: no period, so the default delay) or the (name, address) of a referral.
"""

from __future__ import annotations

from datetime import date

import pytest

from sequencer.classify.intent import reengage_on
from tests.classify.intent_mail import TODAY, intent

D = date
BLIND: list[tuple[str, str, str, object]] = [
    # Italian
    ("it-gmail", "Grazie Sam, in questo momento non abbiamo budget. Mi ricontatti a marzo, per favore.", "not_now", D(2027, 3, 1)),
    ("it-outlook", "Buongiorno, per ora no. Risentiamoci dopo l'estate.", "not_now", D(2027, 9, 1)),
    ("it-gmail", "Non sono la persona giusta, si rivolga al mio collega Luca Ferrari (luca.ferrari@prospect.example).", "referral", ("Luca Ferrari", "luca.ferrari@prospect.example")),
    ("it-outlook", "Grazie, ma non siamo interessati.", "not_interested", None),
    ("it-gmail", "Volentieri, possiamo sentirci giovedì alle 11?", "meeting", None),
    ("it-outlook", "Ero via a marzo, scusi il ritardo. Interessante, mi può mandare il listino?", "!not_now", None),
    ("it-gmail", "Non è il momento giusto per parlare del rinnovo, ma sì, mi mandi pure il preventivo.", "!not_now", None),
    # Portuguese
    ("pt-gmail", "Obrigada, Sam. Agora não é um bom momento. Pode voltar a falar comigo em março?", "not_now", D(2027, 3, 1)),
    ("pt-outlook", "Neste momento não. Vamos retomar depois do verão.", "not_now", D(2027, 9, 1)),
    ("pt-gmail", "Não sou a pessoa certa para isso. Fale com o João Pereira, joao.pereira@prospect.example.", "referral", ("João Pereira", "joao.pereira@prospect.example")),
    ("pt-outlook", "Não temos interesse, obrigado.", "not_interested", None),
    ("pt-gmail", "Parece interessante, pode me enviar mais informações?", "interested", None),
    ("pt-outlook", "Estive fora em março, por isso só respondo agora. Podemos marcar uma reunião na quinta às 10h?", "meeting", None),
    # Dutch
    ("nl-gmail", "Op dit moment niet, neem in maart gerust weer contact op.", "not_now", D(2027, 3, 1)),
    ("nl-outlook", "Bedankt, nu even niet. Na de zomer kijken we er weer naar, mail me dan opnieuw.", "not_now", D(2027, 9, 1)),
    ("nl-apple", "Daar ga ik niet over. Neem contact op met mijn collega Sanne Bakker (sanne.bakker@prospect.example).", "referral", ("Sanne Bakker", "sanne.bakker@prospect.example")),
    ("nl-gmail", "Geen interesse, bedankt.", "not_interested", None),
    ("nl-outlook", "Klinkt interessant. Zullen we volgende week dinsdag om 14 uur bellen?", "meeting", None),
    ("nl-gmail", "Ik was in maart weg, vandaar de late reactie. Kun je me meer informatie sturen?", "!not_now", None),
    # Swedish
    ("sv-gmail", "Tack, men inte just nu. Hör av dig igen i mars.", "not_now", D(2027, 3, 1)),
    ("sv-outlook", "Det är inte aktuellt för tillfället. Kontakta mig efter sommaren.", "not_now", D(2027, 9, 1)),
    ("sv-gmail", "Jag är inte rätt person för detta, prata med Johan Berg (johan.berg@prospect.example).", "referral", ("Johan Berg", "johan.berg@prospect.example")),
    ("sv-outlook", "Nej tack, vi är inte intresserade.", "not_interested", None),
    ("sv-gmail", "Låter intressant! Passar det på torsdag kl 10?", "meeting", None),
    # Danish
    ("da-gmail", "Tak for din mail. Det er ikke aktuelt lige nu, men skriv gerne igen i marts.", "not_now", D(2027, 3, 1)),
    ("da-outlook", "Ikke lige nu, vi har travlt. Kontakt mig igen efter sommerferien.", "not_now", D(2027, 9, 1)),
    ("da-gmail", "Det er ikke mig, der står for indkøb. Kontakt venligst min kollega Lars Nielsen på lars.nielsen@prospect.example.", "referral", ("Lars Nielsen", "lars.nielsen@prospect.example")),
    ("da-outlook", "Vi er ikke interesseret, tak.", "not_interested", None),
    ("da-gmail", "Jeg var på ferie i marts, derfor det sene svar. Det lyder interessant, send gerne mere information.", "!not_now", None),
    # Norwegian
    ("no-gmail", "Takk, men ikke akkurat nå. Ta gjerne kontakt igjen i mars.", "not_now", D(2027, 3, 1)),
    ("no-outlook", "Det passer dårlig nå. Kontakt meg etter sommeren.", "not_now", D(2027, 9, 1)),
    ("no-gmail", "Jeg er ikke rett person for dette. Snakk med Ingrid Haugen (ingrid.haugen@prospect.example).", "referral", ("Ingrid Haugen", "ingrid.haugen@prospect.example")),
    ("no-outlook", "Nei takk, vi er ikke interessert.", "not_interested", None),
    ("no-gmail", "Høres interessant ut. Kan vi ta en samtale på torsdag kl. 13?", "meeting", None),
    # Polish
    ("pl-gmail", "Dziękuję, na razie nie. Proszę odezwać się w marcu.", "not_now", D(2027, 3, 1)),
    ("pl-outlook", "Teraz nie jest dobry moment, wróćmy do tematu po wakacjach.", "not_now", D(2027, 9, 1)),
    ("pl-gmail", "Nie jestem właściwą osobą. Proszę skontaktować się z Piotrem Wiśniewskim (piotr.wisniewski@prospect.example).", "referral", ("Piotrem Wiśniewskim", "piotr.wisniewski@prospect.example")),
    ("pl-outlook", "Nie jesteśmy zainteresowani, dziękuję.", "not_interested", None),
    ("pl-gmail", "W marcu byłam na urlopie, stąd opóźnienie. Brzmi ciekawie, proszę przesłać więcej informacji.", "!not_now", None),
    # Japanese
    ("ja-gmail", "ご連絡ありがとうございます。現在は予算がないため、3月に改めてご連絡いただけますか。", "not_now", D(2027, 3, 1)),
    ("ja-outlook", "今は忙しいので、来月またご連絡ください。", "not_now", D(2027, 1, 1)),
    ("ja-gmail", "私は担当ではありませんので、購買部の佐藤（sato@prospect.example）にご連絡ください。", "referral", ("佐藤", "sato@prospect.example")),
    ("ja-outlook", "大変恐縮ですが、今回は見送らせていただきます。", "not_interested", None),
    ("ja-gmail", "ぜひ一度お話を伺いたいです。来週木曜日の10時はいかがでしょうか。", "meeting", None),
    # Chinese
    ("zh-gmail", "谢谢，目前暂时不需要，三月份再联系吧。", "not_now", D(2027, 3, 1)),
    ("zh-outlook", "现在不太方便，下个月再说吧。", "not_now", D(2027, 1, 1)),
    ("zh-gmail", "这个不归我负责，请联系我的同事张伟（zhang.wei@prospect.example）。", "referral", ("张伟", "zhang.wei@prospect.example")),
    ("zh-outlook", "我们不感兴趣，谢谢。", "not_interested", None),
    ("zh-gmail", "听起来不错，能发一些详细资料给我吗？", "interested", None),
]


@pytest.mark.parametrize(("quote", "body", "expected", "detail"), BLIND, ids=[f"{x[0]}-{i}" for i, x in enumerate(BLIND)])
def test_blind_set(quote: str, body: str, expected: str, detail: object) -> None:
    found = intent(body, quote)
    if expected == "!not_now":
        assert found is None or found.intent != "not_now", found
        return
    assert found is not None and found.intent == expected, found
    if expected == "not_now":
        assert reengage_on(found, TODAY) == (detail or reengage_on(found, TODAY)), found
        if detail is None:
            assert found.period is None
    if expected == "referral":
        name, address = detail  # type: ignore[misc]
        assert (found.referrals[0].name, found.referrals[0].address) == (name, address), found


# A second blind set, written after the rules and the tests above were done, in phrasings not
# used anywhere yet (longer bodies, phone signatures, softer wording); run once, then fixed.
BLIND_2: list[tuple[str, str, str, object, bool]] = [
    # (quote, body, expected, detail, sent from a phone)
    ("it-outlook", "Buongiorno Sam,\ngrazie per il messaggio. Stiamo chiudendo il bilancio e fino a fine anno non riesco a valutare nulla. Mi riscriva pure a gennaio.", "not_now", D(2027, 1, 1), False),
    ("it-gmail", "Ciao, in questo periodo siamo pieni. Riparliamone a settembre.", "not_now", D(2027, 9, 1), True),
    ("it-outlook", "Per queste cose deve sentire Francesca Gallo, francesca.gallo@prospect.example, che segue gli acquisti.", "referral", ("Francesca Gallo", "francesca.gallo@prospect.example"), False),
    ("it-gmail", "Abbiamo appena firmato con un altro fornitore, quindi no grazie.", "not_interested", None, True),
    ("it-outlook", "Mi interessa. Quanto costa la licenza per 20 utenti?", "interested", None, False),
    ("pt-gmail", "Oi Sam, tudo bem? No momento não temos orçamento. Me procure de novo em fevereiro.", "not_now", D(2027, 2, 1), True),
    ("pt-outlook", "Bom dia. Não é a melhor altura, estamos a meio de uma migração. Contacte-me daqui a dois meses.", "not_now", D(2027, 2, 3), False),
    ("pt-gmail", "Quem cuida disso é a Mariana Costa (mariana.costa@prospect.example). Fale com ela.", "referral", ("Mariana Costa", "mariana.costa@prospect.example"), False),
    ("pt-outlook", "Já não trabalho nessa empresa desde outubro.", "wrong_person", None, True),
    ("pt-gmail", "Topa uma call na quinta às 14h?", "meeting", None, True),
    ("nl-outlook", "Hoi Sam, we zitten midden in een reorganisatie. Probeer het na de zomervakantie nog eens.", "not_now", D(2027, 9, 1), False),
    ("nl-gmail", "Dank voor je bericht. Begin april komt er budget vrij, mail me dan opnieuw.", "not_now", D(2027, 4, 1), True),
    ("nl-apple", "Mijn collega Thomas Visser (thomas.visser@prospect.example) is hiervoor de juiste persoon.", "referral", ("Thomas Visser", "thomas.visser@prospect.example"), False),
    ("nl-outlook", "Wij werken al met een andere partij en zijn daar tevreden over. Geen behoefte, dank u.", "not_interested", None, False),
    ("nl-gmail", "Ik heb vorig jaar in maart al een demo gehad. Wat kost het nu per gebruiker?", "!not_now", None, False),
    ("sv-outlook", "Hej! Vi har precis gått in i en upphandling, så det är inte aktuellt förrän efter första kvartalet. Hör av dig då.", "not_now", D(2027, 4, 1), False),
    ("sv-gmail", "Det är min kollega Karin Lund som har hand om det, karin.lund@prospect.example.", "referral", ("Karin Lund", "karin.lund@prospect.example"), True),
    ("sv-outlook", "Tack men nej tack, vi är nöjda med vår nuvarande leverantör.", "not_interested", None, False),
    ("sv-gmail", "Förra våren testade vi något liknande i maj. Kan du skicka en offert?", "!not_now", None, False),
    ("da-outlook", "Hej Sam. Vi er midt i budgetlægningen, så tag fat i mig igen i februar.", "not_now", D(2027, 2, 1), False),
    ("da-gmail", "Det er Sofie Madsen der tager sig af det: sofie.madsen@prospect.example", "referral", ("Sofie Madsen", "sofie.madsen@prospect.example"), True),
    ("da-outlook", "Kunne vi tage et kort møde på onsdag kl. 14?", "meeting", None, False),
    ("no-gmail", "Hei, vi har ikke budsjett nå. Ta kontakt igjen over nyttår.", "not_now", None, True),
    ("no-outlook", "Dette er ikke mitt område, men prøv Ole Berg på ole.berg@prospect.example.", "referral", ("Ole Berg", "ole.berg@prospect.example"), False),
    ("no-gmail", "Vi har allerede en løsning for dette, så nei takk.", "not_interested", None, False),
    ("pl-outlook", "Dzień dobry, w tym roku budżet jest już zamknięty. Proszę o kontakt w styczniu.", "not_now", D(2027, 1, 1), False),
    ("pl-gmail", "Tym tematem zajmuje się u nas Tomasz Kamiński, tomasz.kaminski@prospect.example.", "referral", ("Tomasz Kamiński", "tomasz.kaminski@prospect.example"), True),
    ("pl-outlook", "Dziękuję, ale nie jesteśmy zainteresowani współpracą.", "not_interested", None, False),
    ("pl-gmail", "Brzmi interesująco. Możemy umówić się na rozmowę w przyszłym tygodniu?", "meeting", None, False),
    ("fi-outlook", "Kiitos viestistä. Budjetti on jo käytetty, ottakaa yhteyttä uudelleen tammikuussa.", "not_now", D(2027, 1, 1), False),
    ("fi-gmail", "Kiinnostava ratkaisu, voisitteko lähettää lisätietoja?", "interested", None, True),
    ("ja-outlook", "お世話になっております。年度末で立て込んでおりますので、4月以降に改めてご連絡いただけますと幸いです。", "not_now", D(2027, 4, 1), False),
    ("ja-gmail", "本件は情報システム部の山田が担当しております。yamada@prospect.example までご連絡ください。", "referral", ("山田", "yamada@prospect.example"), False),
    ("ja-outlook", "せっかくですが、現在は新しいツールの導入予定はございません。", "not_interested", None, False),
    ("ja-gmail", "ご提案ありがとうございます。詳しい資料をいただけますでしょうか。", "interested", None, True),
    ("ja-outlook", "昨年の3月にも同様のご案内をいただきました。料金表をお送りいただけますか。", "!not_now", None, False),
    ("zh-outlook", "您好，我们今年的预算已经定了，明年一季度再联系吧。", "not_now", D(2027, 1, 1), False),
    ("zh-gmail", "这事由我们IT部的刘洋负责，他的邮箱是liu.yang@prospect.example。", "referral", ("刘洋", "liu.yang@prospect.example"), True),
    ("zh-outlook", "我们已经有类似的系统了，暂时不考虑，谢谢。", "!not_now", None, False),
    ("zh-gmail", "可以的，下周三下午两点方便通个电话吗？", "meeting", None, False),
    ("zh-outlook", "去年三月我们就谈过这个，现在还是不需要。", "not_now", None, False),
]


@pytest.mark.parametrize(("quote", "body", "expected", "detail", "mobile"), BLIND_2,
                         ids=[f"{x[0]}-{i}" for i, x in enumerate(BLIND_2)])
def test_blind_set_2(quote: str, body: str, expected: str, detail: object, mobile: bool) -> None:
    found = intent(body, quote, mobile=mobile)
    if expected == "!not_now":
        assert found is None or found.intent != "not_now", found
        return
    assert found is not None and found.intent == expected, found
    if expected == "not_now":
        if detail is None:
            assert found.period is None, found
        else:
            assert reengage_on(found, TODAY) == detail, found
    if expected == "referral":
        name, address = detail  # type: ignore[misc]
        assert (found.referrals[0].name, found.referrals[0].address) == (name, address), found
