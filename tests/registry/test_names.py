"""Arabic name normalization and matching for registry search."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.names import matches, name_tokens, normalize_arabic, search_key


@pytest.mark.parametrize(("typed", "folded"), [
    ("أحمد", "احمد"),
    ("إبراهيم", "ابراهيم"),
    ("آمنة", "امنه"),
    ("ٱلله", "الله"),
    ("فاطمة", "فاطمه"),
    ("مصطفى", "مصطفي"),
    ("مؤمن", "مومن"),
    ("عائشة", "عايشه"),
    ("مُحَمَّدٌ", "محمد"),
    ("سُلَيْمَان", "سليمان"),
    ("هٰذا", "هذا"),
    ("محـــمد", "محمد"),
    ("  أحمد \t  محمود\n", "احمد محمود"),
    ("Ahmad ODEH", "ahmad odeh"),
    ("Ibrāhīm", "ibrahim"),
    ("Sa'id", "said"),
    ("\u200fأحمد\u200f", "احمد"),
    ("\ufef7", "لا"),  # lam-alef with hamza, a presentation-form ligature
    ("یحیی", "يحيي"),  # Persian yeh from some keyboards
    ("٢٠٢٦", "2026"),
])
def test_normalize_folds_what_people_type_differently(typed: str, folded: str) -> None:
    assert normalize_arabic(typed) == folded


@pytest.mark.parametrize(("query", "name"), [
    ("احمد", "أحمد محمود إبراهيم عودة"),
    ("فاطمه", "فاطمة يوسف مصطفى حمدان"),
    ("مصطفي", "فاطمة يوسف مصطفى حمدان"),
    ("ابراهيم", "أحمد محمود إبراهيم عودة"),
    ("امنه", "آمنة عبد الرحمن سليمان خليل"),
    ("يحيي", "يحيى سامي عيسى يعقوب"),
    ("عيسي يعقوب", "يحيى سامي عيسى يعقوب"),
    ("أَحْمَد", "احمد محمود"),
    ("مـحـمـد", "محمد أحمد"),
    ("احم عود", "أحمد محمود إبراهيم عودة"),  # partial words, as reception types them
    ("عودة احمد", "أحمد محمود إبراهيم عودة"),  # word order does not matter
    ("عبدالله", "إسماعيل يوسف عبد الله عمرو"),
    ("عبد الله", "إسماعيل يوسف عبدالله عمرو"),
    ("عبد الرحيم", "عبدالرحيم مصطفى الشريف"),
    ("شريف", "عبد الرحيم مصطفى إسماعيل الشريف"),
    ("ابو سنينه", "خديجة علي حسين أبو سنينة"),
    ("ابوسنينه", "خديجة علي حسين أبو سنينة"),
    ("ibrahim odeh", "Ahmad Mahmoud Ibrahim Odeh"),
    ("abd al-rahim", "Abd al-Rahim Mustafa Ismail al-Sharif"),
])
def test_query_finds_name(query: str, name: str) -> None:
    assert matches(query, name)


@pytest.mark.parametrize(("query", "name"), [
    ("محمود", "أحمد محمد عودة"),
    ("حمد", "أحمد محمود"),  # a word must start the name's word, not sit inside it
    ("احمد خليل", "أحمد محمود عودة"),  # every query word must be found
    ("فاطمة", "فاطم"),  # a query word longer than the name's word
])
def test_query_does_not_find_name(query: str, name: str) -> None:
    assert not matches(query, name)


def test_empty_query_matches_every_name() -> None:
    assert matches("", "أحمد")
    assert matches("  ـ ", "أحمد")


def test_name_tokens_split_on_spaces_and_punctuation() -> None:
    assert name_tokens("أبو-سنينة، خديجة (علي)") == ["ابو", "سنينه", "خديجه", "علي"]


def test_search_key_starts_with_normalized_name_and_adds_other_spellings() -> None:
    assert search_key("إسماعيل عبد الله الشريف") == "اسماعيل عبد الله الشريف عبدالله شريف"
    assert search_key("عبدالرحمن") == "عبدالرحمن عبد الرحمن"
    assert search_key("فاطمة") == "فاطمه"


def test_every_query_token_is_found_in_search_key_by_like_patterns() -> None:
    # What the database pre-filter does: 't%' or '% t%' per query token, on the stored key.
    key = search_key("آمنة عبد الرحمن سليمان خليل")
    for token in name_tokens("امنه عبدالرحمن خل"):
        assert key.startswith(token) or f" {token}" in key


arabic_text = st.text(
    alphabet=st.characters(min_codepoint=0x0600, max_codepoint=0x06FF) | st.sampled_from(" ـ"),
)


@given(arabic_text)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_arabic(text)
    assert normalize_arabic(once) == once


@given(arabic_text)
def test_every_name_matches_itself_and_its_normalized_form(text: str) -> None:
    assert matches(text, text)
    assert matches(normalize_arabic(text), text)
