"""User-facing wording for error codes from the validator, checks and services."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

FIELD_ERRORS = {
    "required": _l("This field is required."),
    "must_confirm": _l("Please confirm this before submitting."),
    "invalid_integer": _l("Enter a whole number."),
    "invalid_number": _l("Enter a number."),
    "invalid_date": _l("Enter a valid date (YYYY-MM-DD)."),
    "date_in_past": _l("Choose a date from today on."),
    "date_too_far": _l("Choose a date within a year."),
    "invalid_boolean": _l("Choose yes or no."),
    "invalid_choice": _l("Choose one of the listed options."),
    "invalid_multichoice": _l("Choose from the listed options."),
    "invalid_national_id": _l("This is not a valid national ID number (9 digits with a check digit)."),
    "invalid_phone": _l("Enter a phone number of 7 to 15 digits."),
    "invalid_text": _l("Enter text."),
    "invalid_textarea": _l("Enter text."),
    "invalid_group": _l("Enter the rows of this list."),
    "invalid_file": _l("Attach a file."),
    "file_too_large": _l("The file is larger than 10 MB."),
    "file_empty": _l("The file is empty or too small to be a document."),
    "invalid_file_type": _l("Only PDF documents and JPEG or PNG images can be attached."),
    "file_damaged": _l("The file is damaged or incomplete. Save it again and attach the new copy."),
    "not_requested": _l("A file is attached for a document that was not requested: "
                        "attach it to one of the requested documents."),
    "too_long": _l("This text is too long."),
    "too_large": _l("This number is too large."),
    "out_of_range": _l("This value is outside the allowed range."),
    "too_few_items": _l("Add at least one row."),
    "too_many_items": _l("This list has more rows than allowed."),
    "not_reassignable": _l("Only an open case that has a case manager can be reassigned."),
    "ends_before_start": _l("The end date must not be before the start date."),
    "not_your_directorate": _l("Choose your own directorate only."),
    "invalid": _l("This value is not valid."),
    "invalid_type": _l("The submission is not in the expected format."),
    "unknown_field": _l("This field is not part of the request."),
    "one_head_required": _l("Exactly one member must be the head of household."),
    "duplicate_in_household": _l("This person is listed twice."),
    "applicant_not_member": _l("The applicant must be listed among the household members."),
    "correction_reason_required": _l("You changed data held by another ministry: give the reason."),
    "unknown_version": _l("There is no such version of the process."),
    "not_newer": _l("Cases can only move to a newer version."),
    "cases_or_version": _l("Choose the cases to move, or a version whose cases all move."),
}

PARAMETRIZED = {
    "already_registered": _l("This person already belongs to another household (%(where)s)."),
    "open_case_exists": _l("This applicant already has an open case (%(where)s)."),
}


def field_error(code: str) -> str:
    """Translate one error code; codes may carry a parameter after a colon."""
    name, _sep, param = code.partition(":")
    if name in PARAMETRIZED:
        where = param if param != "another directorate" else _("in another directorate")
        return str(PARAMETRIZED[name]) % {"where": where}
    return str(FIELD_ERRORS.get(name, FIELD_ERRORS["invalid"]))


def translate_errors(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    return {field: [field_error(code) for code in codes] for field, codes in errors.items()}
