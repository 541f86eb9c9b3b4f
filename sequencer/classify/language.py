"""Which language a person wrote in: reported with each verdict, and used to tell which
phrase lists apply.

py3langid (a maintained fork of langid.py) ships its own model and needs no network; it is
restricted to the languages sales teams meet, so a two-word "Danke schön" is not read as
Afrikaans. Japanese and Chinese are told apart by script first (kana means Japanese), which
is more reliable on a short line than any statistical model. Too little text, or a low
confidence, gives None rather than a guess.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "ja", "zh")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_LETTER = re.compile(r"[^\W\d_]", re.U)
MIN_LETTERS = 12
MIN_CONFIDENCE = 0.5


@lru_cache(maxsize=1)
def _identifier() -> Any:
    """Loaded once per process (about a second): the model is read from the package's data."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text`` among LANGUAGES, or None when it cannot be told."""
    text = re.sub(r"https?://\S+|\S+@\S+", " ", text[:4000])
    if _KANA.search(text):
        return "ja"
    if len(_HAN.findall(text)) >= 2:
        return "zh"
    if len(_LETTER.findall(text)) < MIN_LETTERS:
        return None
    try:
        language, confidence = _identifier().classify(text)
    except Exception:  # a model problem must never stop classification
        return None
    return str(language) if confidence >= MIN_CONFIDENCE else None
