"""The human part of a message: what a person typed, without quotes, attributions, signature.

Rules that read words (opt-out requests, return dates) must not see the quoted touch we sent,
or our own wording would decide the verdict.
"""

from __future__ import annotations

import html
import re

_ATTRIBUTION = re.compile(
    # "On <date>, <name> wrote:" in the languages of phrases.py (Gmail, Apple Mail, Thunderbird)
    r"^[ \t>]*(On|Am|Le|El|Il|Op|Em|Den|D\.|Dnia|W dniu|\d{1,4}[./-]|[a-zäöå]{2,4}\.?,? \d{1,2}[. ])[^\n]{0,200}(?:\n[^\n]{0,200}){0,2}?"
    r"\b(wrote|schrieb|a [ée]crit|escribi[óo]|ha scritto|schreef|escreveu|skrev|kirjoitti"
    r"|napisa[łl]\(?a?\)?)\b[^\n]{0,80}:[ \t]*$"
    r"|^[^\n]{0,200}(のメッセージ|さんは書きました|写道|寫道)[^\n]{0,40}[:：][ \t]*$"
    # Gmail's localized attribution without a verb: "<date> <name> <addr>:"
    r"|^[^\n]{0,40}\d[^\n]{0,200}<[^\s<>]+@[^\s<>]+>[ \t]*[:：][ \t]*$"
    r"|^[ \t]*-{2,}\s*(Original Message|Urspr[üu]ngliche Nachricht|Message d'origine"
    r"|Mensaje original|Messaggio originale|Oorspronkelijk bericht|Mensagem original"
    r"|Ursprungligt meddelande|Oprindelig meddelelse|Opprinnelig melding|Alkuper[äa]inen viesti"
    r"|Wiadomo[śs][ćc] oryginalna|Forwarded message|元のメッセージ|原始邮件)\s*-{2,}"
    r"|^[ \t]*Begin forwarded message:"
    r"|^[ \t]*_{8,}[ \t]*$"
    # Outlook's header block: From/Sent in each language
    r"|^[ \t]*\*?(From|Von|De|Da|Van|Fr[åa]n|Fra|L[äa]hett[äa]j[äa]|Od|差出人|发件人|寄件者)\*?[ \t]*[:：]"
    r"[^\n]*\n(?:[^\n]*\n){0,3}?[ \t]*\*?(Sent|Date|Gesendet|Datum|Envoy[ée]|Enviado|Enviada"
    r"|Fecha|Inviato|Verzonden|Skickat|Sendt|L[äa]hetetty|Wys[łl]ano|Data|送信日時|发送时间|傳送時間"
    r"|日時|时间)\*?[ \t]*[:：]",
    re.M | re.I,
)
_SIGNATURE = re.compile(
    r"^-- ?$|^(Sent from my |Sent from Outlook|Get Outlook for |Von meinem .* gesendet"
    r"|Envoy[ée] de mon |Enviado desde mi |Enviado do meu |Inviato da |Verzonden vanaf mijn "
    r"|Skickat från min |Sendt fra min |L[äa]hetetty |Wys[łl]ane z |iPhoneから送信|发自我的)",
    re.M,
)
_HTML_QUOTE = re.compile(
    r"<div[^>]+(gmail_quote|divRplyFwdMsg|appendonsend|moz-cite-prefix|yahoo_quoted)"
    r"|<blockquote|<hr\b",
    re.I,
)


def cut_html_quote(html_text: str) -> str:
    """HTML mail quotes in markup (Gmail, Outlook, Yahoo), which flattening would lose."""
    match = _HTML_QUOTE.search(html_text)
    return html_text[: match.start()] if match else html_text


def html_to_text(html_text: str) -> str:
    """Good enough for rules and snippets; layout is irrelevant, only the words count."""
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1\s*>", " ", html_text)
    text = re.sub(r"(?i)<br\s*/?>|</(p|div|tr|li|h\d|table)\s*>", "\n", text)
    text = re.sub(r"<[^>]*>", "", text)
    return html.unescape(text).replace("\xa0", " ")


def strip_quoted(text: str) -> str:
    """The text a person typed: cut at the first attribution/forward block and signature,
    then drop ``>`` lines (interleaved quotes)."""
    text = text.replace("\r\n", "\n").replace("\u2019", "'")
    for pattern in (_ATTRIBUTION, _SIGNATURE):
        match = pattern.search(text)
        if match:
            text = text[: match.start()]
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return "\n".join(lines).strip()


def snippet(text: str, limit: int = 300) -> str:
    """Whitespace-collapsed, cut on a word boundary: enough for a notification line."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"
