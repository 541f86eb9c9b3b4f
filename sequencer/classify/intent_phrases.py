"""What people write when they mean "not now", "talk to my colleague", "let's meet", "no".

One pattern per intent and language (the opt-out languages of ``phrases``: en, de, fr, es,
it, pt, nl, sv, da, no, pl, fi, ja, zh), like ``phrases``: every language is
tried whatever the detected one, the language only names the evidence. Patterns are read
against the new text of a reply (quotes and signature stripped), lowercased by the regex
flag, with ’ already turned into '. Japanese and Chinese patterns have no ``\b`` (no word
boundary between ideographs).
"""

from __future__ import annotations

import re

# "Not now" without a period is still not_now (the default delay applies).
DEFER: dict[str, str] = {
    "en": r"\bnot (right )?now\b|\bnot the right time\b|\bnot at (the|this) (moment|time|point)\b|\bnot this (quarter|year|month|season)\b"
    r"|\b(no|not)\b[^.!?\n]{0,40}\b(right now|at the moment|at this time|for now|currently|this (quarter|year))\b"
    r"|\bmaybe later\b|\blater (this|in the|next) (year|quarter)\b|\b(get|come|circle) back to (me|us)\b"
    r"|\b(reach|check|circle|follow) (out|back|up)( with (me|us))?( again)? (in|after|next|around|early|later)\b"
    r"|\btry (me|us) (again )?(in|after|next|around|later|early)\b|\btouch base (again )?(in|after|next|later)\b"
    r"|\b(contact|ping|email|call) (me|us) (again )?(in|after|next|later|around|early)\b|\brevisit (this|it)\b"
    r"|\bno budget (until|before|this|for)\b|\b(timing|the timing) (is|isn't|is not) (not )?(right|ideal)\b"
    r"|\bbad timing\b|\btoo (early|soon) for us\b|\breconnect (in|after|next|later)\b|\bbusy until\b",
    "de": r"\bnicht jetzt\b|\b(im moment|momentan|derzeit|aktuell|zurzeit|gerade|dieses jahr|dieses quartal)\b"
    r"[^.!?\n]{0,30}\b(nicht|kein|keine|keinen)\b|\b(nicht|kein|keine|keinen)\b[^.!?\n]{0,30}"
    r"\b(im moment|momentan|derzeit|aktuell|zurzeit|dieses jahr|dieses quartal)\b"
    r"|\bmelden sie sich\b[^.!?\n]{0,40}\b(wieder|nochmal|noch einmal|erneut)\b"
    r"|\b(kommen|gehen) sie\b[^.!?\n]{0,40}\bzu\b|\bzu einem späteren zeitpunkt\b|\bspäter (noch einmal|nochmal|wieder)\b"
    r"|\b(wieder|nochmal|noch einmal|erneut) (melden|kontaktieren|anschreiben|ansprechen)\b|\bpasst (es )?(leider )?(gerade |jetzt )?nicht\b",
    "fr": r"\bpas (pour le moment|maintenant|en ce moment|pour l'instant|tout de suite|cette année|ce trimestre)\b"
    r"|\brevenez vers (moi|nous)\b|\b(re)?contactez[- ](moi|nous)\b|\brelancez[- ](moi|nous)\b|\breprenez contact\b"
    r"|\bplus tard\b|\bà un autre moment\b|\bpas le bon moment\b|\bn'est pas le moment\b|\b(re)?prenons contact\b",
    "es": r"\bahora (mismo )?no\b|\bpor ahora no\b|\b(en este|de) momento no\b|\bno es (el |un )?buen momento\b"
    r"|\bvuelv[ae] a (contactar|escribir|llamar)|\b(contácte|contacte|escríba|escribe|llámé|llame)(me|nos)\b"
    r"|\bretomemos\b|\bretomar (el tema|la conversación)\b|\bmás adelante\b|\bmás tarde\b|\bpor el momento no\b",
    "it": r"\bnon (ora|adesso|in questo (momento|periodo))\b|\b(al|per il) momento no\b|\bper ora no\b|\bora come ora no\b"
    r"|\bnon (è|e') (il|un) (momento|buon momento)\b|\bnon (è|e') il momento giusto\b|\bpiù avanti\b|\bpiù in là\b"
    r"|\bricontatt(ami|atemi|armi|i|erci|arci)\b|\bmi ricontatti\b|\brisentiamoci\b|\bci risentiamo\b|\bne riparliamo\b"
    r"|\briparliamone\b|\bmi riscriv(a|i)\b|\briscriv(imi|etemi|ermi)\b|\b(torni|tornate) a (scrivermi|contattarmi)\b"
    r"|\bquest'anno no\b|\bnon abbiamo (ancora )?(il )?budget\b|\bin questo momento non\b",
    "pt": r"\bagora não\b|\bnão (é )?agora\b|\b(no|neste) momento não\b|\bpor (enquanto|agora) não\b"
    r"|\bnão é (um |o )?(bom )?momento\b|\bnão é a (melhor )?altura\b|\bmais (para a )?frente\b|\bmais adiante\b"
    r"|\bvolt(e|a) a (entrar em contato|entrar em contacto|contactar|contatar|escrever|falar)"
    r"|\b(entre|entra) em conta(c)?to (novamente|de novo|comigo)\b|\bretom(ar|amos|emos)\b|\bfal(e|a|ar) comigo (em|depois|no|na|novamente)\b"
    r"|\bcontacte-me\b|\bme procure\b|\bprocure-me\b|\bneste momento não\b",
    "nl": r"\bnu (even )?niet\b|\bniet nu\b|\b(op dit moment|momenteel|voorlopig|op het moment) (even )?niet\b"
    r"|\bgeen (goed|geschikt) moment\b|\bniet het (juiste|goede) moment\b|\blater dit jaar\b|\bop een later moment\b"
    r"|\bneem\b[^.!?\n]{0,40}\bcontact (met (mij|me|ons) )?op\b|\bbenader (mij|me|ons) (opnieuw|later|in|na)\b"
    r"|\b(kom|komen) (er )?(later )?(graag |gerust )?op terug\b|\bmail (mij|me|ons) (dan )?(opnieuw|later|nog eens)\b"
    r"|\blater (nog eens|opnieuw)\b|\bkijken we er (weer|opnieuw) naar\b|\bniet aan de orde\b",
    "sv": r"\binte (just )?nu\b|\bjust nu inte\b|\b(för tillfället|för närvarande) inte\b|\binte för (tillfället|närvarande)\b"
    r"|\binte aktuellt\b|\bhör av dig (igen|i|efter|om (ett|en|några|\d))\b|\båterkom\b|\bkontakta (mig|oss) (igen|i|efter|senare)\b|\bsenare i år\b"
    r"|\binte rätt (tid|tidpunkt)\b|\bdålig timing\b|\blängre fram\b",
    "da": r"\bikke (lige )?nu\b|\bikke på nuværende tidspunkt\b|\bikke aktuelt\b|\bkontakt (mig|os) (igen|i|efter|senere)\b"
    r"|\bvend (gerne )?tilbage\b|\bskriv (gerne )?(igen|tilbage)\b|\bpå et senere tidspunkt\b|\bikke det rette tidspunkt\b"
    r"|\bsenere på året\b|\bhar (for )?travlt (lige nu|i øjeblikket|indtil)\b",
    "no": r"\bikke (akkurat )?nå\b|\bikke for øyeblikket\b|\bikke aktuelt\b|\bkontakt (meg|oss) (igjen|i|etter|senere)\b"
    r"|\bta (gjerne )?kontakt( med (meg|oss))? igjen\b|\bpå et senere tidspunkt\b|\bikke (riktig|rett) tidspunkt\b"
    r"|\bpasser (dårlig|ikke) (nå|akkurat nå)\b|\bsenere i år\b|\bta det opp igjen\b",
    "pl": r"\bnie teraz\b|\bteraz nie\b|\bnie w tej chwili\b|\bw tej chwili nie\b|\bobecnie nie\b|\bna razie nie\b|\bna chwilę obecną nie\b"
    r"|\b(to )?nie jest (to )?(dobry|odpowiedni) (moment|czas)\b|\bpóźniej (w tym roku|w przyszłym)|\bodezw(ij|ijcie|ać|a) się\b|\bproszę się odezwać\b"
    r"|\bwróćmy do (tematu|rozmowy)\b|\bproszę wrócić\b|\bwrócimy do tematu\b|\bskontaktuj(cie)? się (ze mną|z nami) (ponownie|w|po|za)\b"
    r"|\bproszę o (ponowny )?kontakt (w|po|za|ponownie)\b",
    "fi": r"\bei (juuri )?nyt\b|\bei tällä hetkellä\b|\bmyöhemmin (uudelleen|tänä vuonna)\b|\bottakaa yhteyttä uudelleen\b|\bpalataan asiaan\b"
    r"|\bolkaa yhteydessä\b|\bota yhteyttä uudelleen\b",
    "ja": r"(今は|現時点では|現在は|今のところ|現状では)(?![^。！？\n]{0,20}予定)[^。！？\n]{0,20}(忙し|難し|ありません|できません|ない|タイミング|余裕|見送|無理|厳し)|時期尚早|改めて(ご)?連絡|また(ご)?連絡|タイミングが(合わ|悪)|後日|落ち着いたら"
    r"|その頃に|改めてご相談|改めてお願い",
    "zh": r"(现在|現在|目前|暂时|暫時|现阶段|現階段)(暂时|暫時|还是|還是|还|還)?(不|没有|沒有)(太)?(需要|考虑|考慮|方便|合适|合適|打算|计划|計劃)|暂不(需要|考虑)|暫不(需要|考慮)|時機不|时机不|以后再|以後再|再联系|再聯繫|再联络|晚点再"
    r"|过段时间|過段時間|改天|到时候再|到時候再|再说吧|再說吧",
}
# A period plus one of these is a deferral too: "let's talk in March", "schreiben Sie mir im Mai".
RECONTACT = (
    r"\b(talk|speak|chat|contact|reach out|write|email|get in touch|follow up|reconnect|connect|sprechen"
    r"|melden|kontaktieren|schreiben|telefonieren|parler|contacter|écrire|échanger|recontacter|hablar"
    r"|hablamos|contactar|escribir|conversar|again|wieder|nochmal|erneut|de nouveau|à nouveau|de nuevo|otra vez"
    r"|sentirci|sentiamoci|risentirci|risentiamoci|ricontatt\w*|riscriv\w*|parlarne|riparlarne|scrivermi"
    r"|contattarmi|di nuovo|nuovamente|falar|conversar|retomar|contato|contatar|contactar|escrever|novamente"
    r"|de novo|contact|bellen|mailen|spreken|praten|opnieuw|weer|nog eens|kontakta|höras|prata|hör av"
    r"|återkom\w*|igen|kontakt\w*|skriv\w*|tale|snakke|høre|igjen|odezw\w*|napisa\w*|porozmawia\w*|wróć\w*"
    r"|wrócić|ponownie|yhteyttä|palataan|uudelleen)\b"
    r"|連絡|話し|相談|改めて|联系|聯繫|联络|再说|再說|再谈|再談|沟通|溝通"
)
NOT_INTERESTED: dict[str, str] = {
    "en": r"\bnot interested\b|\bno interest\b|\bno,? thanks?( you)?\b|\bnot (a|the right) (good )?fit\b"
    r"|\bnot for us\b|\bwe('re| are) (all set|happy with|already (using|working with))\b|\bwe already (have|use)\b"
    r"|\b(we'll|we will|i'll|i will) pass\b|\bnot looking (for|to)\b|\b(don't|do not|no) need (for|this|it|that)\b",
    "de": r"\bkein(erlei)? interesse\b|\bnicht interessiert\b|\bnicht interessant\b|\bkein bedarf\b|\bnein,? danke\b"
    r"|\bbrauchen wir nicht\b|\bhaben (wir )?bereits\b|\bsind (gut )?versorgt\b|\bpasst nicht zu uns\b",
    "fr": r"\bpas intéressée?s?\b|\baucun intérêt\b|\bnon,? merci\b|\bpas (de )?besoin\b|\bnous avons déjà\b"
    r"|\b(ça|cela) ne nous intéresse pas\b|\bne (nous|m') intéresse pas\b",
    "es": r"\bno (me|nos) interesa\b|\bno estamos interesados\b|\bno estoy interesad[oa]\b|\bno,? gracias\b"
    r"|\bya (tenemos|contamos con)\b|\bno (lo )?necesitamos\b",
    "it": r"\bnon (sono|siamo) interessat[oaie]\b|\bnon (mi|ci) interessa\b|\bnessun interesse\b|\bno,? grazie\b"
    r"|\bnon fa per noi\b|\babbiamo già (un|una|uno)\b|\bnon ne abbiamo bisogno\b|\bnon abbiamo bisogno\b|\bsiamo (già )?a posto\b",
    "pt": r"\bnão (estou|estamos) interessad[oa]s?\b|\bnão (me|nos) interessa\b|\bsem interesse\b|\bnão temos interesse\b"
    r"|\bnão,? obrigad[oa]\b|\bjá temos (um|uma)\b|\bnão precisamos\b|\bnão é para nós\b",
    "nl": r"\bgeen interesse\b|\bniet geïnteresseerd\b|\bniet geinteresseerd\b|\bnee,? dank(je| je| u)\b|\bgeen behoefte\b"
    r"|\bwe hebben (hier )?al (een|iets|een andere)\b|\bniet nodig\b|\bniets voor ons\b",
    "sv": r"\binte intresserad(e)?\b|\binget intresse\b|\bnej,? tack\b|\bvi har redan (en|ett|någon|några)\b|\binget behov\b|\bbehöver (inte|inget)\b"
    r"|\binte för oss\b",
    "da": r"\bikke interesseret\b|\bingen interesse\b|\bnej,? tak\b|\bvi har allerede (en|et|nogen)\b|\bintet behov\b|\bhar ikke brug for\b"
    r"|\bikke noget for os\b",
    "no": r"\bikke interessert\b|\bingen interesse\b|\bnei,? takk\b|\bvi har allerede (en|et|noen)\b|\bikke behov\b|\btrenger ikke\b"
    r"|\bikke noe for oss\b",
    "pl": r"\bnie (jesteśmy|jestem) zainteresowan[iya]\b|\bnie interesuje (mnie|nas)\b|\bbrak zainteresowania\b"
    r"|\bnie,? dziękuję\b|\bmamy już (dostawcę|system|rozwiązanie|podobne)\b|\bnie potrzebujemy\b|\bnie jesteśmy zainteresowane\b",
    "fi": r"\bei kiinnosta\b|\bemme ole kiinnostuneita\b|\ben ole kiinnostunut\b|\bei kiitos\b|\bemme tarvitse\b",
    "ja": r"興味(が|は)(ありません|ございません|ない)|必要(ありません|ない|ございません)|結構です|不要です|見送らせて|見送りとさせて"
    r"|お断り|検討しておりません|予定は(ありません|ございません|ない)|間に合って(い)?ます",
    "zh": r"不感兴趣|不感興趣|没有兴趣|沒有興趣|没兴趣|不需要|不用了|暂无需求|没有需求|沒有需求|已经有|已經有|不考虑|不考慮",
}
WRONG_PERSON: dict[str, str] = {
    "en": r"\b(not|no longer) the (right|correct|best|appropriate) (person|contact|one)\b|\bwrong (person|contact)\b"
    r"|\bno longer (with|at|work(ing)? (at|for|with))\b|\b(i )?left the company\b|\b(not|isn't) my (area|department|responsibility|call)\b"
    r"|\bi (don't|do not) (handle|deal with|look after)\b|\bnot (responsible|in charge)\b",
    "de": r"\bnicht (der|die) richtige\b|\bnicht zuständig\b|\bfalsche[rn]? ansprechpartner|\bnicht (mehr )?im unternehmen\b"
    r"|\barbeite nicht mehr\b|\bnicht mehr bei\b|\bnicht mein (bereich|thema)\b",
    "fr": r"\bpas la bonne personne\b|\bpas le bon (interlocuteur|contact)\b|\bne (suis|serai) pas (la|le) (bonne|bon)\b"
    r"|\bne m'occupe pas\b|\bne fais plus partie\b|\bpas de mon ressort\b|\bne travaille plus\b|\bpas en charge\b",
    "es": r"\bno soy (la persona|el contacto) (adecuad[oa]|indicad[oa]|correct[oa])\b|\bno es mi área\b|\bno me encargo\b"
    r"|\bpersona equivocada\b|\bya no trabajo\b|\bno llevo (este|ese) tema\b|\bno soy (el|la) responsable\b",
    "it": r"\bnon sono (la persona giusta|la persona adatta|il referente|la referente|il responsabile|la responsabile)\b"
    r"|\bnon mi occupo\b|\bnon (è|e') di mia competenza\b|\bnon lavoro più\b|\bnon faccio più parte\b",
    "pt": r"\bnão sou a pessoa (certa|indicada|adequada|correta)\b|\bnão sou (o|a) responsável\b|\bnão cuido\b"
    r"|\bnão é (da minha área|comigo)\b|\bjá não trabalho\b|\bnão trabalho mais\b",
    "nl": r"\bniet de (juiste|aangewezen|goede) (contact)?persoon\b|\bga (hier |daar )?niet over\b|\bniet verantwoordelijk\b"
    r"|\bwerk (hier )?niet meer\b|\bniet meer werkzaam\b",
    "sv": r"\binte (den )?rätt(a)? person(en)?\b|\binte ansvarig\b|\b(jobbar|arbetar) inte (längre|kvar)\b|\binte mitt område\b"
    r"|\bhanterar inte\b",
    "da": r"\bikke den (rette|rigtige)( person)?\b|\bikke ansvarlig\b|\barbejder ikke (længere|her længere)\b|\bikke mit område\b"
    r"|\bdet er ikke mig,? der\b",
    "no": r"\bikke (rett|riktig|den rette) person\b|\bikke ansvarlig\b|\bjobber ikke (lenger|her lenger)\b|\bikke mitt område\b"
    r"|\bdet er ikke meg som\b",
    "pl": r"\bnie jestem (właściwą|odpowiednią) osobą\b|\bnie zajmuję się\b|\bnie odpowiadam za\b|\bjuż nie pracuję\b"
    r"|\bnie pracuję już\b",
    "fi": r"\ben ole oikea henkilö\b|\ben vastaa\b|\ben työskentele enää\b",
    "ja": r"担当(ではありません|ではございません|外|ではない|じゃない)|(私|わたし)の担当では|退職(いた)?しました|部署が違|異動(いた)?しました",
    "zh": r"不是负责人|不是負責人|不负责|不負責|不是(合适|合適|对|對)的人|不归我|不歸我|已离职|已離職|已经离职|不在(这家|本)公司",
}
# The cue before a referred person's name or address.
REFER: dict[str, str] = {
    "en": r"\b(talk|speak) (to|with)|\breach out to|\bcontact|\bget in touch with|\bemail|\bwrite to|\bask"
    r"|\bi'?ve (cc'?d|copied|looped in|added)|\bcc'?ing|\bcopying|\bforward(ed|ing)? (this|it|your (email|message|note)) to"
    r"|\blooping in|\bconnect you with|\bintroduce you to",
    "de": r"\bwenden sie sich (bitte |gerne )?an|\bsprechen sie (bitte |gerne )?mit|\bkontaktieren sie|\bschreiben sie"
    r"|\bmelden sie sich (bitte |gerne )?bei|\bin (kopie|cc)|\bweitergeleitet an|\bleite (ihre|die) (mail|nachricht|e-mail) an",
    "fr": r"\bcontactez|\badressez-vous à|\bvoy(ez|ons) avec|\bvoir avec|\bécrivez à|\ben copie|\bje transmets (votre (message|mail) )?à"
    r"|\bj'ai transmis (votre (message|mail) )?à|\bje mets en copie",
    "es": r"\bhable con|\bhablar con|\bcontacte (a|con)|\bpóngase en contacto con|\bescriba a|\ben copia|\ble reenvío a"
    r"|\bhe reenviado (su|tu) (correo|mensaje) a|\bpongo en copia a",
    "it": r"\bcontatt(i|a|ate)\b|\b(deve|può|dovrebbe|puoi|devi) (sentire|contattare)\b|\bsi rivolga\b|\brivolg(iti|etevi)\b|\bscriv(a|i) a\b|\bparl(i|a) con\b|\bin copia\b"
    r"|\bho inoltrato\b|\bho messo in copia\b|\bmetto in copia\b",
    "pt": r"\bfal(e|a|ar) com\b|\bentr(e|a) em conta(c)?to com\b|\bcontate\b|\bcontacte\b|\bprocure (o|a)\b|\bescrev(a|e) para\b|\bem cópia\b"
    r"|\bcoloquei em cópia\b|\bencaminhei\b",
    "nl": r"\bneem (dan |gerust |even )?contact op met\b|\bcontact opnemen met\b|\bspreek met\b|\bbel (met )?(mijn|onze)\b|\bmail (met |naar )?(mijn|onze|naar)\b|\bwend u tot\b"
    r"|\bin (de )?cc\b|\bdoorgestuurd naar\b",
    "sv": r"\bkontakta\b|\bprata med\b|\btala med\b|\bvänd dig till\b|\bhör av dig till\b|\bskriv till\b|\bi kopia\b|\bvidarebefordrat\b",
    "da": r"\bkontakt(?=\s+(?:(?:venligst|gerne|min|mit|vores)\b|(?-i:[A-ZÆØÅ])))|\btal med\b|\bsnak med\b|\bhenvend dig til\b|\bskriv til\b|\bi cc\b|\bvideresendt\b",
    "no": r"\bkontakt(?=\s+(?:(?:gjerne|min|mi|mitt|vår)\b|(?-i:[A-ZÆØÅ])))|\bprøv(?=\s+(?:med\s+)?(?-i:[A-ZÆØÅ]))|\bsnakk med\b|\bta kontakt med\b|\bhenvend deg til\b|\bskriv til\b|\bpå kopi\b|\bvideresendt\b",
    "pl": r"\bskontaktuj(cie)? się z\b|\bproszę (się )?(skontaktować|kontaktować) (się )?z\b|\bporozmawiaj z\b|\bproszę napisać do\b"
    r"|\bw kopii\b|\bprzekazał(em|am)\b",
    "fi": r"\bottakaa yhteyttä\b|\bota yhteyttä\b|\bkääntykää\b",
    "ja": r"にご連絡|に連絡して|宛にお願い|にお問い合わせ|担当は|担当者は|CCに入れ|ccに入れ|転送しました",
    "zh": r"请联系|請聯繫|请联络|请找|請找|联系我的同事|负责人是|負責人是|抄送|转发给|轉發給",
}
# Said of the referred person: "Jane is the right person", "zuständig ist Frau Müller".
REFER_ROLE = (
    r"\b(is|would be) (the|a) (right|best|better|correct) (person|contact)|\b(handles|owns|runs|manages|is in charge of|is responsible for)\b"
    r"|\bist (der|die) richtige|\bzuständig\b|\best (la|le) (bonne|bon) (personne|interlocuteur)|\bs'occupe de|\best en charge"
    r"|\bes la persona (adecuada|indicada)|\bse encarga|\bestá a cargo"
    r"|\b(è|e') (la persona giusta|il responsabile|la responsabile|responsabile)|\bsi occupa\b|\bsegue (gli|le|il|la|i)\b"
    r"|\bé a pessoa (certa|indicada)|\bé (o|a) responsável|\bcuida d"
    r"|\bis (hiervoor |daarvoor |hier )?de juiste (contact)?persoon|\bcuida (disso|disto|de)\b|\bhar hand om\b|\bsköter\b|\btager sig af\b"
    r"|\bgaat (daar|hier|hierover) over|\bis verantwoordelijk"
    r"|\bär rätt person|\bansvarar för|\ber den rette|\ber ansvarlig|\bstår for|\ber rett person|\bhar ansvar for"
    r"|\bjest (właściwą|odpowiednią) osobą|\bzajmuje się|\bodpowiada za"
    r"|が担当|担当者|负责|負責"
)
# "We already have one": with it, a "not for now" that names no period is a no ("我们已经有类似的
# 系统了，暂时不考虑"), not a deferral.
ALREADY = (
    r"\bwe('re| are)? already (have|use|using|work with|working with)\b|\bhaben (wir )?bereits (ein|eine|einen)\b|\bnous avons déjà (un|une)\b"
    r"|\bya (tenemos|contamos con|usamos)\b|\babbiamo già (un|una|uno)\b|\bjá temos (um|uma)\b|\bwe (hebben|werken) al (een|met)\b"
    r"|\bvi har redan (en|ett)\b|\bvi har allerede (en|et)\b|\bmamy już (dostawcę|system|rozwiązanie|podobne|takie)\b|すでに(導入|利用|使用)|既に(導入|利用|使用)"
    r"|已经有|已經有|已经在用|已經在用"
)
MEETING: dict[str, str] = {
    "en": r"\b(let's|let us|can we|could we|shall we|happy to|glad to|free to|want to|like to|love to) (meet|hop on a call|jump on a call|set up a (call|meeting|time)|schedule|book|have a (call|chat|quick call)|talk|chat|speak|connect)"
    r"|\bcalendar invite\b|\bsend (me |over )?(an |a )?invite\b|\bcalendly\b|\bare you (free|available)\b|\bdoes \w+ (at \S+ )?work for you\b"
    r"|\bhow about (monday|tuesday|wednesday|thursday|friday|tomorrow|next)\b|\bbook a (time|slot|meeting|demo|call)\b|\bschedule a (call|meeting|demo)\b"
    r"|\b(set up|arrange) a (call|meeting|demo)\b|\bmy calendar\b|\b\d{1,2}(:\d\d)? ?(am|pm)\b",
    "de": r"\btermin\b|\btelefonat\b|\btelefonieren\b|\bkurzes gespräch\b|\b(treffen|sprechen|besprechen) wir\b|\bhaben sie\b[^.!?\n]{0,30}\bzeit\b"
    r"|\bpasst (ihnen|es)\b[^.!?\n]{0,20}\b(am|um|nächste)\b|\bum \d{1,2}([:.]\d\d)? uhr\b|\beinladung\b|\bkalender\b|\bvideocall\b",
    "fr": r"\brendez-vous\b|\brdv\b|\bun (appel|échange|call)\b|\bappelons-nous\b|\bêtes-vous disponible\b|\bdisponible (le |ce )?(lundi|mardi|mercredi|jeudi|vendredi|demain)\b"
    r"|\bà \d{1,2}h(\d\d)?\b|\binvitation\b|\bvisio\b|\bcaler un\b|\bse voir\b",
    "es": r"\breunión\b|\breunirnos\b|\buna llamada\b|\bllamarnos\b|\bagendar\b|\bagendemos\b|\b(le|te) viene bien\b|\bestá disponible\b"
    r"|\ba las \d{1,2}([:.]\d\d)?\b|\buna cita\b|\bvideollamada\b|\bvernos\b",
    "it": r"\briunione\b|\bun incontro\b|\bincontrarci\b|\buna (breve )?(chiamata|call|telefonata)\b|\bsentirci\b|\bvederci\b"
    r"|\bappuntamento\b|\b(è|sei) disponibile\b|\balle \d{1,2}([:.]\d\d)?\b|\bfissare\b|\borganizzare una\b|\bvideochiamata\b"
    r"|\b(le|ti|mi) va bene\b",
    "pt": r"\breunião\b|\buma (chamada|ligação|call)\b|\bmarcar\b|\bagendar\b|\b(está|estás) disponível\b|\bàs \d{1,2}(h|:\d\d)?\b"
    r"|\bvideochamada\b|\bconversar (na|no|amanhã)\b",
    "nl": r"\bafspraak\b|\been (kort )?gesprek\b|\b(even )?bellen\b|\bbelafspraak\b|\been call\b|\bkennismaking\b|\bschikt het\b"
    r"|\bpast het (u|je|jou)\b|\bom \d{1,2}([:.]\d\d)? uur\b|\b(ben je|bent u) beschikbaar\b|\binplannen\b|\bvideogesprek\b",
    "sv": r"\bmöte\b|\bett (kort )?samtal\b|\bringas\b|\bboka (ett|en)\b|\bpassar det\b|\bklockan \d|\bkl\.? \d|\bär du ledig\b|\bträffas\b|\bvi ses\b",
    "da": r"\bmøde\b|\bet (kort )?opkald\b|\ben (kort )?samtale\b|\bpasser det\b|\bklokken \d|\bkl\.? \d|\bbooke\b|\bmødes\b",
    "no": r"\bmøte\b|\ben (kort )?samtale\b|\bringes\b|\bpasser det\b|\bklokka \d|\bklokken \d|\bkl\.? \d|\bbooke\b|\btreffes\b",
    "pl": r"\bspotkanie\b|\bspotkać się\b|\brozmow(ę|a) (telefoniczn(ą|a)|online)\b|\bzadzwonić\b|\bumówić\b|\bumówmy\b"
    r"|\bpasuje (panu|pani|ci|państwu)\b|\bo godzinie\b|\bo (godz\.? )?\d{1,2}[:.]\d\d\b|\b(jest pan|jest pani) dostępn(y|a)\b",
    "fi": r"\btapaaminen\b|\bpalaveri\b|\bpuhelu\b|\bsopisiko\b|\bkello \d|\bklo \d",
    "ja": r"打ち合わせ|ミーティング|面談|お電話|ご都合|日程|\d{1,2}時|お時間(を)?いただけ|オンライン(会議|面談)|いかがでしょうか",
    "zh": r"开会|開會|会议|會議|见面|見面|通话|通話|电话沟通|打电话|打電話|约个时间|約個時間|有空|方便(吗|嗎|的话)|\d{1,2}点|\d{1,2}點|[一二两三四五六七八九十]{1,3}点|(通|打)个电话|通電話|通电话"
    r"|视频会议|面谈|面談",
}
INTERESTED: dict[str, str] = {
    "en": r"\binterested\b|\bsounds (good|interesting|great|promising)\b|\btell me more\b|\bsend (me |us |over )?(the |a |your |some )?(more )?(info|details|information|pricing|quote|proposal|offer)\b"
    r"|\bkeen\b|\bwould love to (learn|hear|see)\b|\bhappy to (learn|hear)\b|\bcurious\b|\blearn more\b|\bwhat (does it|would it) cost\b",
    "de": r"\binteressant\b|\binteressiert\b|\bgerne mehr\b|\bmehr erfahren\b|\b(schicken|senden) sie (mir|uns) (gerne )?(mehr|weitere|infos|informationen|ein angebot)"
    r"|\bklingt gut\b|\bwas kostet\b",
    "fr": r"\bintéress|\ben savoir plus\b|\benvoyez-(moi|nous)\b|\bça me parle\b|\bvolontiers\b|\bquel est le (prix|tarif)\b",
    "es": r"\bme interesa\b|\bnos interesa\b|\binteresante\b|\bmás información\b|\bcuénte(me|nos) más\b|\benvíe(me|nos)\b|\bsuena bien\b",
    "it": r"\binteressante\b|\binteressat[oaie]\b|\b(mi|ci) interessa\b|\bsaperne di più\b|\b(maggiori|più) informazioni\b"
    r"|\bmi (mandi|invii|manda|invia)\b|\binviatemi\b|\bmandatemi\b|\bquanto costa\b|\bvolentieri\b",
    "pt": r"\binteressante\b|\binteressad[oa]s?\b|\b(me|nos) interessa\b|\bsaber mais\b|\bmais informações\b|\benvie-me\b"
    r"|\bme envi(e|a)\b|\bquanto custa\b|\bparece (bom|ótimo)\b",
    "nl": r"\binteressant\b|\bgeïnteresseerd\b|\bmeer informatie\b|\bmeer weten\b|\bstuur (me|mij|ons) (gerust |graag )?(meer|wat|de|een)\b"
    r"|\bklinkt goed\b|\bwat kost\b",
    "sv": r"\bintressant\b|\bintresserad(e)?\b|\bmer information\b|\bveta mer\b|\bskicka (gärna )?(mer|information|en offert)\b"
    r"|\blåter bra\b|\bvad kostar\b",
    "da": r"\binteressant\b|\binteresseret\b|\bmere information\b|\bhøre mere\b|\bvide mere\b|\bsend (gerne )?(mere|information|et tilbud)\b"
    r"|\blyder godt\b|\bhvad koster\b",
    "no": r"\binteressant\b|\binteressert\b|\bmer informasjon\b|\bhøre mer\b|\bvite mer\b|\bsend (gjerne )?(mer|informasjon|et tilbud)\b"
    r"|\bhøres bra ut\b|\bhva koster\b",
    "pl": r"\binteresując(e|a)\b|\bciekaw(e|ie)\b|\bzainteresowan(y|a|i)\b|\binteresuje (mnie|nas)\b|\bwięcej informacji\b"
    r"|\bproszę (o )?przesła(ć|nie)\b|\bile kosztuje\b|\bchętnie\b",
    "fi": r"\bkiinnostaa\b|\bkiinnostava\b|\blisätietoja\b|\bkuulostaa hyvältä\b",
    "ja": r"興味があ(ります|る)|関心があります|詳しく|資料を(送|いただ)|お見積|ぜひ|面白そう",
    "zh": r"感兴趣|感興趣|有兴趣|有興趣|了解更多|详细|詳細|资料|資料|报价|報價|听起来不错|聽起來不錯",
}


def compiled(table: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {language: re.compile(pattern, re.I) for language, pattern in table.items()}
