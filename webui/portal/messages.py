"""The portal's wording for the account services' error codes."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webui.messages import FIELD_ERRORS

ACCOUNT_ERRORS = {
    "invalid_mobile": _l("Enter a Palestinian mobile number, for example 0599 123 456 or 0569 123 456."),
    "password_too_short": _l("The password must have at least 8 characters."),
    "password_too_long": _l("The password must have at most 128 characters."),
    "password_too_weak": _l("This password is too easy to guess: do not use your ID or mobile number, or repeated "
                            "characters."),
    "passwords_differ": _l("The two passwords are not the same."),
    "code_format": _l("Enter the 6-digit code from the text message."),
}


def account_error(code: str) -> str:
    return str(ACCOUNT_ERRORS.get(code) or FIELD_ERRORS.get(code) or FIELD_ERRORS["invalid"])


def account_errors(errors: dict[str, list[str]]) -> dict[str, str]:
    """The first message for each field, in the page's language."""
    return {name: account_error(codes[0]) for name, codes in errors.items() if codes}


def wrong_credentials() -> str:
    return _("Wrong national ID or password. If you have just created your account, confirm your mobile first.")


def wrong_code() -> str:
    return _("This code is wrong or has expired. Check the text message, or ask for a new code.")


def too_many_attempts() -> str:
    return _("Too many attempts. Wait a few minutes and try again.")
