"""What people and responders write, per language: opt-out requests and out-of-office notes.

One table per concern, keyed by ISO 639-1 code, so a missing language is one entry and a
wrong phrase points at one line. Every language's phrases are tried whatever the detected
language (a German rep's prospect may answer in English); the detected language only names
the evidence in ``reason``.

Opt-out phrases need a first-person object or an explicit list/mail object ("remove me",
"retirez-moi de votre liste"), so "we removed the old vendor" stays a reply. Out-of-office
phrases are present or future tense ("I am out of the office until"), so "I was out of
office last week" stays a reply.
"""

from __future__ import annotations

import re

OPT_OUT: dict[str, str] = {
    "en": r"\b(remove|delete|exclude) (me|us)\b|\bdrop (me|us) (from|off)\b"
    r"|\b(remove|delete) (my|our) (e-?mail|address|name|contact|details|data)"
    r"|\b(take|get) (me|us) off\b|\b(take|get) (my|our) (e-?mail|address|name)\w* off\b"
    r"|\b(stop|quit) (e-?mailing|mailing|contacting|messaging|writing to|sending me|sending us)\b"
    r"|\b(do not|don't|dont|never) (contact|e-?mail|write to|message) (me|us)"
    r"( again| anymore| any more| in the future)?\s*([.!]|$)"
    r"|\bno longer (wish|want) to (receive|hear|be contacted)\b"
    r"|\bnot interested,? (please )?(remove|unsubscribe)",
    "de": r"\b(schicken|senden) sie (mir|uns) keine\b|\b(bitte|m[öo]chte|will|wollen)\b.{0,30}\babmelden\b|\babmelden\b.{0,30}\b(newsletter|liste|verteiler)|\bkeine (weiteren (e-?mails|mails|nachrichten|werbung)|(e-?mails|mails|nachrichten|werbung) mehr)\b"
    r"|\b(entfernen|l[öo]schen|streichen|nehmen) sie mich\b|\baus (ihrem|ihrer|dem|der) (verteiler|liste"
    r"|mailingliste|newsletter|datenbank)\b|\bnicht mehr (kontaktieren|anschreiben|schreiben|zu kontaktieren)\b"
    r"|\b(trage|tragen sie) mich\b.{0,30}\baus\b|\b(mich|uns)\b.{0,40}\baustragen\b|\bl[öo]schen sie meine (daten|adresse|e-?mail)",
    "fr": r"\bne (plus|pas) m'envoyer (de |d')?(e-?mails?|mails?|messages?|courriels?|newsletters?)\b|\bne (plus|pas) m'[ée]crire\s*([.!,]|$)|\bne m'envoyez plus\b|\bretirer (mon adresse|mes coordonn[ée]es|mon e-?mail)|\bd[ée]sabonne|\bd[ée]sinscri|\bretirez[- ]moi\b|\bme retirer de\b|\bsupprimez[- ]moi\b"
    r"|\b(merci de|veuillez|pouvez-vous|priere de|pri[èe]re de) (me )?(retirer|supprimer|d[ée]sinscrire)"
    r"|\bne (plus|pas) me (contacter|recontacter|[ée]crire|solliciter)\b|\bne me (contactez|[ée]crivez|sollicitez) plus\b"
    r"|\bne (plus|pas) recevoir\b|\bne (souhaite|veux|d[ée]sire|voudrais) plus (rien )?recevoir\b|\bn'envoyez plus\b|\bsupprimer (mon adresse|mes coordonn[ée]es|mon e-?mail)",
    "es": r"\bdar(me|nos)? de baja\b|\bdarse de baja\b|\bcancelar (la |mi )?suscripci[óo]n\b"
    r"|\bno me (contacten|escriban|env[íi]en)\b|\bdejen? de (enviarme|escribirme|contactarme)\b"
    r"|\b(eliminar|quitar|borrar|sacar)(me|nos)? de (su|la|vuestra|sus) (lista|base)"
    r"|\bno (quiero|deseo) recibir\b|\b(elim[íi]ne|elim[íi]nenme|b[óo]rrenme|s[áa]quenme|qu[íi]tenme)\b",
    "it": r"\bcancellar(mi|ci)\b|\beliminar(mi|ci)\b|\beliminatemi\b|\btoglier(mi|ci)\b|\bnon (inviarmi|mandarmi) pi[ùu] (e-?mail|mail|messaggi|comunicazioni|newsletter)\b|\bnon (scrivermi|contattarmi) pi[ùu]\s*([.!,]|$)|\bnon (inviatemi|mandatemi|mi inviate|mi mandate) pi[ùu]\b|\bcancellatemi\b|\bcancellami\b|\brimuovetemi\b|\brimuovermi\b|\btoglietemi\b|\bdisiscri"
    r"|\bnon (voglio|desidero) (pi[ùu] )?ricevere\b|\bnon (contattatemi|scrivetemi) pi[ùu]\b"
    r"|\brimuovere (il mio indirizzo|la mia (e-?mail|mail)|me)\b|\bnon mi (contattate|scrivete) pi[ùu]\b",
    "pt": r"\b(remova|retire|exclua|tire)m? (o |a )?(meu|minha) (e-?mail|endere[çc]o|contato|contacto|nome) d[ao]s? (sua |vossa |tua )?(lista|base|cadastro|mailing)|\bexclua-me\b|\bn[ãa]o me (envie|enviem|mande|mandem) mais\b|\bremova-me\b|\bremover-me\b|\bme remova\b|\bdescadastr|\bcancelar (a |minha )?inscri[çc][ãa]o\b"
    r"|\bn[ãa]o (quero|desejo) (mais )?receber\b|\bn[ãa]o me (contate|contactem|enviem|escrevam)\b"
    r"|\b(tirem-me|me tire|retirem-me) d[ao]\b|\bremover (meu|o meu) (e-?mail|endere[çc]o)",
    "nl": r"\b(mijn|ons) (e-?mail(adres)?|adres|gegevens)\b.{0,40}\bverwijderen\b|\bverwijder(en)? (mij|me|ons) (uit|van)\b|\b(haal|verwijder) (mij|me)\b|\bverwijder mijn (e-?mail|adres|gegevens)|\buitschrijven\b"
    r"|\b(wil|graag|gelieve)\b.{0,30}\bafmelden\b|\bafmelden\b.{0,20}\b(nieuwsbrief|lijst|mailing)|\bgeen (e-?mails|mails|berichten) meer\b|\bniet meer (contacteren|mailen|benaderen)\b"
    r"|\bschrijf (mij|me) uit\b|\bmeld (mij|me) af\b|\bstuur (mij|me|ons) geen\b",
    "sv": r"\b[öo]nskar inte (att )?(f[åa]|ta emot) (fler|mer|n[åa]gra)\b|\bskicka inte (fler|mer)\b|\bta bort mig\b|\bavregistrera\b|\bavsluta (min )?prenumeration|\bavprenumerera"
    r"|\bvill inte (ha|f[åa]) (fler|mer|n[åa]gra)\b|\bsluta (mejla|maila|skicka|kontakta)\b"
    r"|\bkontakta mig inte\b|\bta bort min (e-?post|mejl|adress)",
    "da": r"\b[øo]nsker ikke (at )?(modtage|f[åa]) (flere|mere|nogen)\b|\bsend (ikke|ingen) (flere|mere)\b|\bfjern mig\b|\bafmeld\b|\bslet mig\b|\bvil ikke (modtage|have) (flere|mere)\b"
    r"|\bstop med at (sende|skrive|kontakte)\b|\bfjern min (e-?mail|adresse)|\bkontakt mig ikke\b",
    "no": r"\b[øo]nsker ikke [åa] (motta|f[åa]) (flere|mer|noen)\b|\bikke send (meg|oss) (flere|mer)\b|\bfjern meg\b|\bmeld meg av\b|\bavmeld\b|\bslett meg\b|\bvil ikke (motta|ha) (flere|mer)\b"
    r"|\bslutt [åa] (sende|kontakte|skrive)\b|\bikke kontakt meg\b|\bfjern (min|mi) (e-?post|adresse)",
    "fi": r"\bpoista(kaa)? minut\b|\bperuuta(kaa)? tilaus|\ben halua (en[äa][äa] )?(vastaanottaa|saada)\b"
    r"|\b[äa]lk[äa][äa] (en[äa][äa] )?(l[äa]hett[äa]k[öo]|ottako yhteytt[äa])|\blopettakaa (viestien|s[äa]hk[öo]postien) l[äa]hett[äa]minen"
    r"|\bpoista(kaa)? (s[äa]hk[öo]postiosoitteeni|osoitteeni|tietoni)",
    "pl": r"\busun[ąa][ćc] (m[óo]j (adres|e-?mail)|moje dane|mnie|nas)\b|\bo wypisanie\b|\busu[ńn](cie)? mnie\b|\bprosz[ęe] o usuni[ęe]cie\b|\bwypisz(cie)? mnie\b|\bwypisa[ćc] (mnie|si[ęe])\b"
    r"|\brezygnuj[ęe] z (subskrypcji|newslettera|otrzymywania)|\bnie chc[ęe] (wi[ęe]cej )?otrzymywa[ćc]"
    r"|\bprosz[ęe] (mnie )?nie kontaktowa[ćc]|\bnie kontaktujcie si[ęe]"
    r"|\bnie (wysy[łl]ajcie|przesy[łl]ajcie|wysy[łl]a[ćc]|przysy[łl]ajcie) (mi|do mnie)\b",
    "ja": r"配信(を)?停止|配信(を)?解除|登録(を)?解除|購読(を)?解除|メールを送らないで|送信しないで"
    r"|リストから(削除|外して)|今後.{0,10}(不要|お断り)|停止してください|送らないでください",
    "zh": r"停止.{0,6}(发送|發送)|不(想|要|希望)再(收到|接收)|退订|退訂|取消订阅|取消訂閱|不要再.{0,4}(发|發|寄)|请勿再.{0,4}(发|寄)|請勿再.{0,4}(發|寄)"
    r"|别再.{0,4}(发|寄)|不要.{0,4}(发|發)(邮件|郵件)给我"
    r"|从.{0,10}(列表|名单)中?(删除|移除)|移除我|停止(发送|發送)|删除我的(邮箱|地址)",
}

