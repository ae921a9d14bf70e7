"""The administration pages' wording for refusals and field errors."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webui.messages import FIELD_ERRORS

ERRORS = {
    "username_format": _l("Use 3 to 64 lower-case letters, digits, dots, dashes or underscores, "
                          "starting with a letter."),
    "username_taken": _l("This username is already taken."),
    "unknown_choice": _l("Choose one of the listed options."),
    "directorate_required": _l("This role works in a directorate: choose one."),
    "no_directorate_for_role": _l("This role works for the whole ministry: leave the directorate empty."),
    "password_too_short": _l("Use at least 10 characters."),
    "password_mismatch": _l("The two passwords differ."),
    "password_unchanged": _l("Choose a password different from the current one."),
    "wrong_password": _l("This is not your current password."),
    "directorate_code_format": _l("Use 2 to 16 capital Latin letters."),
    "directorate_code_taken": _l("This code is already used by another directorate."),
    "partner_code_format": _l("Use 2 to 16 capital Latin letters, digits or dashes, starting with a letter."),
    "partner_code_taken": _l("This code is already used by another organisation."),
    "client_id_format": _l("Use 2 to 64 lower-case Latin letters, digits, dots, dashes or underscores, "
                           "starting with a letter."),
    "client_id_taken": _l("This client id is already registered."),
    "callback_url_format": _l("Use an address that starts with https:// or http://."),
    "callback_token_format": _l("Paste the token as one word of at most 500 characters."),
    "public_key_invalid": _l("Paste a PEM Ed25519 or RSA public key."),
}

REFUSALS = {
    "self": _l("You cannot deactivate your own account, reset your own password here or change your own role "
               "or directorate: ask another administrator."),
    "last_admin": _l("This is the last active administrator: make another administrator first."),
    "partner_inactive": _l("This organisation is deactivated: reactivate it first."),
    "partner_account": _l("A partner's account belongs to its organisation: it has no staff role or directorate."),
    "directorate_in_use": _l("This directorate has staff, cases or other records, so it cannot be deleted."),
}


def field_messages(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    return {field: [str(ERRORS.get(code) or FIELD_ERRORS.get(code) or FIELD_ERRORS["invalid"]) for code in codes]
            for field, codes in errors.items()}


def refusal(code: str) -> str:
    return str(REFUSALS.get(code, FIELD_ERRORS["invalid"]))
