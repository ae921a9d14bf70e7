"""Arabic (and Latin) name matching for registry search: fold what people type differently.

The same name reaches the registry as "أحمد" and "احمد", "فاطمة" and "فاطمه", "مصطفى" and
"مصطفي", with or without diacritics and tatweel, "عبد الله" and "عبدالله". Both sides are
normalized before comparing, and a query word matches the start of a name word, so that a
partial name typed at reception still finds the household.
"""

from __future__ import annotations

import re
import unicodedata

_FOLDS = str.maketrans({
    # Hamza and madda on alef, and alef wasla, are written inconsistently: all become bare alef.
    "أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا",
    "ة": "ه",  # taa marbuta is often typed as haa
    "ى": "ي",  # alef maqsura is often typed as yaa, and the other way round
    "ؤ": "و", "ئ": "ي",
    "ی": "ي", "ک": "ك",  # Persian yeh and keheh, produced by some keyboards and imported files
    "ـ": None,  # tatweel (kashida) only stretches a word
    # Invisible marks copied along with text from documents and messages.
    "\u200b": None, "\u200c": None, "\u200d": None, "\u200e": None, "\u200f": None,
    "\u061c": None, "\ufeff": None,
    # Apostrophes and ayn/hamza signs inside transliterations: "Sa'id", "Saʿid" and "Said" are one name.
    "'": None, "\u2019": None, "\u2018": None, "`": None, "\u02bf": None, "\u02be": None,
    **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
    **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
})
_TOKEN = re.compile(r"[^\W_]+")
# Name parts written either joined or apart ("عبد الله" / "عبدالله", "ابو بكر" / "ابوبكر").
_COMPOUND_PREFIXES = ("عبد", "ابو")
_ARTICLE = "ال"


def normalize_arabic(text: str) -> str:
    """``text`` with hamza forms, taa marbuta, alef maqsura, diacritics, tatweel and case folded."""
    text = unicodedata.normalize("NFKC", text)  # presentation forms and ligatures become letters
    text = text.casefold().translate(_FOLDS)
    # After decomposition every remaining combining mark goes: Arabic tashkeel (U+064B-U+065F,
    # superscript alef U+0670) and Latin accents in transliterations ("Ibrāhīm").
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(text.split())


def name_tokens(text: str) -> list[str]:
    """The words of a normalized name; punctuation and hyphens separate words."""
    return _TOKEN.findall(normalize_arabic(text))


def _index_tokens(text: str) -> list[str]:
    """The name's words followed by the other spellings a searcher may use for them."""
    tokens = name_tokens(text)
    variants: list[str] = []
    for index, token in enumerate(tokens):
        if token in _COMPOUND_PREFIXES and index + 1 < len(tokens):
            variants.append(token + tokens[index + 1])
        for prefix in _COMPOUND_PREFIXES:
            rest = token[len(prefix):]
            if token.startswith(prefix) and rest.startswith(_ARTICLE) and len(rest) > len(_ARTICLE):
                variants += [prefix, rest]
        # "الخطيب" is also searched for as "خطيب"; "الله" keeps its article (too short a remainder).
        if token.startswith(_ARTICLE) and len(token) - len(_ARTICLE) >= 3:
            variants.append(token[len(_ARTICLE):])
    words = list(tokens)
    for variant in variants:
        if variant not in words:
            words.append(variant)
    return words


def search_key(text: str) -> str:
    """The string to store in an indexed column for LIKE searches.

    It starts with the normalized name and adds the other spellings of its words. Candidates for a
    query are rows where, for every token ``t`` of ``name_tokens(query)``, the key is
    ``LIKE 't%'`` or ``LIKE '% t%'`` (tokens hold only letters and digits, so no LIKE escaping);
    ``matches`` gives the exact answer.
    """
    return " ".join(_index_tokens(text))


def matches(query: str, name: str) -> bool:
    """True when every word of ``query`` starts some word of ``name`` (an empty query matches all)."""
    words = _index_tokens(name)
    return all(any(word.startswith(part) for word in words) for part in name_tokens(query))