UNSUBSCRIBE_WORDS = (
    r"unsubscribe|remove( me)?|opt[- ]?out|stop|abmelden|austragen|d[ée]sabonner|d[ée]sinscription"
    r"|d[ée]sinscrire|baja|darme de baja|cancelar suscripci[óo]n|disiscrivi(mi)?|cancellami|cancellazione"
    r"|descadastrar|remover|afmelden|uitschrijven|avregistrera|avsluta prenumeration|afmeld|afmelding"
    r"|avmeld|avmelding|peruuta tilaus|wypisz|wypisz mnie|rezygnacja|配信停止|配信解除|退订|退訂|取消订阅"
)

OUT_OF_OFFICE: dict[str, str] = {
    "en": r"\b(i am|i'm) (currently |now )?on (annual |parental |maternity |paternity |sick |medical |study )?leave\b|\byour (e-?mail|message) will not be forwarded\b|\b(i am|i'm|i will be|i'll be) (currently |now |presently )?(out of (the )?office|away from (the |my )?"
    r"(office|desk|e-?mail)|on (annual |parental |maternity |paternity |sick |medical )?leave|on vacation"
    r"|on holiday|out of town|travell?ing|away|out|off)\b.{0,60}\b(until|till|through|thru|from|returning"
    r"|and will|with (limited|no) access|back on|on \w+day|\d)"
    r"|\b(i am|i'm) currently out of (the )?office\b|\bi will (be back|return) (on|to the office)"
    r"|\bwith (limited|no|intermittent) access to (my )?e-?mail\b|\b(upon|on) my return\b"
    r"|\bthis is an automat(ic|ed) (reply|response|message)\b|\bi am on leave\b",
    "de": r"\bbefinde mich\b.{0,50}\b(nicht im b[üu]ro|auf (dienst|gesch[äa]fts)reise|nicht am arbeitsplatz)\b|\bich bin\b.{0,50}\b(nicht im b[üu]ro|abwesend|im urlaub|au(ß|ss)er haus|nicht erreichbar"
    r"|in elternzeit|auf dienstreise)\b|\b(bin|befinde mich)\b.{0,40}\b(im urlaub|au(ß|ss)er haus|in elternzeit)\b"
    r"|\bwieder (im b[üu]ro|erreichbar|da)\b|\bin dringenden f[äa]llen\b|\bwird nicht weitergeleitet\b"
    r"|\bautomatische antwort\b|\babwesenheitsnotiz\b",
    "fr": r"\bje (suis|serai)\b.{0,30}\b(absente?|en cong[ée]s?|en vacances|hors du bureau|en d[ée]placement"
    r"|de retour)\b|\bde retour (le|au bureau|lundi|mardi|mercredi|jeudi|vendredi)\b|\ben cas d'urgence\b"
    r"|\bje n'ai pas acc[èe]s [àa] mes\b|\bje prendrai connaissance de votre\b|\br[ée]ponse automatique\b",
    "es": r"\bme encuentro\b.{0,30}\b(fuera de la oficina|de vacaciones|ausente|de viaje)\b|\b(estoy|estar[ée])\b.{0,30}\b(fuera de la oficina|de vacaciones|ausente|fuera)\b"
    r"|\b(regresar[ée]|volver[ée]|me reincorporar[ée])\b.{0,20}\b(el|a la oficina)\b"
    r"|\ben caso de urgencia\b|\brespuesta autom[áa]tica\b",
    "it": r"\b(sono|sar[òo])\b.{0,30}\b(in trasferta|in maternit[àa]|in malattia)\b|\b(sono|sar[òo])\b.{0,30}\b(fuori (ufficio|sede)|in ferie|assente|in vacanza)\b"
    r"|\b(rientrer[òo]|torner[òo])\b|\bper (urgenze|questioni urgenti)\b|\brisposta automatica\b",
    "pt": r"\b(encontro-me|me encontro)\b.{0,30}\b(fora do escrit[óo]rio|de f[ée]rias|ausente|em viagem)\b|\b(estou|estarei)\b.{0,30}\b(fora do escrit[óo]rio|de f[ée]rias|ausente|fora)\b"
    r"|\b(retornarei|regressarei|voltarei)\b|\bem caso de urg[êe]ncia\b|\bresposta autom[áa]tica\b",
    "nl": r"\bik ben\b.{0,40}\b(met vakantie|op reis|met (zwangerschaps|ouderschaps)?verlof)\b|\bwordt niet doorgestuurd\b|\bik ben\b.{0,40}\b(afwezig|op vakantie|niet op kantoor|met verlof|niet aanwezig)\b"
    r"|\bweer (aanwezig|bereikbaar|op kantoor)\b|\bautomatisch antwoord\b",
    "sv": r"\bjag [äa]r\b.{0,40}\b(p[åa] semester|ledig|borta|tj[äa]nstledig|inte p[åa] kontoret|fr[åa]nvarande"
    r"|f[öo]r[äa]ldraledig)\b|\b[åa]ter (p[åa] kontoret|den|i tj[äa]nst)\b|\bautomatiskt svar\b",
    "da": r"\bjeg er\b.{0,40}\b(p[åa] ferie|frav[æa]rende|ikke p[åa] kontoret|ude af huset|p[åa] barsel)\b"
    r"|\btilbage (p[åa] kontoret|igen)\b|\bautomatisk svar\b",
    "no": r"\bjeg er\b.{0,40}\b(p[åa] ferie|borte|ikke p[åa] kontoret|frav[æa]rende|i permisjon)\b"
    r"|\b(er )?tilbake (p[åa] kontoret|igjen)\b|\bautomatisk svar\b",
    "fi": r"\bolen\b.{0,30}\b(lomalla|poissa|vuosilomalla|matkoilla|ty[öo]matkalla)\b"
    r"|\bpalaan\b|\bautomaattinen vastaus\b",
    "pl": r"\bprzebywam\b.{0,30}\b(na urlopie|poza biurem|w delegacji|na zwolnieniu)\b|\bjestem\b.{0,30}\bw delegacji\b|\bjestem\b.{0,30}\b(na urlopie|poza biurem|nieobecn[ya]|na zwolnieniu)\b"
    r"|\bwracam\b|\bb[ęe]d[ęe] (dost[ęe]pn[ya]|w biurze)\b|\b(automatyczna odpowied[źz]|odpowied[źz] automatyczna)\b",
    "ja": r"不在にして|不在のため|不在です|休暇(を|中)|出張(中|のため)|自動返信|自動応答|戻ります|返信が遅れ",
    "zh": r"不在办公室|不在辦公室|休假|自动回复|自動回覆|自动答复|出差|返回后|回来后|回來後",
}

