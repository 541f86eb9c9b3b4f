"""What people write when they mean "not now", "talk to my colleague", "let's meet", "no".

One pattern per intent and language (en, de, fr, es), like ``phrases``: every language is
tried whatever the detected one, the language only names the evidence. Patterns are read
against the new text of a reply (quotes and signature stripped), lowercased by the regex
flag, with ’ already turned into '.
"""

from __future__ import annotations

import re

# "Not now" without a period is still not_now (the default delay applies).
DEFER: dict[str, str] = {
    "en": r"\bnot (right )?now\b|\bnot at (the|this) (moment|time|point)\b|\bnot this (quarter|year|month|season)\b"
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
}
# A period plus one of these is a deferral too: "let's talk in March", "schreiben Sie mir im Mai".
RECONTACT = (
    r"\b(talk|speak|chat|contact|reach out|write|email|get in touch|follow up|reconnect|connect|sprechen"
    r"|melden|kontaktieren|schreiben|telefonieren|parler|contacter|écrire|échanger|recontacter|hablar"
    r"|hablamos|contactar|escribir|conversar|again|wieder|nochmal|erneut|de nouveau|à nouveau|de nuevo|otra vez)\b"
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
}
# Said of the referred person: "Jane is the right person", "zuständig ist Frau Müller".
REFER_ROLE = (
    r"\b(is|would be) (the|a) (right|best|better|correct) (person|contact)|\b(handles|owns|runs|manages|is in charge of|is responsible for)\b"
    r"|\bist (der|die) richtige|\bzuständig\b|\best (la|le) (bonne|bon) (personne|interlocuteur)|\bs'occupe de|\best en charge"
    r"|\bes la persona (adecuada|indicada)|\bse encarga|\bestá a cargo"
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
}
INTERESTED: dict[str, str] = {
    "en": r"\binterested\b|\bsounds (good|interesting|great|promising)\b|\btell me more\b|\bsend (me |us |over )?(some )?(more )?(info|details|information|pricing)\b"
    r"|\bkeen\b|\bwould love to (learn|hear|see)\b|\bhappy to (learn|hear)\b|\bcurious\b|\blearn more\b|\bwhat (does it|would it) cost\b",
    "de": r"\binteressant\b|\binteressiert\b|\bgerne mehr\b|\bmehr erfahren\b|\b(schicken|senden) sie (mir|uns) (gerne )?(mehr|weitere|infos|informationen|ein angebot)"
    r"|\bklingt gut\b|\bwas kostet\b",
    "fr": r"\bintéress|\ben savoir plus\b|\benvoyez-(moi|nous)\b|\bça me parle\b|\bvolontiers\b|\bquel est le (prix|tarif)\b",
    "es": r"\bme interesa\b|\bnos interesa\b|\binteresante\b|\bmás información\b|\bcuénte(me|nos) más\b|\benvíe(me|nos)\b|\bsuena bien\b",
}


def compiled(table: dict[str, str]) -> dict[str, re.Pattern[str]]:
    return {language: re.compile(pattern, re.I) for language, pattern in table.items()}
