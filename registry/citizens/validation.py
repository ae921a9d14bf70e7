"""What a sign-up must carry: a national ID with its check digit, a Palestinian mobile number, a usable password."""

from __future__ import annotations

import re
import unicodedata

from engine.forms import national_id_is_valid, normalize_national_id

__all__ = ["PASSWORD_MAX_LENGTH", "PASSWORD_MIN_LENGTH", "ascii_digits", "national_id_or_none",
           "normalize_mobile", "password_problem", "signup_problems"]

PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
#: Jawwal (059) and Ooredoo (056) mobiles, as dialled at home: ten digits.
_MOBILE = re.compile(r"05[69][0-9]{7}")
#: What people type around a number: spaces, dashes, dots, brackets and direction marks.
_DECORATION = re.compile(r"[\s\-.()\u200e\u200f]")
#: Country codes (Palestine 970, and 972 that many Palestinian mobiles are dialled with from abroad).
_COUNTRY_PREFIX = re.compile(r"^(?:\+|00)?(?:970|972)")


def ascii_digits(value: str) -> str:
    return "".join(str(unicodedata.decimal(c)) if unicodedata.decimal(c, None) is not None else c for c in value)


def normalize_mobile(value: str) -> str | None:
    """The mobile as 05XXXXXXXX (from +970 59..., 00972-56..., Arabic-Indic digits ...), or None if it is not one."""
    text = ascii_digits(_DECORATION.sub("", value or ""))
    if _COUNTRY_PREFIX.match(text):
        text = "0" + _COUNTRY_PREFIX.sub("", text).removeprefix("0")
    elif len(text) == 9 and text.startswith("5"):
        text = "0" + text
    return text if _MOBILE.fullmatch(text) else None


def national_id_or_none(value: str) -> str | None:
    """The ID as nine ASCII digits when its check digit is right, else None."""
    text = normalize_national_id(value or "")
    return text if national_id_is_valid(text) else None


def password_problem(password: str, *, national_id: str | None = None, mobile: str | None = None) -> str | None:
    """Why this password cannot be used (an error code), or None."""
    if not password:
        return "required"
    if len(password) < PASSWORD_MIN_LENGTH:
        return "password_too_short"
    if len(password) > PASSWORD_MAX_LENGTH:
        return "password_too_long"
    # A password someone can read off the ID card or the phone book is no secret.
    digits = ascii_digits(password)
    if len(set(password)) < 3 or digits in {national_id, mobile} or digits.isdigit() and len(set(digits)) < 4:
        return "password_too_weak"
    return None


def signup_problems(*, national_id: str, mobile: str, password: str,
                    password_again: str | None) -> dict[str, list[str]]:
    """Error codes by field for a sign-up form; empty when it can be used."""
    problems: dict[str, list[str]] = {}
    nid = national_id_or_none(national_id)
    if not (national_id or "").strip():
        problems["national_id"] = ["required"]
    elif nid is None:
        problems["national_id"] = ["invalid_national_id"]
    phone = normalize_mobile(mobile)
    if not (mobile or "").strip():
        problems["mobile"] = ["required"]
    elif phone is None:
        problems["mobile"] = ["invalid_mobile"]
    problem = password_problem(password, national_id=nid, mobile=phone)
    if problem:
        problems["password"] = [problem]
    elif password_again is not None and password_again != password:
        problems["password_again"] = ["passwords_differ"]
    return problems