# A person who is away but answering us proposes something; responders do not.
HUMAN_SIGNALS = (
    r"\blet'?s\b|\blet us\b|\bworks for (me|us)\b|\b\w+day works\b|\bsounds (good|great)\b"
    r"|\binterested\b|\bhow about\b|\bwe could\b|\bpasst\b|\bgerne\b|\bvolontiers\b"
)

# Subjects responders use, anchored at the start: "Re: Out of office furniture quote" is a reply.
AUTO_REPLY_SUBJECT = (
    r"automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|automatic response|auto:"
    r"|out of (the )?office|ooo\b|away from (the )?office|on vacation|on holiday|vacation"
    r"|abwesenheitsnotiz|abwesend|abwesenheit|automatische antwort|au(ß|ss)er haus|urlaub"
    r"|r[ée]ponse automatique|absence|absent|message d'absence|en cong[ée]"
    r"|respuesta autom[áa]tica|fuera de (la )?oficina|ausente|ausencia"
    r"|risposta automatica|fuori (ufficio|sede)|assente|assenza"
    r"|automatisch antwoord|afwezig|afwezigheid|resposta autom[áa]tica|aus[êe]ncia"
    r"|autosvar|automatiskt svar|automatisk svar|fr[åa]nvaro|frav[æa]r|ferie|semester"
    r"|automaattinen vastaus|poissa|poissaolo|lomalla"
    r"|odpowied[źz] automatyczna|automatyczna odpowied[źz]|nieobecno[śs][ćc]|urlop"
    r"|自動返信|自動応答|不在|自动回复|自動回覆|自动答复|休假"
)


def compiled(table: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {lang: re.compile(pattern, re.I) for lang, pattern in table.items()}
